"""One Diameter peer connection as a sans-I/O state machine: capabilities exchange, watchdog, disconnect.

Bytes go in (``receive_data``), events come out, bytes to write wait in ``data_to_send()``, and time is
passed in (``get_timer()`` / ``handle_timer(now)``), as in h11 and aioquic: no socket, clock or reactor here,
so every transition is tested with plain numbers. The client side of RFC 6733 5.6 is modelled (roamback
always initiates), with the watchdog of RFC 3539 3.4.1: a missed DWA makes the peer SUSPECT (its pending
requests fail over), a second one takes it DOWN (the connection is closed and reopened after Tc by the
adapter). CER/DWR/DPR belong to this core alone, as in go-diameter's ``sm``: the application only ever
sees its own requests and answers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum, StrEnum

from . import codec
from .codec import DecodeError, Message, encode, encode_answer, encode_message
from .dictionary import (
    APP_CREDIT_CONTROL,
    APP_RELAY,
    HEADER_FLAG_REQUEST,
    VENDOR_3GPP,
    Command,
    DisconnectCause,
    ResultCode,
    avp,
)


class PeerState(StrEnum):
    CLOSED = "closed"  # never connected, or closed on purpose (DPR/DPA)
    WAIT_CEA = "wait_cea"
    OPEN = "open"
    SUSPECT = "suspect"  # one watchdog missed: no new requests, pending ones fail over
    CLOSING = "closing"  # DPR sent, waiting for DPA
    DOWN = "down"  # lost: the adapter reconnects after Tc


class Input(Enum):
    CONNECTED = "connected"
    CER = "cer"
    CEA = "cea"
    DWR = "dwr"
    DWA = "dwa"
    DPR = "dpr"
    DPA = "dpa"
    REQUEST = "request"
    ANSWER = "answer"
    TIMER = "timer"
    LOST = "lost"
    SHUTDOWN = "shutdown"


# -- events (facts, in the past tense) --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PeerOpened:
    host: str
    realm: str


@dataclass(frozen=True, slots=True)
class PeerSuspected:
    pass


@dataclass(frozen=True, slots=True)
class PeerRecovered:
    pass


@dataclass(frozen=True, slots=True)
class PeerWentDown:
    """The connection is unusable; the adapter closes the transport and reconnects after Tc."""

    reason: str


@dataclass(frozen=True, slots=True)
class PeerClosed:
    """Closed on purpose by either side's DPR: the adapter closes the transport."""

    reason: str


@dataclass(frozen=True, slots=True)
class RequestReceived:
    message: Message


@dataclass(frozen=True, slots=True)
class AnswerReceived:
    message: Message


Event = PeerOpened | PeerSuspected | PeerRecovered | PeerWentDown | PeerClosed | RequestReceived | AnswerReceived


class LocalProtocolError(Exception):
    """Our own code asked for something the state does not allow (a bug, not the peer's fault)."""


@dataclass(frozen=True, slots=True)
class LocalIdentity:
    """What we tell peers about ourselves in CER/DWR/DPR; the OCS checks Origin-Host against its peer list."""

    origin_host: str
    origin_realm: str
    host_ip_addresses: tuple[str, ...] = ("127.0.0.1",)
    vendor_id: int = 0
    product_name: str = "roamback"
    origin_state_id: int = 1


@dataclass(frozen=True, slots=True)
class PeerTimers:
    watchdog: float = 30.0  # Tw (RFC 3539 recommends 30 s)
    cea_timeout: float = 10.0
    dpa_timeout: float = 5.0


_CLASSIFY = {
    (Command.CAPABILITIES_EXCHANGE, True): Input.CER,
    (Command.CAPABILITIES_EXCHANGE, False): Input.CEA,
    (Command.DEVICE_WATCHDOG, True): Input.DWR,
    (Command.DEVICE_WATCHDOG, False): Input.DWA,
    (Command.DISCONNECT_PEER, True): Input.DPR,
    (Command.DISCONNECT_PEER, False): Input.DPA,
}

S = PeerState
Handler = Callable[["PeerMachine", float, Message | None], PeerState | None]


class PeerMachine:
    """State of one peer link. Survives reconnections: ``connection_made`` starts the exchange again."""

    def __init__(
        self, identity: LocalIdentity, timers: PeerTimers, *, first_hop_by_hop: int = 1,
        observer: Callable[[Message], None] | None = None,
    ) -> None:
        """``observer`` sees every decoded incoming message, base protocol included (for tracing)."""
        self.identity = identity
        self._observer = observer
        self.timers = timers
        self.state = PeerState.CLOSED
        self.remote_host: str | None = None
        self.remote_realm: str | None = None
        self._next_hop = first_hop_by_hop & 0xFFFFFFFF
        self._framer = codec.Framer()
        self._out: list[bytes] = []
        self._events: list[Event] = []
        self._deadline: float | None = None
        self._dwa_pending = False
        self._base_avps = (
            encode(avp("Origin-Host"), identity.origin_host), encode(avp("Origin-Realm"), identity.origin_realm),
        )

    # -- inputs ------------------------------------------------------------------------------------

    def connection_made(self, now: float) -> list[Event]:
        self._framer = codec.Framer()
        self._dwa_pending = False
        return self._apply(Input.CONNECTED, now, None)

    def connection_lost(self, now: float) -> list[Event]:
        return self._apply(Input.LOST, now, None)

    def shutdown(self, now: float) -> list[Event]:
        """Say goodbye with DPR (cause REBOOTING: we come back, RFC 6733 5.4.3) if the link is up."""
        return self._apply(Input.SHUTDOWN, now, None)

    def receive_data(self, data: bytes, now: float) -> list[Event]:
        try:
            frames = self._framer.feed(data)
        except DecodeError as exc:
            return self._fail(now, f"unframeable stream: {exc}")
        events: list[Event] = []
        for frame in frames:
            try:
                message = codec.decode_message(frame)
            except DecodeError as exc:
                self._reject(frame, exc)
                continue
            kind = _CLASSIFY.get((message.command, message.is_request))
            if kind is None:
                kind = Input.REQUEST if message.is_request else Input.ANSWER
            if self.state is S.OPEN and kind is not Input.DWA:
                self._deadline = now + self.timers.watchdog  # any traffic proves the peer alive
            try:  # grouped AVPs decode lazily: a broken one surfaces here, and must not end the link
                if self._observer is not None:
                    self._observer(message)
                events += self._apply(kind, now, message)
            except DecodeError as exc:
                self._reject(frame, exc)
                continue
            if self.state in (S.DOWN, S.CLOSED):
                break
        return events

    def get_timer(self) -> float | None:
        return self._deadline

    def handle_timer(self, now: float) -> list[Event]:
        if self._deadline is None or now < self._deadline:
            return []
        return self._apply(Input.TIMER, now, None)

    # -- outputs -----------------------------------------------------------------------------------

    def data_to_send(self) -> list[bytes]:
        """Messages to write, one item each (so an adapter can trace them); empties the queue."""
        out, self._out = self._out, []
        return out

    def send_request(self, raw: bytes, end_to_end: int, *, retransmit: bool = False) -> int:
        """Queue an application request; returns the hop-by-hop id its answer will carry."""
        if self.state is not S.OPEN:
            raise LocalProtocolError(f"cannot send a request in state {self.state}")
        hop = self._hop()
        self._out.append(codec.with_ids(raw, hop, end_to_end, retransmit=retransmit))
        return hop

    def send_answer(self, raw: bytes) -> None:
        if self.state not in (S.OPEN, S.SUSPECT, S.CLOSING):
            raise LocalProtocolError(f"cannot answer in state {self.state}")
        self._out.append(raw)

    # -- machinery ---------------------------------------------------------------------------------

    def _apply(self, kind: Input, now: float, message: Message | None) -> list[Event]:
        entry = TRANSITIONS.get((self.state, kind))
        if entry is None:
            return self._fail(now, f"unexpected {kind.value} in state {self.state}")
        handler, target = entry
        override = handler(self, now, message)
        self.state = override or target
        events, self._events = self._events, []
        return events

    def _reject(self, frame: bytes, error: DecodeError) -> None:
        """A well-framed message with broken AVPs: answer a request with the error (RFC 6733 7.2), drop
        an answer (RFC 6733 6.2: nothing to tell the peer; the request's Tx deals with it). The E bit is
        for protocol errors (3xxx) only; a permanent failure such as 5014 goes in a plain answer."""
        header = codec.decode_header(frame)
        if header.is_request:
            result = encode(avp("Result-Code"), error.result_code)
            protocol_error = 3000 <= int(error.result_code) < 4000
            self._out.append(encode_answer(header, (result, *self._base_avps), error=protocol_error))

    def _fail(self, now: float, reason: str) -> list[Event]:
        """The peer broke the protocol: drop the link; the adapter reconnects (RFC 6733 5.6 Error)."""
        self.state = S.DOWN
        self._deadline = None
        return [PeerWentDown(reason)]

    def _hop(self) -> int:
        hop = self._next_hop
        self._next_hop = (hop + 1) & 0xFFFFFFFF
        return hop

    def _request(self, command: Command, *avps: bytes) -> None:
        self._out.append(encode_message(command, HEADER_FLAG_REQUEST, 0, self._hop(), self._hop(), avps))

    def _answer(self, request: Message, *avps: bytes) -> None:
        result = encode(avp("Result-Code"), ResultCode.SUCCESS)
        self._out.append(encode_answer(request, (result, *self._base_avps, *avps)))

    def _state_id(self) -> bytes:
        return encode(avp("Origin-State-Id"), self.identity.origin_state_id)

    # -- handlers ----------------------------------------------------------------------------------

    def _on_connected(self, now: float, _: Message | None) -> None:
        identity = self.identity
        self._request(
            Command.CAPABILITIES_EXCHANGE, *self._base_avps,
            *(encode(avp("Host-IP-Address"), ip) for ip in identity.host_ip_addresses),
            encode(avp("Vendor-Id"), identity.vendor_id), encode(avp("Product-Name"), identity.product_name),
            self._state_id(), encode(avp("Supported-Vendor-Id"), VENDOR_3GPP),
            encode(avp("Auth-Application-Id"), APP_CREDIT_CONTROL),
        )
        self._deadline = now + self.timers.cea_timeout

    def _on_cea(self, now: float, message: Message | None) -> PeerState | None:
        assert message is not None
        result = message.result_code()
        if result != ResultCode.SUCCESS:
            self._events.append(PeerWentDown(f"CER rejected with {result}"))
            self._deadline = None
            return S.DOWN
        if not _offers_credit_control(message):
            self._events.append(PeerWentDown("peer offers neither credit control nor relay"))
            self._deadline = None
            return S.DOWN
        self.remote_host = message.text(264, "")
        self.remote_realm = message.text(296, "")
        self._deadline = now + self.timers.watchdog
        self._dwa_pending = False
        self._events.append(PeerOpened(self.remote_host or "", self.remote_realm or ""))
        return None

    def _on_lost(self, now: float, _: Message | None) -> None:
        self._deadline = None
        self._events.append(PeerWentDown("connection lost"))

    def _ignore(self, now: float, _: Message | None) -> None:
        return None

    def _on_dwr(self, now: float, message: Message | None) -> None:
        assert message is not None
        self._answer(message, self._state_id())

    def _on_dwa(self, now: float, _: Message | None) -> None:
        self._dwa_pending = False
        self._deadline = now + self.timers.watchdog

    def _on_dwa_suspect(self, now: float, message: Message | None) -> None:
        self._on_dwa(now, message)
        self._events.append(PeerRecovered())

    def _on_watchdog_timer(self, now: float, _: Message | None) -> PeerState | None:
        self._deadline = now + self.timers.watchdog
        if not self._dwa_pending:
            self._request(Command.DEVICE_WATCHDOG, *self._base_avps, self._state_id())
            self._dwa_pending = True
            return None
        self._events.append(PeerSuspected())
        return S.SUSPECT

    def _on_suspect_timer(self, now: float, _: Message | None) -> None:
        self._deadline = None
        self._events.append(PeerWentDown("no watchdog answer twice"))

    def _on_cea_timer(self, now: float, _: Message | None) -> None:
        self._deadline = None
        self._events.append(PeerWentDown("no CEA"))

    def _on_dpr(self, now: float, message: Message | None) -> None:
        assert message is not None
        self._answer(message)
        self._deadline = None
        cause = message.u32(273)
        self._events.append(PeerClosed(f"peer sent DPR (cause {cause})"))

    def _on_shutdown(self, now: float, _: Message | None) -> None:
        self._request(
            Command.DISCONNECT_PEER, *self._base_avps, encode(avp("Disconnect-Cause"), DisconnectCause.REBOOTING)
        )
        self._deadline = now + self.timers.dpa_timeout

    def _on_request(self, now: float, message: Message | None) -> None:
        assert message is not None
        self._events.append(RequestReceived(message))

    def _on_answer(self, now: float, message: Message | None) -> None:
        assert message is not None
        self._events.append(AnswerReceived(message))


def _closed(reason: str) -> Handler:
    def handler(machine: PeerMachine, now: float, _: Message | None) -> None:
        machine._deadline = None
        machine._events.append(PeerClosed(reason))

    return handler


def _offers_credit_control(cea: Message) -> bool:
    wanted = {APP_CREDIT_CONTROL, APP_RELAY}
    if any(item.u32() in wanted for item in cea.find_all(258)):
        return True
    for group in cea.find_all(260):
        if any(child.code == 258 and child.u32() in wanted for child in group.children()):
            return True
    return False


M = PeerMachine
_ACTIVE = (S.OPEN, S.SUSPECT, S.CLOSING)
TRANSITIONS: dict[tuple[PeerState, Input], tuple[Handler, PeerState]] = {
    (S.CLOSED, Input.CONNECTED): (M._on_connected, S.WAIT_CEA),
    (S.DOWN, Input.CONNECTED): (M._on_connected, S.WAIT_CEA),
    (S.CLOSED, Input.LOST): (M._ignore, S.CLOSED),
    (S.DOWN, Input.LOST): (M._ignore, S.DOWN),
    (S.CLOSED, Input.SHUTDOWN): (M._ignore, S.CLOSED),
    (S.DOWN, Input.SHUTDOWN): (M._ignore, S.CLOSED),
    (S.WAIT_CEA, Input.CEA): (M._on_cea, S.OPEN),
    (S.WAIT_CEA, Input.TIMER): (M._on_cea_timer, S.DOWN),
    (S.WAIT_CEA, Input.LOST): (M._on_lost, S.DOWN),
    (S.WAIT_CEA, Input.SHUTDOWN): (_closed("shut down before CEA"), S.CLOSED),
    (S.OPEN, Input.TIMER): (M._on_watchdog_timer, S.OPEN),
    (S.OPEN, Input.DWA): (M._on_dwa, S.OPEN),
    (S.SUSPECT, Input.TIMER): (M._on_suspect_timer, S.DOWN),
    (S.SUSPECT, Input.DWA): (M._on_dwa_suspect, S.OPEN),
    (S.OPEN, Input.SHUTDOWN): (M._on_shutdown, S.CLOSING),
    (S.SUSPECT, Input.SHUTDOWN): (M._on_shutdown, S.CLOSING),
    (S.CLOSING, Input.DPA): (_closed("DPA received"), S.CLOSED),
    (S.CLOSING, Input.TIMER): (_closed("no DPA"), S.CLOSED),
    (S.CLOSING, Input.DWA): (M._ignore, S.CLOSING),
    (S.CLOSING, Input.SHUTDOWN): (M._ignore, S.CLOSING),
    (S.CLOSING, Input.LOST): (_closed("connection closed during DPR"), S.CLOSED),
    **{(state, Input.DWR): (M._on_dwr, state) for state in _ACTIVE},
    **{(state, Input.DPR): (M._on_dpr, S.CLOSED) for state in _ACTIVE},
    **{(state, Input.REQUEST): (M._on_request, state) for state in _ACTIVE},
    **{(state, Input.ANSWER): (M._on_answer, state) for state in _ACTIVE},
    **{(state, Input.LOST): (M._on_lost, S.DOWN) for state in (S.OPEN, S.SUSPECT)},
}
