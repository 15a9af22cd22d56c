"""The Twisted side of one bind: feeds bytes to ``SmppSession``, writes what it produces, keeps one timer.

Everything SMPP lives in the session; this class only translates between the reactor and the core, turns
request ids into Deferreds and hands the peer's requests to the application. The clock is injected so tests
drive time with ``task.Clock``.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Protocol as TypingProtocol

from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from .events import (
    BindFailed,
    BindRequested,
    BindSucceeded,
    Event,
    FailureReason,
    InvalidPduReceived,
    LinkDead,
    RemoteProtocolError,
    RequestFailed,
    RequestReceived,
    ResponseReceived,
    Role,
    SendRateChanged,
    State,
    Unbound,
)
from .pdus import Pdu, status_name
from .session import SessionConfig, SmppSession

log = Logger()


@dataclass(frozen=True, slots=True)
class Answer:
    """The application's answer to a request from the peer: the command_status and, for submit_sm/data_sm
    in the SMSC role, the message id it assigned."""

    status: int = 0
    message_id: str = ""


class RequestHandler(TypingProtocol):
    """Receives deliver_sm/data_sm (ESME role) or submit_sm/data_sm (SMSC role).

    ``origin`` names where it came from: the link's name for an ESME, the peer's system_id for an SMSC.
    Return an ``Answer`` (or a bare status), directly, as a Deferred or from a coroutine; the status goes on
    the wire as is, so answer ESME_RX_T_APPN (0x64) when the message could not be stored durably.
    """

    def handle_request(
        self, pdu: Pdu, origin: str
    ) -> Answer | int | Deferred[Answer | int] | Awaitable[Answer | int]: ...


class SmppRequestError(Exception):
    """A request we sent did not succeed: a non-zero status, a timeout or a lost/closing bind."""

    def __init__(self, reason: FailureReason, status: int | None = None) -> None:
        detail = f" {status_name(status)}" if status is not None else ""
        super().__init__(f"{reason.value}{detail}")
        self.reason = reason
        self.status = status


class SmppProtocol(Protocol):
    """Shared adapter for both roles; subclasses react to bind events."""

    role: Role
    failure_status = 0x08
    """What we answer when the application's handler itself fails (ESME_RSYSERR)."""

    def __init__(self, config: SessionConfig, clock: IReactorTime, handler: RequestHandler, origin: str) -> None:
        self.config = config
        self.origin = origin
        self._clock = clock
        self._handler = handler
        self.session: SmppSession | None = None
        self._timer: IDelayedCall | None = None
        self._pending: dict[int, Deferred[Pdu]] = {}
        self._flushing = False
        self.closed: Deferred[None] = Deferred()
        """Fires once the connection is gone; the link waits on it for a clean unbind."""

    # -- reactor -> session ---------------------------------------------------------------------------------

    def connectionMade(self) -> None:
        self.session = SmppSession(self.role, self.config, now=self._clock.seconds())
        self.opened()
        self.flush()

    def dataReceived(self, data: bytes) -> None:
        assert self.session is not None
        try:
            self.session.receive_data(data, self._clock.seconds())
        except RemoteProtocolError as exc:
            log.warn("SMPP peer {origin} broke framing, closing: {error}", origin=self.origin, error=str(exc))
        self.flush()

    def connectionLost(self, reason: Failure | None = None) -> None:
        if self.session is not None:
            self.session.connection_lost()
            self.flush()
        self._cancel_timer()
        self.closed.callback(None)

    # -- application -> session -----------------------------------------------------------------------------

    def request(self, pdu: Pdu) -> Deferred[Pdu]:
        """Send a request; fires with the response PDU or fails with ``SmppRequestError``."""
        assert self.session is not None
        request_id = self.session.send_request(pdu, self._clock.seconds())
        result: Deferred[Pdu] = Deferred()
        self._pending[request_id] = result
        self.flush()
        return result

    def unbind(self) -> Deferred[None]:
        """Unbind cleanly (when bound) and fire once the connection has closed."""
        if self.session is not None and self.session.state in (State.BOUND_TX, State.BOUND_RX, State.BOUND_TRX):
            self.session.unbind(self._clock.seconds())
            self.flush()
        elif self.transport is not None and not self.closed.called:
            self.transport.loseConnection()
        return self.closed

    @property
    def load(self) -> int:
        """Requests in flight or waiting on this bind, to spread traffic over binds."""
        return 0 if self.session is None else self.session.outstanding + self.session.queued

    # -- session -> reactor ---------------------------------------------------------------------------------

    def flush(self) -> None:
        """Handle events, write output, close when the session has, and re-arm the timer."""
        if self._flushing or self.session is None:
            return
        self._flushing = True
        try:
            while events := self.session.next_events():
                for event in events:
                    self._dispatch(event)
            data = self.session.data_to_send()
            if data and self.transport is not None:
                self.transport.write(data)
        finally:
            self._flushing = False
        if self.session.state is State.CLOSED:
            self._cancel_timer()
            if self.transport is not None:
                self.transport.loseConnection()
        else:
            self._arm_timer()

    def _arm_timer(self) -> None:
        assert self.session is not None
        when = self.session.get_timer()
        if when is None:
            return
        delay = max(0.0, when - self._clock.seconds())
        if self._timer is None or not self._timer.active():
            self._timer = self._clock.callLater(delay, self._timer_fired)
        elif self._timer.getTime() > when:
            self._timer.reset(delay)

    def _timer_fired(self) -> None:
        self._timer = None
        assert self.session is not None
        self.session.handle_timer(self._clock.seconds())
        self.flush()

    def _cancel_timer(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _dispatch(self, event: Event) -> None:
        match event:
            case ResponseReceived(request_id, pdu):
                self._pending.pop(request_id).callback(pdu)
            case RequestFailed(request_id, reason, status):
                self._pending.pop(request_id).errback(SmppRequestError(reason, status))
            case RequestReceived():
                self._answer(event)
            case BindRequested():
                self.bind_requested(event)
            case BindSucceeded():
                self.bind_succeeded(event)
            case BindFailed():
                self.bind_failed(event)
            case InvalidPduReceived(sequence, command_id, status):
                log.warn(
                    "SMPP {origin}: undecodable PDU {command_id:#x} seq {sequence} answered {status}",
                    origin=self.origin,
                    command_id=command_id,
                    sequence=sequence,
                    status=status_name(status),
                )
            case SendRateChanged(rate):
                log.info("SMPP {origin} throttled by the peer: rate now {rate}/s", origin=self.origin, rate=rate)
            case LinkDead():
                log.warn("SMPP {origin}: enquire_link unanswered, dropping the connection", origin=self.origin)
            case Unbound(by_peer):
                log.info("SMPP {origin} unbound (by peer: {by_peer})", origin=self.origin, by_peer=by_peer)

    def _answer(self, event: RequestReceived) -> None:
        """Answer at once when the handler answers synchronously (every USSD indication does): the chain
        of Deferreds is only built for an answer that is still to come."""
        try:
            result = self._handler.handle_request(event.pdu, self.origin)
        except Exception:
            result = self._handler_failed(Failure())
        if isinstance(result, Deferred) or inspect.isawaitable(result):
            answer = result if isinstance(result, Deferred) else ensureDeferred(result)  # type: ignore[arg-type]
            answer.addErrback(self._handler_failed).addCallback(self._reply, event.sequence_number).addErrback(
                self._answering_failed
            )
            return
        try:
            self._reply(result, event.sequence_number)
        except Exception:
            self._answering_failed(Failure())

    def _handler_failed(self, failure: Failure) -> int:
        log.failure("SMPP {origin}: request handler failed", failure, origin=self.origin)
        return self.failure_status

    def _reply(self, answer: Answer | int, sequence_number: int) -> None:
        if isinstance(answer, int):
            answer = Answer(answer)
        assert self.session is not None
        self.session.send_response(sequence_number, answer.status, answer.message_id)
        self.flush()

    def _answering_failed(self, failure: Failure) -> None:
        log.failure("SMPP {origin}: answering failed", failure, origin=self.origin)

    # -- role hooks -----------------------------------------------------------------------------------------

    def opened(self) -> None:
        """The connection is up and the session exists."""

    def bind_requested(self, event: BindRequested) -> None:
        raise NotImplementedError  # only an SMSC is ever asked to bind; the session enforces it

    def bind_succeeded(self, event: BindSucceeded) -> None:
        """The bind is usable."""

    def bind_failed(self, event: BindFailed) -> None:
        """The bind was refused or timed out; the session has closed."""
