"""The simulated SMSC: MT SMS from the service into handset inboxes, receipts back, MO SMS to the service.

Outcomes are chosen by the configured rules on the destination number, so every error path of the service
(refused submit, throttling, undeliverable, expired) can be shown on demand. Long MT texts are put back
together from their parts (UDH or SAR) before they reach the inbox, as a handset would; each part still gets
its own message id and receipt, as real SMSCs do.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import smpp34
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from ..gateway.smpp import Answer, Status
from ..gateway.sms import ConcatInfo, Reassembler, SmsDecodeError, UdhError, decode, segment, split_concat
from .config import Outcome, SmsConfig, SmsRule
from .delivery import DeliveryResult, Redelivery
from .handsets import Handsets, SmsRetrying, SmsSent, normalise

log = Logger()

ESM_UDHI = 0x40
ESM_RECEIPT = 0x04
ESME_RSUBMITFAIL = 0x45
TON_INTERNATIONAL = NPI_ISDN = 1

_STATES = {  # outcome -> (stat: text, message_state TLV value)
    Outcome.DELIVERED: ("DELIVRD", 2),
    Outcome.EXPIRED: ("EXPIRED", 3),
    Outcome.UNDELIVERABLE: ("UNDELIV", 5),
}


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a delivery receipt reports about one submitted part."""

    message_id: str
    outcome: Outcome
    error: int
    submitted_at: float
    done_at: float
    text: str


def receipt_pdu(receipt: Receipt, submitted: smpp34.SubmitSm) -> smpp34.DeliverSm:
    """The deliver_sm an SMSC sends back for a part: the SMPP 3.4 Appendix B text plus the two TLVs."""
    stat, state = _STATES[receipt.outcome]
    delivered = 1 if receipt.outcome is Outcome.DELIVERED else 0
    error = 0 if delivered else receipt.error
    text = (
        f"id:{receipt.message_id} sub:001 dlvrd:{delivered:03d} submit date:{_stamp(receipt.submitted_at)} "
        f"done date:{_stamp(receipt.done_at)} stat:{stat} err:{error:03d} text:{receipt.text[:20]}"
    )
    return smpp34.DeliverSm(
        submitted.destination_addr,
        submitted.source_addr,
        text.encode("ascii", "replace"),
        source_addr_ton=submitted.dest_addr_ton,
        source_addr_npi=submitted.dest_addr_npi,
        dest_addr_ton=submitted.source_addr_ton,
        dest_addr_npi=submitted.source_addr_npi,
        esm_class=ESM_RECEIPT,
        tlvs=[
            smpp34.Tlv(smpp34.TLV_RECEIPTED_MESSAGE_ID, receipt.message_id.encode("ascii") + b"\0"),
            smpp34.Tlv(smpp34.TLV_MESSAGE_STATE, bytes([state])),
        ],
    )


def _stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%y%m%d%H%M")


class SmsCentre:
    def __init__(self, config: SmsConfig, handsets: Handsets, clock: IReactorTime, redelivery: Redelivery) -> None:
        self._config = config
        self._handsets = handsets
        self._clock = clock
        self._redelivery = redelivery
        self._rules = [(re.compile(rule.match), rule) for rule in config.rules]
        self._reassembler = Reassembler(timeout=300.0)
        self._message_ids = itertools.count(1)
        self._references = itertools.count(1)
        self._receipts: set[IDelayedCall] = set()
        self._second = -1
        self._submits_this_second = 0

    # -- MT: the service submits -------------------------------------------------------------------------------

    def submit(self, pdu: smpp34.SubmitSm, origin: str) -> Answer:
        """Answer one submit_sm: refused by a rule or the rate cap, or accepted with a message id."""
        if self._over_rate():
            return Answer(Status.RTHROTTLED)
        rule = self._rule_for(pdu.destination_addr)
        if rule is not None and rule.outcome is Outcome.REJECT:
            return Answer(rule.status)
        outcome = Outcome.DELIVERED if rule is None else rule.outcome
        now = self._clock.seconds()
        payload = _payload(pdu)
        try:
            text = self._reassembler.receive(
                f"{pdu.source_addr}>{normalise(pdu.destination_addr)}",
                payload,
                pdu.data_coding,
                now,
                udhi=bool(pdu.esm_class & ESM_UDHI),
                sar=_sar(pdu),
            )
        except (SmsDecodeError, UdhError) as exc:
            log.warn("simnet: submit_sm to {to} refused: {error}", to=pdu.destination_addr, error=str(exc))
            return Answer(ESME_RSUBMITFAIL)
        if text is not None and outcome is Outcome.DELIVERED:
            self._handsets.store(pdu.destination_addr, pdu.source_addr, text, now)
        message_id = f"{next(self._message_ids):08X}"
        if self._wants_receipt(pdu.registered_delivery, outcome):
            part_text = _part_text(payload, pdu)
            receipt = Receipt(message_id, outcome, 0 if rule is None else rule.error, now, now, part_text)
            self._schedule_receipt(receipt, pdu, origin)
        return Answer(Status.ROK, message_id)

    def _over_rate(self) -> bool:
        cap = self._config.max_submits_per_second
        if cap is None:
            return False
        second = math.floor(self._clock.seconds())
        if second != self._second:
            self._second, self._submits_this_second = second, 0
        self._submits_this_second += 1
        return self._submits_this_second > cap

    def _rule_for(self, destination: str) -> SmsRule | None:
        return next((rule for pattern, rule in self._rules if pattern.search(destination)), None)

    @staticmethod
    def _wants_receipt(registered_delivery: int, outcome: Outcome) -> bool:
        wanted = registered_delivery & 0x03  # 1: on success and failure, 2: on failure only
        return wanted == 1 or (wanted == 2 and outcome is not Outcome.DELIVERED)

    def _schedule_receipt(self, receipt: Receipt, submitted: smpp34.SubmitSm, origin: str) -> None:
        def send() -> None:
            self._receipts.discard(call)
            done = Receipt(receipt.message_id, receipt.outcome, receipt.error, receipt.submitted_at,
                           self._clock.seconds(), receipt.text)
            self._redelivery.send(origin, receipt_pdu(done, submitted))

        call = self._clock.callLater(self._config.receipt_delay_seconds, send)
        self._receipts.add(call)

    # -- MO: a handset sends ------------------------------------------------------------------------------------

    def send_mo(self, msisdn: str, to: str, text: str) -> int:
        """Queue an SMS from a handset to the service; returns the reference its ``SmsSent`` will carry.

        Raises MessageTooLong. Parts go one after the other, each retried until taken or given up.
        """
        reference = next(self._references)
        parts = segment(text, reference)
        handset = self._handsets.get(msisdn)
        pdus = [
            smpp34.DeliverSm(
                handset.msisdn,
                to,
                part.short_message,
                source_addr_ton=TON_INTERNATIONAL,
                source_addr_npi=NPI_ISDN,
                esm_class=ESM_UDHI if part.esm_class_udhi else 0,
                data_coding=part.data_coding,
            )
            for part in parts
        ]

        def retrying(attempt: int, status: int | None, delay: float) -> None:
            handset.notify(SmsRetrying(reference, attempt, status, delay))

        def next_part(result: DeliveryResult | None, index: int) -> None:
            if result is not None and (not result.ok or index == len(pdus)):
                handset.notify(SmsSent(reference, result.ok, result.attempts, result.status))
                return
            sending = self._redelivery.send(self._config.deliver_to, pdus[index], retrying)
            sending.addCallback(next_part, index + 1)

        next_part(None, 0)
        return reference

    def stop(self) -> None:
        for call in list(self._receipts):
            call.cancel()
        self._receipts.clear()


def _payload(pdu: smpp34.SubmitSm) -> bytes:
    """short_message, or message_payload when the service sent the text in the TLV instead."""
    if pdu.short_message:
        return pdu.short_message
    return next((tlv.value for tlv in pdu.tlvs if tlv.tag == smpp34.TLV_MESSAGE_PAYLOAD), b"")


def _sar(pdu: smpp34.SubmitSm) -> ConcatInfo | None:
    tlvs = {tlv.tag: int.from_bytes(tlv.value, "big") for tlv in pdu.tlvs}
    keys = (smpp34.TLV_SAR_MSG_REF_NUM, smpp34.TLV_SAR_TOTAL_SEGMENTS, smpp34.TLV_SAR_SEGMENT_SEQNUM)
    if not all(key in tlvs for key in keys):
        return None
    return ConcatInfo(*(tlvs[key] for key in keys))


def _part_text(payload: bytes, pdu: smpp34.SubmitSm) -> str:
    """The start of a part's own text for the receipt's ``text:`` field; empty when it does not decode."""
    try:
        body, _ = split_concat(payload, udhi=bool(pdu.esm_class & ESM_UDHI))
        return decode(body, pdu.data_coding)
    except (SmsDecodeError, UdhError):
        return ""
