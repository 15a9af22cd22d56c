"""The Twisted side of the Diameter peers: sockets, reconnection and timers around the sans-I/O cores.

Each configured peer is a ``ClientService`` (reconnect after Tc, RFC 6733 2.1) whose protocol only feeds
bytes to the peer's ``PeerMachine``, writes what it wants written and keeps one DelayedCall for its timer.
``DiameterNode`` owns the ``Router`` with its own DelayedCall for the Tx deadlines, turns each request into
a Deferred, and hands requests from servers (RAR, ASR) to the application's handler. Shutting the node
down sends DPR on every open link and waits, bounded, for the DPAs before the sockets close.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from twisted.application.internet import ClientService
from twisted.application.service import MultiService
from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.endpoints import clientFromString
from twisted.internet.interfaces import IDelayedCall
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger

from . import tracing
from .codec import Message, encode, encode_answer
from .dictionary import ResultCode, avp
from .peer import (
    AnswerReceived,
    Event,
    LocalIdentity,
    PeerClosed,
    PeerMachine,
    PeerState,
    PeerSuspected,
    PeerTimers,
    PeerWentDown,
    RequestReceived,
)
from .routing import FailReason, OutgoingRequest, PeerRoute, RequestAnswered, RequestFailed, Router, RouterEvent

log = Logger()

RequestHandler = Callable[[str, Message], bytes]


class RequestNotAnswered(Exception):
    """No answer within Tx on any peer, or no peer to send to at all."""

    def __init__(self, reason: FailReason) -> None:
        super().__init__(reason.value)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class PeerEndpoint:
    route: PeerRoute
    endpoint: str  # a Twisted client endpoint string, e.g. "tcp:host=10.0.0.5:port=3868:timeout=5"


class _Timer:
    """One DelayedCall that fires at the owner's next deadline; moving a deadline later never re-arms it."""

    def __init__(self, reactor: Any, fire: Callable[[], None]) -> None:
        self._reactor = reactor
        self._fire = fire
        self._call: IDelayedCall | None = None

    def arm(self, deadline: float | None) -> None:
        if deadline is None:
            self.cancel()
            return
        call = self._call
        if call is not None and call.active():
            if call.getTime() <= deadline:
                return
            call.cancel()
        self._call = self._reactor.callLater(max(0.0, deadline - self._reactor.seconds()), self._fired)

    def _fired(self) -> None:
        self._call = None
        self._fire()

    def cancel(self) -> None:
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None


class PeerProtocol(Protocol):
    def __init__(self, link: PeerLink) -> None:
        self._link = link

    def connectionMade(self) -> None:
        self._link.connected(self)

    def dataReceived(self, data: bytes) -> None:
        self._link.received(self, data)

    def connectionLost(self, reason: object = None) -> None:
        self._link.lost(self)


class PeerLink:
    """One configured peer: its state machine, its current connection and its watchdog timer."""

    def __init__(self, node: DiameterNode, name: str, machine: PeerMachine) -> None:
        self.name = name
        self.machine = machine
        self._node = node
        self._reactor = node.reactor
        self._protocol: PeerProtocol | None = None
        self._timer = _Timer(node.reactor, self._on_timer)
        self.closed: Deferred[None] | None = None

    def connected(self, protocol: PeerProtocol) -> None:
        self._protocol = protocol
        self._dispatch(self.machine.connection_made(self._reactor.seconds()))

    def received(self, protocol: PeerProtocol, data: bytes) -> None:
        """Bytes after the link went down or closed (the socket is closing) are dropped, not re-failed."""
        if protocol is self._protocol and self.machine.state not in (PeerState.DOWN, PeerState.CLOSED):
            self._dispatch(self.machine.receive_data(data, self._reactor.seconds()))

    def lost(self, protocol: PeerProtocol) -> None:
        if protocol is not self._protocol:
            return
        self._protocol = None
        self._timer.cancel()
        self._dispatch(self.machine.connection_lost(self._reactor.seconds()))
        self._notify_closed()

    def shutdown(self) -> Deferred[None]:
        """DPR, then wait for DPA or the DPA timeout; resolves at once if the link is not up."""
        self.closed = Deferred()
        self._dispatch(self.machine.shutdown(self._reactor.seconds()))
        if self._protocol is None or self.machine.state is PeerState.CLOSED:
            self._notify_closed()
        return self.closed

    def flush(self) -> None:
        frames = self.machine.data_to_send()
        if frames and self._protocol is not None and self._protocol.transport is not None:
            if self._node.trace_messages:
                for frame in frames:
                    tracing.trace("out", self.name, raw=frame)
            self._protocol.transport.writeSequence(frames)
        self._timer.arm(self.machine.get_timer())

    def _on_timer(self) -> None:
        self._dispatch(self.machine.handle_timer(self._reactor.seconds()))

    def _dispatch(self, events: list[Event]) -> None:
        for event in events:
            self._node.peer_event(self, event)
        self.flush()
        if any(isinstance(e, PeerWentDown | PeerClosed) for e in events):
            if self._protocol is not None and self._protocol.transport is not None:
                self._protocol.transport.loseConnection()
            self._notify_closed()

    def _notify_closed(self) -> None:
        if self.closed is not None and not self.closed.called:
            self.closed.callback(None)


class DiameterNode(MultiService):
    """All of roamback's Diameter peers behind one ``request()``; add it to the service tree."""

    def __init__(
        self, reactor: Any, identity: LocalIdentity, peers: list[PeerEndpoint], *, timers: PeerTimers,
        tx: float, tc: float, trace: bool = True,
    ) -> None:
        super().__init__()
        self.reactor = reactor
        self.identity = identity
        self.trace_messages = trace
        self.links: dict[str, PeerLink] = {}
        seed = int(reactor.seconds())
        for index, peer in enumerate(peers):
            self._add_link(peer, PeerMachine(identity, timers, first_hop_by_hop=(seed << 8) + (index << 24),
                                             observer=self._tracer(peer.route.name)), tc)
        self.router = Router(
            [p.route for p in peers], {name: link.machine for name, link in self.links.items()}, tx=tx,
            first_end_to_end=(seed & 0xFFF) << 20,
        )
        self._router_timer = _Timer(reactor, self._on_router_timer)
        self._waiting: dict[int, Deferred[Message]] = {}
        self._handler: RequestHandler | None = None
        self._observers: list[Callable[[str, Event], None]] = []

    def set_request_handler(self, handler: RequestHandler) -> None:
        """``handler(peer, request)`` returns the encoded answer to a server's request (RAR, ASR)."""
        self._handler = handler

    def observe(self, observer: Callable[[str, Event], None]) -> None:
        """Be told of every peer event (opened, suspect, down...): for metrics, logs and tests."""
        self._observers.append(observer)

    def request(self, request: OutgoingRequest) -> Deferred[Message]:
        """Send and wait for the answer; fails with ``RequestNotAnswered`` after Tx or with no route."""
        token, events = self.router.submit(request, self.reactor.seconds())
        result: Deferred[Message] = Deferred()
        self._waiting[token] = result
        self._after_routing(events)
        return result

    def stopService(self) -> Deferred[Any]:
        """DPR on every open link, then close the sockets; requests still waiting fail (SHUTDOWN)."""
        closing = DeferredList([link.shutdown() for link in self.links.values()])
        closing.addCallback(lambda _: MultiService.stopService(self))
        closing.addCallback(lambda _: self._after_routing(self.router.abandon_all()))
        closing.addCallback(lambda _: self._router_timer.cancel())
        return closing

    # -- from the links ----------------------------------------------------------------------------

    def peer_event(self, link: PeerLink, event: Event) -> None:
        if isinstance(event, AnswerReceived):
            self._after_routing(self.router.answer_received(link.name, event.message))
            return
        if isinstance(event, RequestReceived):
            self._answer(link, event.message)
            return
        log.info("diameter peer {peer}: {event}", peer=link.name, event=event)
        if isinstance(event, PeerSuspected | PeerWentDown | PeerClosed):
            self.router.peer_unavailable(link.name)
            self._flush_all()
        for observer in self._observers:
            observer(link.name, event)

    # -- internals ---------------------------------------------------------------------------------

    def _add_link(self, peer: PeerEndpoint, machine: PeerMachine, tc: float) -> None:
        link = PeerLink(self, peer.route.name, machine)
        self.links[peer.route.name] = link
        factory = Factory.forProtocol(lambda: PeerProtocol(link))
        endpoint = clientFromString(self.reactor, peer.endpoint)
        ClientService(endpoint, factory, retryPolicy=lambda _attempt: tc, clock=self.reactor).setServiceParent(self)

    def _tracer(self, name: str) -> Callable[[Message], None] | None:
        if not self.trace_messages:
            return None
        return lambda message: tracing.trace("in", name, message=message)

    def _answer(self, link: PeerLink, message: Message) -> None:
        if self._handler is None:
            raw = encode_answer(message, (
                encode(avp("Result-Code"), ResultCode.COMMAND_UNSUPPORTED),
                encode(avp("Origin-Host"), self.identity.origin_host),
                encode(avp("Origin-Realm"), self.identity.origin_realm),
            ), error=True)
        else:
            raw = self._handler(link.name, message)
        link.machine.send_answer(raw)

    def _after_routing(self, events: list[RouterEvent]) -> None:
        self._flush_all()
        for event in events:
            waiting = self._waiting.pop(event.token)
            if isinstance(event, RequestAnswered):
                waiting.callback(event.message)
            elif isinstance(event, RequestFailed):
                waiting.errback(RequestNotAnswered(event.reason))
        self._router_timer.arm(self.router.get_timer())

    def _flush_all(self) -> None:
        for link in self.links.values():
            link.flush()

    def _on_router_timer(self) -> None:
        self._after_routing(self.router.handle_timer(self.reactor.seconds()))
