"""What a bind session reports, and the two kinds of protocol error (ours, the peer's).

Events are immutable and named in the past tense, as in h11/aioquic: the adapter reacts to them, it never
reaches into the session's state to find out what happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .pdus import Bind, Pdu, status_name


class Role(Enum):
    ESME = "esme"
    SMSC = "smsc"


class State(Enum):
    OPEN = "open"
    BINDING = "binding"
    BOUND_TX = "bound_tx"
    BOUND_RX = "bound_rx"
    BOUND_TRX = "bound_trx"
    UNBINDING = "unbinding"
    CLOSED = "closed"


class FailureReason(Enum):
    STATUS = "status"
    """The peer answered with a non-zero command_status (or generic_nack)."""
    TIMEOUT = "timeout"
    """No response within the response timeout: the peer may or may not have acted on it."""
    CONNECTION_LOST = "connection_lost"
    """Sent, then the bind ended before an answer: the outcome is unknown."""
    NOT_SENT = "not_sent"
    """Still queued when the bind ended: never reached the peer, safe to send elsewhere."""


class SmppProtocolError(Exception):
    """A protocol violation, with the command_status that reports it on the wire."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(f"{message} [{status_name(status)}]")
        self.status = status


class LocalProtocolError(SmppProtocolError):
    """We (the application) asked for something the SMPP state does not allow."""


class RemoteProtocolError(SmppProtocolError):
    """The peer broke the protocol so badly that the connection must close."""


@dataclass(frozen=True, slots=True)
class Event:
    """Base of everything ``SmppSession`` reports."""


@dataclass(frozen=True, slots=True)
class BindRequested(Event):
    """SMSC role: the peer asked to bind; answer with ``accept_bind`` or ``reject_bind``."""

    bind: Bind


@dataclass(frozen=True, slots=True)
class BindSucceeded(Event):
    state: State
    system_id: str
    """The peer's system_id: the ESME's in the SMSC role, the SMSC's (from bind_resp) in the ESME role."""


@dataclass(frozen=True, slots=True)
class BindFailed(Event):
    status: int | None
    """The bind_resp status, or None when no answer came in time."""


@dataclass(frozen=True, slots=True)
class RequestReceived(Event):
    """A deliver_sm/submit_sm/data_sm from the peer; answer it with ``send_response(sequence_number, ...)``."""

    sequence_number: int
    pdu: Pdu


@dataclass(frozen=True, slots=True)
class ResponseReceived(Event):
    request_id: int
    pdu: Pdu


@dataclass(frozen=True, slots=True)
class RequestFailed(Event):
    request_id: int
    reason: FailureReason
    status: int | None = None


@dataclass(frozen=True, slots=True)
class InvalidPduReceived(Event):
    """A PDU we could not decode was answered with generic_nack; the link stays up."""

    sequence_number: int
    command_id: int
    status: int


@dataclass(frozen=True, slots=True)
class SendRateChanged(Event):
    """The peer throttled us: the submits per second now allowed (it climbs back quietly afterwards)."""

    rate: float | None


@dataclass(frozen=True, slots=True)
class LinkDead(Event):
    """enquire_link went unanswered: the connection must be dropped and re-established."""


@dataclass(frozen=True, slots=True)
class Unbound(Event):
    by_peer: bool
