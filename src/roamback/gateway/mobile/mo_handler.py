"""What arrives on an SMSC link: USSD indications, delivery receipts and subscribers' SMS.

The deliver_sm_resp status is the only promise the SMSC gets, so it is given only once the message is
safe: ESME_ROK after the MO row is committed (or recognised as a resend of one), ESME_RX_T_APPN when the
write failed so the SMSC delivers again. The command then runs after the acknowledgement, off the
link's critical path; a crash in between leaves the row queued and ``resume`` runs it at the next start.

Known limit: the parts of a long SMS are held in memory until the last one arrives, and each part is
acknowledged as it comes, so a crash (or a failed write of the whole message) loses a message whose
parts were acknowledged. Storing parts would close that; single-part commands are the common case.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import smpp34
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from ...core.ports import Runtime
from ...storage.inbound import InboundRow, InboundStore, Received
from ...storage.outbox import OutboxStore
from ..smpp import DataSm, Pdu, Status
from ..sms import ConcatInfo, Reassembler, SmsDecodeError, UdhError
from .receipts import is_receipt, parse_receipt
from .sms_commands import SmsCommands

log = Logger()

ESME_RX_P_APPN = 0x65  # permanent application error: this link delivers something we do not serve
ESME_RINVCMDID = 0x03
UDHI = 0x40
INTERNATIONAL = 1


@dataclass(frozen=True, slots=True)
class Inbound:
    """The fields of a deliver_sm or data_sm that the service reads, whichever PDU carried them."""

    source: str
    destination: str
    esm_class: int
    data_coding: int
    payload: bytes
    tlvs: dict[int, bytes]
    service_type: str = ""


class UssdHandler(Protocol):
    def handle(self, message: Inbound, origin: str) -> int: ...


class MoHandler:
    """The ``RequestHandler`` of every SMSC/USSDC link."""

    def __init__(
        self,
        *,
        inbound: InboundStore,
        outbox: OutboxStore,
        commands: SmsCommands,
        runtime: Runtime,
        clock: IReactorTime,
        reassembler: Reassembler | None = None,
        ussd: UssdHandler | None = None,
    ) -> None:
        self.inbound = inbound
        self._outbox = outbox
        self._commands = commands
        self._runtime = runtime
        self._clock = clock
        self._reassembler = reassembler or Reassembler()
        self.ussd = ussd
        self.processed = 0

    def handle_request(self, pdu: Pdu, origin: str) -> Any:
        message = inbound_fields(pdu)
        if message is None:
            return ESME_RINVCMDID
        if smpp34.TLV_USSD_SERVICE_OP in message.tlvs:
            if self.ussd is None:
                log.warn("USSD indication on link {link}, which serves no USSD", link=origin)
                return ESME_RX_P_APPN
            return self.ussd.handle(message, origin)
        if is_receipt(message.esm_class):
            return self._receipt(message)
        return self._mobile_originated(message, origin)

    async def _receipt(self, message: Inbound) -> int:
        receipt = parse_receipt(message.payload.decode("latin-1"), message.tlvs)
        if receipt is None:
            log.warn("delivery receipt without a message id from {source}", source=message.source)
            return Status.ROK
        try:
            matched = await self._outbox.apply_receipt(receipt.id_spellings(), receipt.state, receipt.delivered,
                                                       self._runtime.now())
        except Exception:
            log.failure("storing a delivery receipt failed; the SMSC will send it again")
            return Status.RX_T_APPN
        if not matched:
            log.debug("receipt {id} ({state}) matches no sent notice", id=receipt.message_id, state=receipt.state)
        return Status.ROK

    async def _mobile_originated(self, message: Inbound, origin: str) -> int:
        text = self._reassemble(message)
        if text is None:
            return Status.ROK  # a part of a longer message; the rest is on its way
        received = Received(origin, message.source, message.destination, text, message.data_coding)
        try:
            accepted = await self.inbound.accept(received, self._runtime.now())
        except Exception:
            log.failure("storing an MO message failed; answering ESME_RX_T_APPN so the SMSC retries")
            return Status.RX_T_APPN
        if not accepted.duplicate:
            self._runtime.spawn(self.process(accepted.row))
        return Status.ROK

    def _reassemble(self, message: Inbound) -> str | None:
        """The whole text, None while parts are missing; an unreadable message becomes "" (answered with
        HELP), because a retry by the SMSC would bring the same bytes."""
        try:
            return self._reassembler.receive(message.source, message.payload, message.data_coding,
                                             self._clock.seconds(), udhi=bool(message.esm_class & UDHI),
                                             sar=_sar(message.tlvs))
        except (UdhError, SmsDecodeError) as exc:
            log.warn("unreadable MO from {source}: {error}", source=message.source, error=str(exc))
            return ""

    async def process(self, row: InboundRow) -> None:
        """Run the command of a stored message and commit its replies with the handled mark."""
        try:
            outcome = await self._commands.run(row)
            await self.inbound.complete(row.id, outcome.replies, self._runtime.now(), also=outcome.in_commit)
        except Exception as exc:
            log.failure("MO message {id} could not be handled", id=row.id)
            await self.inbound.fail(row.id, f"{type(exc).__name__}: {exc}", self._runtime.now())
            return
        self.processed += 1

    async def resume(self) -> int:
        """Run the messages a previous process acknowledged but did not handle; returns how many."""
        done = last = 0
        while rows := await self.inbound.queued(after_id=last):
            for row in rows:
                await self.process(row)
            done += len(rows)
            last = rows[-1].id
        return done


def inbound_fields(pdu: Pdu) -> Inbound | None:
    """None for a PDU an ESME is never sent (the session answers those itself; this is a safety net)."""
    if isinstance(pdu, smpp34.DeliverSm):
        payload = pdu.short_message
    elif isinstance(pdu, DataSm):
        payload = b""
    else:
        return None
    tlvs = {tlv.tag: tlv.value for tlv in pdu.tlvs}
    payload = payload or tlvs.get(smpp34.TLV_MESSAGE_PAYLOAD, b"")
    source = pdu.source_addr
    if pdu.source_addr_ton == INTERNATIONAL and source and not source.startswith("+"):
        source = "+" + source
    return Inbound(source, pdu.destination_addr, pdu.esm_class, pdu.data_coding, payload, tlvs, pdu.service_type)


def _sar(tlvs: dict[int, bytes]) -> ConcatInfo | None:
    """The SAR TLVs of a part; most messages have none, so that case must not cost an exception."""
    reference = tlvs.get(smpp34.TLV_SAR_MSG_REF_NUM)
    total = tlvs.get(smpp34.TLV_SAR_TOTAL_SEGMENTS)
    seqnum = tlvs.get(smpp34.TLV_SAR_SEGMENT_SEQNUM)
    if reference is None or total is None or seqnum is None:
        return None
    return ConcatInfo(int.from_bytes(reference, "big"), total[0], seqnum[0])
