"""One log line per Diameter request or answer, for operators reading an incident.

Command, direction, peer, Session-Id, the identifiers a tshark capture shows, the request type and number
of credit control and the result code. Subscription-Id and anything else that may hold a phone number go
through ``mask_msisdn`` here, not only in the log observer, because trace lines are often copied out of
the logs into tickets verbatim.
"""

from __future__ import annotations

from twisted.logger import Logger

from ..ops.logging import mask_msisdn
from .codec import DecodeError, Message, decode_message, find
from .dictionary import Command

log = Logger(namespace="roamback.diameter.trace")

_NAMES = {
    Command.CAPABILITIES_EXCHANGE: "CE", Command.DEVICE_WATCHDOG: "DW", Command.DISCONNECT_PEER: "DP",
    Command.CREDIT_CONTROL: "CC", Command.RE_AUTH: "RA", Command.ABORT_SESSION: "AS",
}


def describe(message: Message) -> str:
    name = _NAMES.get(message.command, str(message.command)) + ("R" if message.is_request else "A")
    flags = "".join(flag for flag, on in (("T", message.is_retransmit), ("E", message.is_error)) if on)
    parts = [name + (f"[{flags}]" if flags else "")]
    session = message.text(263)
    if session is not None:
        parts.append(f"session={mask_msisdn(session)}")
    parts.append(f"hbh={message.hop_by_hop:#x} e2e={message.end_to_end:#x}")
    request_type, number = message.u32(416), message.u32(415)
    if request_type is not None:
        parts.append(f"cc={request_type}/{number}")
    subscription = message.find(443)
    if subscription is not None:
        try:
            data = find(subscription.children(), 444)
        except DecodeError:  # the peer's broken group: the line says so, the message goes on to be rejected
            parts.append("subscriber=<undecodable>")
        else:
            if data is not None:
                parts.append(f"subscriber={mask_msisdn(data.data.decode('utf-8', 'replace'))}")
    code = message.result_code()
    if code is not None:
        parts.append(f"result={code}")
    return " ".join(parts)


def trace(direction: str, peer: str, raw: bytes | None = None, message: Message | None = None) -> None:
    """Log ``message`` (or the encoded ``raw``) going ``direction`` ("in"/"out") on ``peer``."""
    if message is None:
        assert raw is not None
        try:
            message = decode_message(raw)
        except DecodeError as exc:  # we never send such bytes; say so rather than hide the line
            log.warn("diameter {direction} {peer} undecodable: {error}", direction=direction, peer=peer, error=exc)
            return
    log.info("diameter {direction} {peer} {line}", direction=direction, peer=peer, line=describe(message))
