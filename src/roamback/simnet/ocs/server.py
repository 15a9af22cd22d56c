"""The OCS on the network: a TCP listener whose connections each run a ``Responder``, all sharing one
``CreditControlServer`` and ``Book``.

The protocol only moves bytes and time in and out of the responder (one DelayedCall for its timer) and
hands application requests to the credit-control server, which answers synchronously.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.interfaces import IDelayedCall, IListeningPort
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from ...diameter.peer import Event, LocalIdentity, PeerClosed, PeerOpened, RequestReceived
from ...diameter.settings import DiameterPeerSettings, RoSettings
from ._answers import origin_avps
from ._credit import CreditControlServer
from ._responder import Responder
from .book import Account, Book
from .settings import OcsSettings

log = Logger()
_UNSPECIFIED = {"0.0.0.0": "127.0.0.1", "::": "::1"}


class OcsProtocol(Protocol):
    def __init__(self, factory: OcsFactory) -> None:
        self._factory = factory
        self._reactor = factory.reactor
        settings = factory.settings
        self.responder = Responder(factory.identity, cer_timeout=settings.cer_timeout_seconds,
                                   dpa_timeout=settings.dpa_timeout_seconds)
        self._timer: IDelayedCall | None = None
        self.closed: Deferred[None] = Deferred()

    def connectionMade(self) -> None:
        self._factory.connections.add(self)
        self.responder.connection_made(self._reactor.seconds())
        self._flush()

    def dataReceived(self, data: bytes) -> None:
        self._dispatch(self.responder.receive_data(data, self._reactor.seconds()))

    def connectionLost(self, reason: Failure | None = None) -> None:
        self._arm(None)
        self._factory.connections.discard(self)
        self.closed.callback(None)

    def shutdown(self) -> Deferred[None]:
        """DPR, then close when the DPA comes or the DPA timer runs out; fires once the socket is closed."""
        self._dispatch(self.responder.shutdown(self._reactor.seconds()))
        return self.closed

    def _dispatch(self, events: list[Event]) -> None:
        closing = False
        for event in events:
            if isinstance(event, RequestReceived):
                self.responder.send_answer(self._factory.application.handle(event.message))
            elif isinstance(event, PeerOpened):
                log.info("OCS: peer {host} ({realm}) connected", host=event.host, realm=event.realm)
            elif isinstance(event, PeerClosed):
                log.info("OCS: closing the link to {host}: {reason}", host=self.responder.remote_host or "?",
                         reason=event.reason)
                closing = True
        self._flush()
        if closing and self.transport is not None:
            self.transport.loseConnection()

    def _flush(self) -> None:
        frames = self.responder.data_to_send()
        if frames and self.transport is not None:
            self.transport.writeSequence(frames)
        self._arm(self.responder.get_timer())

    def _arm(self, deadline: float | None) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        if deadline is not None:
            self._timer = self._reactor.callLater(max(0.0, deadline - self._reactor.seconds()), self._fired)

    def _fired(self) -> None:
        self._timer = None
        self._dispatch(self.responder.handle_timer(self._reactor.seconds()))


class OcsFactory(Factory):
    def __init__(self, settings: OcsSettings, reactor: Any) -> None:
        self.settings = settings
        self.reactor = reactor
        self.identity = LocalIdentity(
            origin_host=settings.origin_host, origin_realm=settings.origin_realm,
            host_ip_addresses=(_UNSPECIFIED.get(settings.host, settings.host),), vendor_id=settings.vendor_id,
            product_name=settings.product_name, origin_state_id=int(reactor.seconds()) & 0xFFFFF,
        )
        self.book = Book(settings)
        self.application = CreditControlServer(
            settings, self.book, origin_avps(settings.origin_host, settings.origin_realm)
        )
        self.connections: set[OcsProtocol] = set()

    def buildProtocol(self, addr: Any) -> OcsProtocol:
        return OcsProtocol(self)


@dataclass
class RunningOcs:
    settings: OcsSettings
    listening: IListeningPort
    factory: OcsFactory

    @property
    def port(self) -> int:
        """The port actually listened on (the one picked when the settings said 0)."""
        return int(self.listening.getHost().port)

    @property
    def book(self) -> Book:
        return self.factory.book

    def account(self, msisdn: str) -> Account | None:
        return self.book.account(msisdn)

    def ro_settings(self, *, origin_host: str, origin_realm: str, **overrides: Any) -> RoSettings:
        """The service's Ro settings that reach this OCS: realm, peer address and the legs' MSCC keys."""
        settings = self.settings
        peer = DiameterPeerSettings(name="simnet-ocs", host=_UNSPECIFIED.get(settings.host, settings.host),
                                    port=self.port, realm=settings.origin_realm)
        values: dict[str, Any] = dict(
            origin_host=origin_host, origin_realm=origin_realm, destination_realm=settings.origin_realm,
            peers=[peer], leg_a=settings.leg_a, leg_b=settings.leg_b,
        )
        values.update(overrides)
        return RoSettings.model_validate(values)

    def stop(self) -> Deferred[Any]:
        """Stop accepting, DPR every open link and wait (bounded by the DPA timeout) until all are closed."""
        stopping = [self.listening.stopListening()]
        stopping += [connection.shutdown() for connection in list(self.factory.connections)]
        return DeferredList([d for d in stopping if d is not None], consumeErrors=True)


def start_ocs(settings: OcsSettings, reactor: Any) -> RunningOcs:
    """Listen now (raises ``CannotListenError`` if the port is taken) and return the running OCS."""
    factory = OcsFactory(settings, reactor)
    listening = reactor.listenTCP(settings.port, factory, interface=settings.host)
    log.info("OCS {host} ({realm}) listening on {address}:{port} with {count} accounts",
             host=settings.origin_host, realm=settings.origin_realm, address=settings.host,
             port=listening.getHost().port, count=len(factory.book.accounts))
    return RunningOcs(settings, listening, factory)
