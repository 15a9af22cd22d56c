"""The SMS ``Notifier``: a notice from the outbox becomes one or more submit_sm on an SMPP link.

The outbox retries whatever raises, so the only decision here is what kind of failure it was. Throttling,
a full queue, a timeout or a lost bind are temporary (``TemporarySendError``): the same text will go
through later. A refused destination or a malformed request will not (``PermanentSendError``): the outbox
should mark the notice failed at once instead of spending its attempts. Only the first part asks for a
delivery receipt and its message id is returned, so one receipt updates one notice. When one part of a
long text fails, the retry sends every part again: a repeated part beats a text with a hole in it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import smpp34
from twisted.internet.defer import Deferred, FirstError, gatherResults

from ...core.model import Notice
from ...core.ports import NoticeUndeliverable
from ..smpp import FailureReason, MessageResp, Pdu, SmppRequestError, Status
from ..sms import ConcatMode, Part, segment

Submit = Callable[[Pdu], Deferred[MessageResp]]

TEMPORARY_STATUSES = frozenset({Status.RTHROTTLED, Status.RMSGQFUL, Status.RX_T_APPN, Status.RSYSERR,
                                Status.RBINDFAIL})
_TEMPORARY_REASONS = frozenset({FailureReason.TIMEOUT, FailureReason.CONNECTION_LOST, FailureReason.NOT_SENT})


class TemporarySendError(Exception):
    """Try again later: the network may well take the same text then."""


class PermanentSendError(NoticeUndeliverable):
    """Retrying will not help (bad destination, refused content): mark the notice failed."""


@dataclass(frozen=True, slots=True)
class SmsSender:
    """The service's own address on outgoing SMS (a short code or an alphanumeric name)."""

    source_addr: str = ""
    source_ton: int = 0
    source_npi: int = 0


class SmppNotifier:
    def __init__(self, submit: Submit, sender: SmsSender, *, concat: ConcatMode = ConcatMode.UDH) -> None:
        self._submit = submit
        self._sender = sender
        self._concat = concat
        self._references = itertools.count(1)
        self.sent_parts = 0

    async def send(self, notice: Notice) -> str:
        parts = segment(notice.text, next(self._references), mode=self._concat)
        pdus = [self._pdu(notice.msisdn, part, receipt=index == 0) for index, part in enumerate(parts)]
        try:
            responses = await gatherResults([self._submit(pdu) for pdu in pdus], consumeErrors=True)
        except FirstError as error:
            raise classify(error.subFailure.value) from None
        self.sent_parts += len(pdus)
        return responses[0].message_id

    def _pdu(self, msisdn: str, part: Part, *, receipt: bool) -> smpp34.SubmitSm:
        international = msisdn.startswith("+")
        tlvs = []
        if part.sar is not None:
            tlvs = [smpp34.Tlv(smpp34.TLV_SAR_MSG_REF_NUM, part.sar.reference.to_bytes(2, "big")),
                    smpp34.Tlv(smpp34.TLV_SAR_TOTAL_SEGMENTS, bytes([part.sar.total])),
                    smpp34.Tlv(smpp34.TLV_SAR_SEGMENT_SEQNUM, bytes([part.sar.seqnum]))]
        return smpp34.SubmitSm(
            self._sender.source_addr, msisdn.removeprefix("+"), part.short_message,
            source_addr_ton=self._sender.source_ton, source_addr_npi=self._sender.source_npi,
            dest_addr_ton=1 if international else 0, dest_addr_npi=1,
            esm_class=0x40 if part.esm_class_udhi else 0, registered_delivery=1 if receipt else 0,
            data_coding=part.data_coding, tlvs=tlvs,
        )


def classify(error: BaseException) -> Exception:
    """What a failed submit means for the outbox."""
    if isinstance(error, SmppRequestError):
        if error.reason in _TEMPORARY_REASONS or error.status in TEMPORARY_STATUSES:
            return TemporarySendError(str(error))
        return PermanentSendError(str(error))
    return TemporarySendError(f"{type(error).__name__}: {error}")

