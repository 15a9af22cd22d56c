"""One SMPP 3.4 bind, in either role, as a sans-I/O state machine.

Bytes in (``receive_data``), bytes out (``data_to_send``), events out (``next_events``) and time passed in
(``get_timer``/``handle_timer``), like aioquic: the same core runs under Twisted, in tests fed byte by byte,
and in a simulator, and every timer decision can be checked without a clock. The session answers what is
link-level on its own (enquire_link, unbind, undecodable PDUs, requests illegal in the state) and leaves
every answer that means something to the application (deliver_sm_resp status, bind credentials).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from ._throttle import SendRate
from ._transitions import ACCEPTED, BOUND, MAY_RECEIVE, MAY_SEND, TRANSITIONS, Input
from .codec import FrameBuffer, FramingError, UndecodablePdu, decode, encode
from .events import (
    BindFailed,
    BindRequested,
    BindSucceeded,
    Event,
    FailureReason,
    InvalidPduReceived,
    LinkDead,
    LocalProtocolError,
    RemoteProtocolError,
    RequestFailed,
    RequestReceived,
    ResponseReceived,
    Role,
    SendRateChanged,
    State,
    Unbound,
)
from .pdus import (
    BIND_COMMANDS,
    RESPONSE_OF,
    Bind,
    BindResp,
    CommandId,
    HeaderOnly,
    MessageResp,
    Pdu,
    Status,
    is_response,
    status_of,
)


@dataclass(frozen=True, slots=True)
class SessionConfig:
    window: int = 64
    """Requests sent and not yet answered; more wait in a queue."""
    response_timeout: float = 10.0
    bind_timeout: float = 10.0
    """ESME: wait for bind_resp. SMSC: wait for a bind after the connection opened."""
    enquire_link_interval: float = 30.0
    """Silence after which we probe the peer; an unanswered probe (response_timeout) means the link is dead."""
    submit_rate: float | None = None
    """Contracted requests per second on this bind; None for no cap."""
    throttle_pause: float = 1.0
    rate_recovery_interval: float = 5.0
    max_throttle_resends: int = 16
    """A request throttled this many times fails, so one refused destination cannot loop forever."""
    max_unanswered_received: int = 1024
    """Requests from the peer the application has not answered yet; beyond this we answer ESME_RTHROTTLED."""


_BACK_OFF = (Status.RTHROTTLED, Status.RMSGQFUL)


@dataclass(slots=True)
class _Request:
    request_id: int
    pdu: Pdu
    resends: int = 0
    deadline: float = 0.0


class SmppSession:
    def __init__(self, role: Role, config: SessionConfig | None = None, *, now: float) -> None:
        self.role = role
        self.config = config or SessionConfig()
        self._state = State.OPEN
        self._may_send_now: frozenset[int] = frozenset()  # MAY_SEND and MAY_RECEIVE in the current state,
        self._may_receive_now: frozenset[int] = frozenset()  # looked up once per transition, not per PDU
        self._now = now
        self._frames = FrameBuffer()
        self._out: list[bytes] = []
        self._events: list[Event] = []
        self._next_sequence = 1
        self._next_request_id = 1
        self._queue: deque[_Request] = deque()
        self._outstanding: dict[int, _Request] = {}
        self._received: dict[int, int] = {}  # sequence_number -> command_id awaiting the application's answer
        self._rate = SendRate(
            self.config.submit_rate,
            pause=self.config.throttle_pause,
            recovery_interval=self.config.rate_recovery_interval,
        )
        self._bind_deadline: float | None = now + self.config.bind_timeout if role is Role.SMSC else None
        self._bind: tuple[int, Bind] | None = None  # the bind in flight: ours (ESME) or the peer's (SMSC)
        self._control: tuple[int, CommandId, float] | None = None  # our enquire_link or unbind awaiting its resp
        self._last_received = now

    # -- what the adapter reads -------------------------------------------------------------------------------

    @property
    def state(self) -> State:
        return self._state

    @property
    def outstanding(self) -> int:
        return len(self._outstanding)

    @property
    def queued(self) -> int:
        return len(self._queue)

    @property
    def send_rate(self) -> float | None:
        return self._rate.rate

    def data_to_send(self) -> bytes:
        out, self._out = self._out, []
        return b"".join(out)

    def next_events(self) -> list[Event]:
        events, self._events = self._events, []
        return events

    def get_timer(self) -> float | None:
        """The next time ``handle_timer`` has work to do; firing early is harmless."""
        if self._state is State.CLOSED:
            return None
        times = [self._bind_deadline]
        if self._control is not None:
            times.append(self._control[2])
        elif self._state in BOUND:
            times.append(self._last_received + self.config.enquire_link_interval)
        if self._outstanding:
            times.append(next(iter(self._outstanding.values())).deadline)
        if self._queue and len(self._outstanding) < self.config.window and self._may_send(self._queue[0].pdu):
            times.append(self._rate.ready_at(self._now))
        return min((t for t in times if t is not None), default=None)

    # -- what the application asks ----------------------------------------------------------------------------

    def bind(self, pdu: Bind, now: float) -> None:
        """ESME: open the bind; ``BindSucceeded`` or ``BindFailed`` follows."""
        if self.role is not Role.ESME or pdu.command_id not in BIND_COMMANDS:
            raise LocalProtocolError("only an ESME sends bind requests", Status.RINVBNDSTS)
        self._now = now
        self._transition(Input.BIND_SENT, local=True)
        sequence = self._send(pdu)
        self._bind = (sequence, pdu)
        self._bind_deadline = now + self.config.bind_timeout

    def accept_bind(self, system_id: str, now: float) -> None:
        """SMSC: answer the pending ``BindRequested`` with success, naming ourselves as ``system_id``."""
        sequence, bind = self._pending_bind()
        self._now = now
        self._transition(ACCEPTED[CommandId(bind.command_id)], local=True)
        self._send(BindResp(bind.command_id | 0x80000000, Status.ROK, system_id), sequence)
        self._bound(bind.system_id, now)

    def reject_bind(self, status: int, now: float) -> None:
        """SMSC: refuse the pending bind (ESME_RINVPASWD, ESME_RINVSYSID...); the session closes."""
        sequence, bind = self._pending_bind()
        self._now = now
        self._send(BindResp(bind.command_id | 0x80000000, status), sequence)
        self._close(Input.BIND_REJECTED, local=True)
        self._events.append(BindFailed(status))

    def send_request(self, pdu: Pdu, now: float) -> int:
        """Queue a submit_sm/deliver_sm/data_sm; returns the id its ``ResponseReceived``/``RequestFailed`` carry."""
        if not self._may_send(pdu):
            raise LocalProtocolError(
                f"{self.role.value} may not send {pdu.command_id:#x} in {self._state.value}", Status.RINVBNDSTS
            )
        self._now = now
        request = _Request(self._next_request_id, pdu)
        self._next_request_id += 1
        self._queue.append(request)
        self._pump(now)
        return request.request_id

    def send_response(self, sequence_number: int, status: int = Status.ROK, message_id: str = "") -> None:
        """Answer a ``RequestReceived``; a late answer after the session closed is dropped."""
        if self._state is State.CLOSED:
            return
        command_id = self._received.pop(sequence_number, None)
        if command_id is None:
            raise LocalProtocolError(f"no request {sequence_number} awaits an answer", Status.RINVBNDSTS)
        # command_id is a CommandId's value (only those are stored), and an IntEnum key matches its int
        self._send(MessageResp(RESPONSE_OF[command_id], status, message_id), sequence_number)

    def unbind(self, now: float) -> None:
        """Close the bind cleanly; requests not yet sent fail as NOT_SENT, ``Unbound`` follows."""
        if self._state in (State.OPEN, State.BINDING):
            self._close(Input.CONNECTION_LOST, local=True)
            self._events.append(Unbound(by_peer=False))
            return
        self._now = now
        self._transition(Input.UNBIND_SENT, local=True)
        self._fail_queued()
        sequence = self._send(HeaderOnly(CommandId.UNBIND))
        self._control = (sequence, CommandId.UNBIND, now + self.config.response_timeout)

    def connection_lost(self) -> None:
        if self._state is not State.CLOSED:
            self._close(Input.CONNECTION_LOST, local=False)

    # -- what the peer and the clock do -----------------------------------------------------------------------

    def receive_data(self, data: bytes, now: float) -> None:
        """Consume bytes from the peer; raises ``RemoteProtocolError`` when the stream cannot be framed."""
        if self._state is State.CLOSED:
            return
        self._now = self._last_received = now
        try:
            frames = self._frames.feed(data)
        except FramingError as exc:
            self._send(HeaderOnly(CommandId.GENERIC_NACK, exc.status), 0)
            self._close(Input.CONNECTION_LOST, local=False)
            raise RemoteProtocolError(str(exc), exc.status) from exc
        for frame in frames:
            if self._state is State.CLOSED:
                break
            try:
                sequence, pdu = decode(frame)
            except UndecodablePdu as exc:
                self._reject_undecodable(exc)
                continue
            self._dispatch(sequence, pdu, now)
        self._pump(now)

    def handle_timer(self, now: float) -> None:
        self._now = now
        if (
            self._bind_deadline is not None
            and now >= self._bind_deadline
            and self._state in (State.OPEN, State.BINDING)
        ):
            self._close(Input.BIND_TIMED_OUT, local=False)
            self._events.append(BindFailed(None))
            return
        if self._control is not None and now >= self._control[2]:
            expired = self._control[1]
            self._close(Input.UNBIND_ANSWERED if expired is CommandId.UNBIND else Input.LINK_DIED, local=False)
            self._events.append(Unbound(by_peer=False) if expired is CommandId.UNBIND else LinkDead())
            return
        while self._outstanding:
            sequence, request = next(iter(self._outstanding.items()))
            if request.deadline > now:
                break
            del self._outstanding[sequence]
            self._events.append(RequestFailed(request.request_id, FailureReason.TIMEOUT))
        if (
            self._control is None
            and self._state in BOUND
            and now >= self._last_received + self.config.enquire_link_interval
        ):
            sequence = self._send(HeaderOnly(CommandId.ENQUIRE_LINK))
            self._control = (sequence, CommandId.ENQUIRE_LINK, now + self.config.response_timeout)
        self._pump(now)

    # -- internals --------------------------------------------------------------------------------------------

    def _dispatch(self, sequence: int, pdu: Pdu, now: float) -> None:
        command_id = pdu.command_id
        if is_response(command_id):
            self._on_response(sequence, pdu, now)
        elif command_id == CommandId.ENQUIRE_LINK:
            self._send(HeaderOnly(CommandId.ENQUIRE_LINK_RESP), sequence)
        elif command_id == CommandId.UNBIND and self._state in (*BOUND, State.UNBINDING):
            self._send(HeaderOnly(CommandId.UNBIND_RESP), sequence)
            self._close(Input.UNBIND_RECEIVED, local=False)
            self._events.append(Unbound(by_peer=True))
        elif command_id in BIND_COMMANDS and self.role is Role.SMSC and self._state is State.OPEN:
            assert isinstance(pdu, Bind)
            self._transition(Input.BIND_RECEIVED, local=False)
            self._bind = (sequence, pdu)
            self._events.append(BindRequested(pdu))
        elif command_id in self._may_receive_now:
            if len(self._received) >= self.config.max_unanswered_received:
                self._send(MessageResp(RESPONSE_OF[CommandId(command_id)], Status.RTHROTTLED), sequence)
                return
            self._received[sequence] = command_id
            self._events.append(RequestReceived(sequence, pdu))
        else:
            status = Status.RALYBND if command_id in BIND_COMMANDS and self._state in BOUND else Status.RINVBNDSTS
            self._send(HeaderOnly(RESPONSE_OF[CommandId(command_id)], status), sequence)

    def _on_response(self, sequence: int, pdu: Pdu, now: float) -> None:
        request = self._outstanding.pop(sequence, None)
        if request is not None:
            self._on_request_answered(request, pdu, now)
        elif self._bind is not None and self._bind[0] == sequence and self.role is Role.ESME:
            self._on_bind_answered(pdu, now)
        elif self._control is not None and self._control[0] == sequence:
            self._on_control_answered(pdu)
        # else: an answer to something that already timed out; nothing is waiting for it any more

    def _on_request_answered(self, request: _Request, pdu: Pdu, now: float) -> None:
        status = status_of(pdu)
        expected = RESPONSE_OF[request.pdu.command_id]  # a request we sent: its command_id passed _may_send
        if pdu.command_id not in (expected, CommandId.GENERIC_NACK):
            self._events.append(RequestFailed(request.request_id, FailureReason.STATUS, Status.RINVCMDID))
        elif status in _BACK_OFF and request.resends < self.config.max_throttle_resends:
            request.resends += 1
            self._queue.appendleft(request)
            self._events.append(SendRateChanged(self._rate.throttled(now)))
        elif status != Status.ROK or pdu.command_id == CommandId.GENERIC_NACK:
            self._events.append(RequestFailed(request.request_id, FailureReason.STATUS, status))
        else:
            self._events.append(ResponseReceived(request.request_id, pdu))

    def _on_bind_answered(self, pdu: Pdu, now: float) -> None:
        assert self._bind is not None
        bind = self._bind[1]
        status = status_of(pdu)
        if pdu.command_id != bind.command_id | 0x80000000 and status == Status.ROK:
            status = Status.RINVCMDID  # a generic_nack without a status, or a resp to something else
        if status != Status.ROK:
            self._close(Input.BIND_REJECTED, local=False)
            self._events.append(BindFailed(status))
            return
        assert isinstance(pdu, BindResp)
        self._transition(ACCEPTED[CommandId(bind.command_id)], local=False)
        self._bound(pdu.system_id, now)

    def _on_control_answered(self, pdu: Pdu) -> None:
        assert self._control is not None
        if self._control[1] is CommandId.UNBIND:
            self._close(Input.UNBIND_ANSWERED, local=False)
            self._events.append(Unbound(by_peer=False))
        else:
            self._control = None

    def _bound(self, peer_system_id: str, now: float) -> None:
        self._bind = None
        self._bind_deadline = None
        self._last_received = now
        self._events.append(BindSucceeded(self._state, peer_system_id))

    def _pending_bind(self) -> tuple[int, Bind]:
        if self.role is not Role.SMSC or self._state is not State.BINDING or self._bind is None:
            raise LocalProtocolError("no bind request awaits an answer", Status.RINVBNDSTS)
        return self._bind

    def _reject_undecodable(self, exc: UndecodablePdu) -> None:
        self._send(HeaderOnly(CommandId.GENERIC_NACK, exc.status), exc.sequence_number)
        self._events.append(InvalidPduReceived(exc.sequence_number, exc.command_id, exc.status))
        request = self._outstanding.pop(exc.sequence_number, None) if is_response(exc.command_id) else None
        if request is not None:
            self._events.append(RequestFailed(request.request_id, FailureReason.STATUS, exc.status))

    def _may_send(self, pdu: Pdu) -> bool:
        return pdu.command_id in self._may_send_now

    def _pump(self, now: float) -> None:
        """Move queued requests onto the wire while the window, the state and the rate allow."""
        queue, outstanding, window = self._queue, self._outstanding, self.config.window
        while queue and len(outstanding) < window and self._may_send(queue[0].pdu):
            if self._rate.ready_at(now) > now:
                break
            request = queue.popleft()
            self._rate.take(now)
            request.deadline = now + self.config.response_timeout
            outstanding[self._send(request.pdu)] = request

    def _send(self, pdu: Pdu, sequence: int | None = None) -> int:
        if sequence is None:
            sequence = self._next_sequence
            self._next_sequence = sequence + 1 if sequence < 0x7FFFFFFF else 1
        self._out.append(encode(pdu, sequence))
        return sequence

    def _transition(self, what: Input, *, local: bool) -> None:
        new_state = TRANSITIONS.get((self._state, what))
        if new_state is None:
            error = LocalProtocolError if local else RemoteProtocolError
            raise error(f"{what.name} is not allowed in {self._state.value}", Status.RINVBNDSTS)
        self._state = new_state
        self._may_send_now = MAY_SEND.get((self.role, new_state), frozenset())
        self._may_receive_now = MAY_RECEIVE.get((self.role, new_state), frozenset())

    def _close(self, what: Input, *, local: bool) -> None:
        self._transition(what, local=local)
        self._control = None
        self._bind = None
        self._bind_deadline = None
        self._received.clear()
        for request in self._outstanding.values():
            self._events.append(RequestFailed(request.request_id, FailureReason.CONNECTION_LOST))
        self._outstanding.clear()
        self._fail_queued()

    def _fail_queued(self) -> None:
        while self._queue:
            self._events.append(RequestFailed(self._queue.popleft().request_id, FailureReason.NOT_SENT))
