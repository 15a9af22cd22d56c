"""The simulated USSD centre: one dialogue per handset, spoken in the service's configured dialect.

``UssdDialect`` describes a centre from the service's side; this module reads it from the other side. What
the dialect calls inbound (``begin_ops``, ``continue_ops``, ``abort_ops``) is what we send; what it calls a
reply (``continue_op``, ``close_op`` under its ``close_strategy``) is what we expect back. We send only the
identifiers the dialect keys dialogues by (its_session_info, user_message_reference) and find the dialogue
of a reply by that same key, so a service that keys dialogues wrongly fails here as it would in the field.

A submit_sm with the dialect's ``ussn_op`` is a network-initiated notification (USSN): it names no dialogue
and is shown on the handset at once, without an answer. A real handset holds one USSD transaction at a
time and keeps nothing for later, so the push is refused (ESME_RSUBMITFAIL) while the handset is in a
dialogue or no phone is attached to it, as it is when the dialect has no ``ussn_op`` at all.

A menu waits ``screen_timeout_seconds`` for the subscriber; a whole dialogue lasts at most
``dialogue_timeout_seconds``. Either timeout aborts it towards the service the way the dialect can say so:
an abort op code, else the end bit of its_session_info, else silently (the service's own timer ends it).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass

import smpp34
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from ..gateway.smpp import Answer, MessageResp, Pdu, Status
from ..gateway.sms import UCS2, SmsDecodeError, decode, fits_gsm
from ..gateway.sms.encoding import USSD_GSM, encode_as
from ..gateway.ussd import CloseStrategy, DialogueKey, SessionInfo
from ..gateway.ussd.session_info import has_end_bit
from .config import UssdConfig
from .handsets import Handsets, UssdEnded, UssdScreen, normalise

log = Logger()

ESME_RINVMSGLEN = 0x01
ESME_RSUBMITFAIL = 0x45
ESME_RMISSINGOPTPARAM = 0xC3
ESME_RINVOPTPARAMVAL = 0xC4
MAX_GSM_OCTETS = 182  # unpacked septets of one 160-octet USSD string
MAX_UCS2_OCTETS = 160
_USSD_STRING = re.compile(r"[*#]\d+(?:\*[0-9+]+)*#")

SendToService = Callable[[Pdu], Deferred[MessageResp]]


class UssdError(Exception):
    """A handset asked for something the network refuses (busy, nothing to answer, not a USSD string)."""


@dataclass(slots=True)
class _Dialogue:
    msisdn: str
    service_code: str
    session: int
    reference: int
    dialogue_deadline: float
    sequence: int = 0
    waiting_for_user: bool = False
    timer: IDelayedCall | None = None


class UssdCentre:
    def __init__(self, config: UssdConfig, handsets: Handsets, clock: IReactorTime, send: SendToService) -> None:
        self._config = config
        self._dialect = config.dialect
        self._handsets = handsets
        self._clock = clock
        self._send = send
        self._dialogues: dict[str, _Dialogue] = {}
        self._sessions = itertools.count(1)
        self._message_ids = itertools.count(1)

    def open_dialogue(self, msisdn: str) -> bool:
        return normalise(msisdn) in self._dialogues

    # -- the handset's side ---------------------------------------------------------------------------------------

    def dial(self, msisdn: str, dialled: str) -> None:
        """Open a dialogue with ``*123*...#``; raises UssdError. The screen comes later, as an event."""
        msisdn = normalise(msisdn)
        dialled = dialled.strip()
        if not _USSD_STRING.fullmatch(dialled):
            raise UssdError(f"{dialled!r} is not a USSD string like *123# or *123*447700900456#")
        if msisdn in self._dialogues:
            raise UssdError("a USSD dialogue is already open: answer it or release it first")
        number = next(self._sessions)
        dialogue = _Dialogue(msisdn, dialled[1:-1].split("*")[0], number % 0x100, number % 0x10000,
                             self._clock.seconds() + self._config.dialogue_timeout_seconds)
        self._dialogues[msisdn] = dialogue
        self._arm(dialogue)
        self._deliver(dialogue, self._dialect.begin_ops[0], dialled)

    def answer(self, msisdn: str, text: str) -> None:
        """The subscriber's answer to the menu on screen; raises UssdError when none waits for one."""
        dialogue = self._dialogues.get(normalise(msisdn))
        if dialogue is None or not dialogue.waiting_for_user:
            raise UssdError("no USSD menu is waiting for an answer")
        dialogue.waiting_for_user = False
        self._arm(dialogue)
        self._deliver(dialogue, self._dialect.continue_ops[0], text)

    def release(self, msisdn: str, reason: str = "released") -> None:
        """The subscriber pressed cancel (or the phone went away): abort towards the service."""
        dialogue = self._dialogues.get(normalise(msisdn))
        if dialogue is not None:
            self._abort(dialogue, reason)

    # -- the service's side ---------------------------------------------------------------------------------------

    def submit(self, pdu: smpp34.SubmitSm, origin: str) -> Answer:
        """A reply from the service: a menu (keeps the dialogue open) or a final text (closes it)."""
        tlvs = {tlv.tag: tlv.value for tlv in pdu.tlvs}
        op = tlvs[smpp34.TLV_USSD_SERVICE_OP][0] if tlvs[smpp34.TLV_USSD_SERVICE_OP] else -1
        if op == self._dialect.ussn_op:
            return self._push(pdu, tlvs)
        info = tlvs.get(smpp34.TLV_ITS_SESSION_INFO)
        if info is not None and len(info) != 2:
            return Answer(ESME_RINVOPTPARAMVAL)
        dialogue = self._dialogues.get(normalise(pdu.destination_addr))
        status = self._check_key(dialogue, info, tlvs.get(smpp34.TLV_USER_MESSAGE_REFERENCE))
        if status is not None:
            return Answer(status)
        assert dialogue is not None
        close = self._closes(op, info)
        if close is None:
            log.warn("simnet: USSD reply with op {op:#04x} outside the dialect", op=op)
            return Answer(ESME_RINVOPTPARAMVAL)
        text = _text(pdu, tlvs)
        if isinstance(text, Answer):
            return text
        dialogue.sequence += 1
        handset = self._handsets.get(dialogue.msisdn)
        if close:
            self._end(dialogue)
            handset.notify(UssdScreen(text, open=False))
        else:
            dialogue.waiting_for_user = True
            self._arm(dialogue)
            handset.notify(UssdScreen(text, open=True))
        return Answer(Status.ROK, f"U{next(self._message_ids):07X}")

    def _push(self, pdu: smpp34.SubmitSm, tlvs: dict[int, bytes]) -> Answer:
        """A USSN: on the handset's screen now, or refused; it never waits for a better moment."""
        if smpp34.TLV_ITS_SESSION_INFO in tlvs or smpp34.TLV_USER_MESSAGE_REFERENCE in tlvs:
            return Answer(ESME_RINVOPTPARAMVAL)  # a push opens its own transaction: it names no dialogue
        msisdn = normalise(pdu.destination_addr)
        if msisdn in self._dialogues or not self._handsets.attached(msisdn):
            return Answer(ESME_RSUBMITFAIL)  # busy in a dialogue, or switched off
        text = _text(pdu, tlvs)
        if isinstance(text, Answer):
            return text
        self._handsets.get(msisdn).notify(UssdScreen(text, open=False))
        return Answer(Status.ROK, f"U{next(self._message_ids):07X}")

    def _check_key(self, dialogue: _Dialogue | None, info: bytes | None, reference: bytes | None) -> int | None:
        """None when the reply names ``dialogue`` the way the dialect keys it, else the status to refuse with."""
        if dialogue is None:
            return ESME_RSUBMITFAIL  # no dialogue with that handset (never opened, ended, timed out)
        key = self._dialect.dialogue_key
        if key is DialogueKey.ITS_SESSION_INFO:
            if info is None:
                return ESME_RMISSINGOPTPARAM
            return None if info[0] == dialogue.session else ESME_RSUBMITFAIL
        if key is DialogueKey.USER_MESSAGE_REFERENCE:
            if reference is None:
                return ESME_RMISSINGOPTPARAM
            return None if int.from_bytes(reference, "big") == dialogue.reference else ESME_RSUBMITFAIL
        return None

    def _closes(self, op: int, info: bytes | None) -> bool | None:
        """Whether a reply ends the dialogue under the dialect's close strategy; None for an op it lacks."""
        dialect = self._dialect
        end_bit = info is not None and has_end_bit(info)
        if dialect.close_strategy is CloseStrategy.END_BIT:
            return end_bit if op in (dialect.continue_op, dialect.close_op) else None
        if op == dialect.close_op:
            return True
        return end_bit if op == dialect.continue_op else None

    # -- shared -----------------------------------------------------------------------------------------------

    def _deliver(self, dialogue: _Dialogue, op: int, text: str, *, end: bool = False) -> None:
        """Send one deliver_sm to the service; a refusal or no bind ends the dialogue as a real centre would."""
        msisdn = dialogue.msisdn

        def refused(failure: Failure) -> None:
            log.info("simnet: USSD deliver_sm for a dialogue not taken: {error}", error=str(failure.value))
            if self._dialogues.get(msisdn) is dialogue:
                self._end(dialogue)
                self._handsets.get(msisdn).notify(UssdEnded("unavailable"))

        pdu = self._indication(dialogue, op, text, end)
        dialogue.sequence += 1
        sending = self._send(pdu)
        if not end:
            sending.addErrback(refused)
        else:
            sending.addErrback(lambda failure: None)  # an abort nobody took: the dialogue is gone either way

    def _indication(self, dialogue: _Dialogue, op: int, text: str, end: bool) -> smpp34.DeliverSm:
        tlvs = [smpp34.Tlv(smpp34.TLV_USSD_SERVICE_OP, bytes([op]))]
        if self._dialect.needs_session_info:
            info = SessionInfo(dialogue.session, dialogue.sequence & 0x7F, end)
            tlvs.append(smpp34.Tlv(smpp34.TLV_ITS_SESSION_INFO, info.encode()))
        if self._dialect.dialogue_key is DialogueKey.USER_MESSAGE_REFERENCE:
            tlvs.append(smpp34.Tlv(smpp34.TLV_USER_MESSAGE_REFERENCE, dialogue.reference.to_bytes(2, "big")))
        data_coding = USSD_GSM if fits_gsm(text) else UCS2
        return smpp34.DeliverSm(
            dialogue.msisdn,
            dialogue.service_code,
            encode_as(text, 0x00 if data_coding == USSD_GSM else UCS2),
            service_type="USSD",
            source_addr_ton=1,
            source_addr_npi=1,
            data_coding=data_coding,
            tlvs=tlvs,
        )

    def _abort(self, dialogue: _Dialogue, reason: str) -> None:
        """End the dialogue and tell the service, with the abort op or the end bit when the dialect has one."""
        self._end(dialogue)
        dialect = self._dialect
        if dialect.abort_ops:
            self._deliver(dialogue, dialect.abort_ops[0], "", end=True)
        elif dialect.needs_session_info and dialect.inbound_end_bit_aborts:
            self._deliver(dialogue, dialect.continue_ops[0], "", end=True)
        self._handsets.get(dialogue.msisdn).notify(UssdEnded(reason))

    def _arm(self, dialogue: _Dialogue) -> None:
        """(Re)start the dialogue's one timer: the nearer of its screen and dialogue deadlines."""
        now = self._clock.seconds()
        deadline = dialogue.dialogue_deadline
        if dialogue.waiting_for_user:
            deadline = min(deadline, now + self._config.screen_timeout_seconds)
        if dialogue.timer is not None and dialogue.timer.active():
            dialogue.timer.cancel()
        dialogue.timer = self._clock.callLater(max(0.0, deadline - now), self._abort, dialogue, "timeout")

    def _end(self, dialogue: _Dialogue) -> None:
        if self._dialogues.get(dialogue.msisdn) is dialogue:
            del self._dialogues[dialogue.msisdn]
        if dialogue.timer is not None and dialogue.timer.active():
            dialogue.timer.cancel()
        dialogue.timer = None

    def stop(self) -> None:
        """Drop every dialogue without a word to the service (it is going away with us)."""
        for dialogue in list(self._dialogues.values()):
            self._end(dialogue)


def _text(pdu: smpp34.SubmitSm, tlvs: dict[int, bytes]) -> str | Answer:
    """The text of one USSD string, or the refusal of a text too long for one or not decodable."""
    payload = pdu.short_message or tlvs.get(smpp34.TLV_MESSAGE_PAYLOAD, b"")
    limit = MAX_UCS2_OCTETS if pdu.data_coding == UCS2 else MAX_GSM_OCTETS
    if len(payload) > limit:
        return Answer(ESME_RINVMSGLEN)
    try:
        return decode(payload, pdu.data_coding)
    except SmsDecodeError as exc:
        log.warn("simnet: USSD text refused: {error}", error=str(exc))
        return Answer(ESME_RSUBMITFAIL)
