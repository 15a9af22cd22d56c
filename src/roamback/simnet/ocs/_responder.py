"""The server side of one Diameter connection (RFC 6733 5.6, responder), sans-I/O.

``diameter/peer.py``'s ``PeerMachine`` is the initiator (it sends the CER); this is its counterpart, built
the same way and from the same parts: bytes in, events out (``peer``'s own event types), messages to write
in ``data_to_send()``, time passed in. It owns CER/CEA, DWR/DWA and DPR/DPA; every other request is
handed out as ``RequestReceived`` for the application to answer through ``send_answer``.

Protocol errors are answered and the link stays up whenever the message could be framed: a request with
broken AVPs gets 5014 (or what the codec says), one with the E bit set gets 3008, one whose AVP flags use
reserved bits gets 3009. Only a stream that cannot be cut into messages any more is closed.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum, StrEnum

from ...diameter import codec
from ...diameter.codec import DecodeError, Message, encode, encode_answer, encode_message
from ...diameter.dictionary import (
    APP_CREDIT_CONTROL,
    APP_RELAY,
    AVP_FLAG_MANDATORY,
    AVP_FLAG_VENDOR,
    HEADER_FLAG_REQUEST,
    VENDOR_3GPP,
    Command,
    DisconnectCause,
    ResultCode,
    avp,
)
from ...diameter.peer import Event, LocalIdentity, PeerClosed, PeerOpened, RequestReceived
from ._answers import Rejected, error_answer, invalid, missing, origin_avps

_KNOWN_FLAGS = AVP_FLAG_VENDOR | AVP_FLAG_MANDATORY | 0x20  # V, M, P; the other five are reserved


class ResponderState(StrEnum):
    WAIT_CER = "wait_cer"
    OPEN = "open"
    CLOSING = "closing"  # we sent DPR, waiting for DPA
    CLOSED = "closed"


class _Input(Enum):
    CER = "cer"
    DWR = "dwr"
    DWA = "dwa"
    DPR = "dpr"
    DPA = "dpa"
    REQUEST = "request"
    ANSWER = "answer"
    TIMER = "timer"
    SHUTDOWN = "shutdown"


_CLASSIFY = {
    (Command.CAPABILITIES_EXCHANGE, True): _Input.CER,
    (Command.DEVICE_WATCHDOG, True): _Input.DWR,
    (Command.DEVICE_WATCHDOG, False): _Input.DWA,
    (Command.DISCONNECT_PEER, True): _Input.DPR,
    (Command.DISCONNECT_PEER, False): _Input.DPA,
}


class Responder:
    """One accepted connection. ``connection_made`` starts the CER timer; the adapter closes the socket
    after any ``PeerClosed``."""

    def __init__(self, identity: LocalIdentity, *, cer_timeout: float, dpa_timeout: float) -> None:
        self.identity = identity
        self.state = ResponderState.WAIT_CER
        self.remote_host: str | None = None
        self._cer_timeout = cer_timeout
        self._dpa_timeout = dpa_timeout
        self._framer = codec.Framer()
        self._out: list[bytes] = []
        self._events: list[Event] = []
        self._deadline: float | None = None
        self.origin = origin_avps(identity.origin_host, identity.origin_realm)

    # -- inputs ------------------------------------------------------------------------------------

    def connection_made(self, now: float) -> None:
        self._deadline = now + self._cer_timeout

    def receive_data(self, data: bytes, now: float) -> list[Event]:
        try:
            frames = self._framer.feed(data)
        except DecodeError as exc:
            return self._close(f"unframeable stream: {exc}")
        events: list[Event] = []
        for frame in frames:
            if self.state is ResponderState.CLOSED:
                break
            message = self._decode(frame)
            if message is not None:
                kind = _CLASSIFY.get((message.command, message.is_request))
                if kind is None:
                    kind = _Input.REQUEST if message.is_request else _Input.ANSWER
                events += self._apply(kind, now, message)
        return events

    def get_timer(self) -> float | None:
        return self._deadline

    def handle_timer(self, now: float) -> list[Event]:
        if self._deadline is None or now < self._deadline:
            return []
        return self._apply(_Input.TIMER, now, None)

    def shutdown(self, now: float) -> list[Event]:
        """Say goodbye with DPR (REBOOTING: we come back) and wait for DPA; at once if not open."""
        return self._apply(_Input.SHUTDOWN, now, None)

    # -- outputs -----------------------------------------------------------------------------------

    def data_to_send(self) -> list[bytes]:
        out, self._out = self._out, []
        return out

    def send_answer(self, raw: bytes) -> None:
        """The application's answer to a ``RequestReceived``, even one that came just before a DPR in the
        same read: the adapter writes it before it closes."""
        self._out.append(raw)

    # -- machinery ---------------------------------------------------------------------------------

    def _decode(self, frame: bytes) -> Message | None:
        """The message, or None after answering (a request) or dropping (an answer) a malformed one."""
        header = codec.decode_header(frame)
        try:
            message = codec.decode_message(frame)
            _check_bits(message)
        except DecodeError as exc:
            rejected = Rejected(exc.result_code, str(exc))
        except Rejected as exc:
            rejected = exc
        else:
            return message
        if header.is_request:
            self._out.append(error_answer(header, self.origin, rejected))
        return None

    def _apply(self, kind: _Input, now: float, message: Message | None) -> list[Event]:
        handler = _TRANSITIONS.get((self.state, kind))
        if handler is None:
            if message is not None and message.is_request:
                rejected = Rejected(ResultCode.UNKNOWN_PEER if self.state is ResponderState.WAIT_CER
                                    else ResultCode.COMMAND_UNSUPPORTED, f"{kind.value} in state {self.state}")
                self._out.append(error_answer(message, self.origin, rejected))
            return self._close(f"unexpected {kind.value} in state {self.state}")
        handler(self, now, message)
        events, self._events = self._events, []
        return events

    def _close(self, reason: str) -> list[Event]:
        self.state = ResponderState.CLOSED
        self._deadline = None
        return [PeerClosed(reason)]

    def _answer(self, request: Message, *avps: bytes) -> None:
        result = encode(avp("Result-Code"), ResultCode.SUCCESS)
        self._out.append(encode_answer(request, (result, self.origin, *avps)))

    def _state_id(self) -> bytes:
        return encode(avp("Origin-State-Id"), self.identity.origin_state_id)

    # -- handlers ----------------------------------------------------------------------------------

    def _on_cer(self, now: float, message: Message | None) -> None:
        assert message is not None
        try:
            host = _required_text(message, "Origin-Host")
            realm = _required_text(message, "Origin-Realm")
            if not _offered_applications(message) & {APP_CREDIT_CONTROL, APP_RELAY}:
                raise Rejected(ResultCode.NO_COMMON_APPLICATION, "no credit-control application offered")
        except Rejected as exc:
            self._out.append(error_answer(message, self.origin, exc))
            self._events += self._close(f"CER refused: {exc}")
            return
        identity = self.identity
        self._answer(
            message, *(encode(avp("Host-IP-Address"), ip) for ip in identity.host_ip_addresses),
            encode(avp("Vendor-Id"), identity.vendor_id), encode(avp("Product-Name"), identity.product_name),
            self._state_id(), encode(avp("Supported-Vendor-Id"), VENDOR_3GPP),
            encode(avp("Auth-Application-Id"), APP_CREDIT_CONTROL),
        )
        self.remote_host = host
        self.state = ResponderState.OPEN
        self._deadline = None
        self._events.append(PeerOpened(host, realm))

    def _on_dwr(self, now: float, message: Message | None) -> None:
        assert message is not None
        self._answer(message, self._state_id())

    def _on_dpr(self, now: float, message: Message | None) -> None:
        assert message is not None
        self._answer(message)
        self._events += self._close(f"peer sent DPR (cause {message.u32(273)})")

    def _on_request(self, now: float, message: Message | None) -> None:
        assert message is not None
        self._events.append(RequestReceived(message))

    def _ignore(self, now: float, message: Message | None) -> None:
        return None

    def _on_shutdown(self, now: float, message: Message | None) -> None:
        ids = self.identity.origin_state_id  # the only request we send on this link: any id is unique
        self._out.append(encode_message(
            Command.DISCONNECT_PEER, HEADER_FLAG_REQUEST, 0, ids, ids,
            (self.origin, encode(avp("Disconnect-Cause"), DisconnectCause.REBOOTING)),
        ))
        self.state = ResponderState.CLOSING
        self._deadline = now + self._dpa_timeout


def _closing(reason: str) -> Callable[[Responder, float, Message | None], None]:
    def handler(responder: Responder, now: float, message: Message | None) -> None:
        responder._events += responder._close(reason)

    return handler


def _check_bits(message: Message) -> None:
    if message.is_request and message.is_error:
        raise Rejected(ResultCode.INVALID_HDR_BITS, "a request with the E bit set")
    for item in message.avps:
        if item.flags & ~_KNOWN_FLAGS:
            raise invalid(item, ResultCode.INVALID_AVP_BITS, f"AVP {item.code} sets reserved flag bits")


def _required_text(message: Message, name: str) -> str:
    found = message.find(avp(name).code)
    if found is None:
        raise missing(name)
    return found.data.decode("ascii", "replace")


def _offered_applications(message: Message) -> set[int]:
    """Auth/Acct-Application-Id at the top level and inside Vendor-Specific-Application-Id (RFC 6733 5.3)."""
    offered = {item.u32() for item in message.avps if item.code in (258, 259) and item.vendor == 0}
    for group in message.find_all(260):
        offered |= {child.u32() for child in group.children() if child.code in (258, 259)}
    return offered


_S, _I, _R = ResponderState, _Input, Responder
_ACTIVE = (_S.OPEN, _S.CLOSING)
_TRANSITIONS: dict[tuple[ResponderState, _Input], Callable[[Responder, float, Message | None], None]] = {
    (_S.WAIT_CER, _I.CER): _R._on_cer,
    (_S.WAIT_CER, _I.TIMER): _closing("no CER in time"),
    (_S.WAIT_CER, _I.SHUTDOWN): _closing("shut down before CER"),
    (_S.OPEN, _I.SHUTDOWN): _R._on_shutdown,
    (_S.CLOSING, _I.DPA): _closing("DPA received"),
    (_S.CLOSING, _I.TIMER): _closing("no DPA in time"),
    (_S.CLOSING, _I.SHUTDOWN): _R._ignore,
    (_S.CLOSED, _I.SHUTDOWN): _R._ignore,
    **{(state, _I.DWR): _R._on_dwr for state in _ACTIVE},
    **{(state, _I.DWA): _R._ignore for state in _ACTIVE},
    **{(state, _I.DPR): _R._on_dpr for state in _ACTIVE},
    **{(state, _I.REQUEST): _R._on_request for state in _ACTIVE},
    **{(state, _I.ANSWER): _R._ignore for state in _ACTIVE},
}
