"""ESME role: a link to one SMSC/USSDC endpoint made of several binds, each kept up by a ClientService.

A link is what an operator contract describes: one address (``tcp:`` or ``tls:`` endpoint string), a
system_id/password, and a number of binds (one transceiver, or transmitter + receiver pairs). Submits are
spread over the bound transmitters; a bind that drops is re-established with exponential backoff and jitter
that only resets once a bind succeeds, so a wrong password does not hammer the peer.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from twisted.application.internet import ClientService, backoffPolicy
from twisted.application.service import MultiService
from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.endpoints import clientFromString
from twisted.internet.interfaces import IReactorTime, IStreamClientEndpoint
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.python.failure import Failure

from .events import BindFailed, BindSucceeded, FailureReason, Role, State
from .pdus import Bind, CommandId, MessageResp, Pdu, Status
from .protocol import RequestHandler, SmppProtocol, SmppRequestError
from .session import SessionConfig

log = Logger()

BIND_KINDS = {
    "transceiver": CommandId.BIND_TRANSCEIVER,
    "transmitter": CommandId.BIND_TRANSMITTER,
    "receiver": CommandId.BIND_RECEIVER,
}
_SENDING_STATES = (State.BOUND_TX, State.BOUND_TRX)


@dataclass(frozen=True)
class LinkConfig:
    name: str
    endpoint: str
    """A Twisted client endpoint string: ``tcp:host=smsc.example:port=2775`` or ``tls:smsc.example:3550``."""
    system_id: str
    password: str = field(repr=False)
    system_type: str = ""
    binds: Sequence[str] = ("transceiver",)
    """One entry per bind: ``transceiver``, ``transmitter`` or ``receiver``."""
    session: SessionConfig = field(default_factory=SessionConfig)
    reconnect_initial: float = 1.0
    reconnect_max: float = 60.0


class EsmeProtocol(SmppProtocol):
    role = Role.ESME
    failure_status = Status.RX_T_APPN
    """A handler failure is temporary from the SMSC's point of view: it will deliver again."""

    def __init__(self, factory: _BindFactory, link: EsmeLink) -> None:
        super().__init__(link.config.session, link.clock, link.handler, link.name)
        self._factory = factory
        self._link = link

    def opened(self) -> None:
        assert self.session is not None
        self.session.bind(self._factory.bind, self._clock.seconds())

    def bind_succeeded(self, event: BindSucceeded) -> None:
        self._factory.failures = 0
        self._link.last_bind_failure = None
        self._link.bind_up(self)

    def bind_failed(self, event: BindFailed) -> None:
        status = "no answer" if event.status is None else f"status {event.status:#04x}"
        log.warn("SMPP link {link}: bind refused ({status})", link=self.origin, status=status)
        self._link.last_bind_failure = event

    def connectionLost(self, reason: Failure | None = None) -> None:
        self._link.bind_down(self)
        super().connectionLost(reason)

    @property
    def can_submit(self) -> bool:
        return self.session is not None and self.session.state in _SENDING_STATES


class _BindFactory(Factory):
    """Builds the protocol for one bind slot and counts its failures for the reconnect backoff."""

    def __init__(self, bind: Bind, link: EsmeLink) -> None:
        self.bind = bind
        self._link = link
        self.failures = 0

    def buildProtocol(self, addr: object) -> EsmeProtocol:
        return EsmeProtocol(self, self._link)

    def retry_delay(self, policy: Callable[[int], float]) -> Callable[[int], float]:
        """ClientService resets its counter on every TCP connect; ours resets only on a successful bind."""

        def delay(_attempt: int) -> float:
            self.failures += 1
            return policy(self.failures)

        return delay


class EsmeLink(MultiService):
    """All binds of one link; ``submit`` picks the least loaded bound transmitter."""

    def __init__(
        self,
        config: LinkConfig,
        handler: RequestHandler,
        reactor: IReactorTime,
        endpoint: IStreamClientEndpoint | None = None,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        super().__init__()
        self.setName(config.name)
        self.config = config
        self.handler = handler
        self.clock = reactor
        self._bound: list[EsmeProtocol] = []
        self.last_bind_failure: BindFailed | None = None
        """The latest refused bind until one succeeds: what an operator looks at when a link stays down."""
        endpoint = endpoint or clientFromString(reactor, config.endpoint)
        policy = backoffPolicy(config.reconnect_initial, config.reconnect_max, 2.0, jitter)
        for index, kind in enumerate(config.binds):
            factory = _BindFactory(Bind(BIND_KINDS[kind], config.system_id, config.password, config.system_type), self)
            service = ClientService(endpoint, factory, factory.retry_delay(policy), reactor)
            service.setName(f"{config.name}-{index}-{kind}")
            service.setServiceParent(self)

    @property
    def bound(self) -> tuple[EsmeProtocol, ...]:
        return tuple(self._bound)

    def submit(self, pdu: Pdu) -> Deferred[MessageResp]:
        """Send a submit_sm/data_sm on the least loaded transmitter; fails with ``SmppRequestError``.

        A request still queued on a bind that goes down never reached the peer, so it moves to another
        bound transmitter; one that was sent and lost its bind fails (the SMSC may have accepted it).
        """
        return self._submit(pdu, tried=frozenset())

    def _submit(self, pdu: Pdu, tried: frozenset[int]) -> Deferred[MessageResp]:
        bind, least = None, 0
        for candidate in self._bound:  # the first least loaded, as min() would pick, without a list per submit
            if candidate.can_submit and id(candidate) not in tried:
                load = candidate.load
                if bind is None or load < least:
                    bind, least = candidate, load
        if bind is None:
            return _failed(SmppRequestError(FailureReason.NOT_SENT, Status.RBINDFAIL))
        result: Deferred[MessageResp] = bind.request(pdu)  # type: ignore[assignment]
        return result.addErrback(self._retry_elsewhere, pdu, tried, bind)

    def _retry_elsewhere(
        self, failure: Failure, pdu: Pdu, tried: frozenset[int], bind: EsmeProtocol
    ) -> Deferred[MessageResp] | Failure:
        failure.trap(SmppRequestError)
        if failure.value.reason is FailureReason.NOT_SENT and self.running:
            return self._submit(pdu, tried | {id(bind)})
        return failure

    def bind_up(self, protocol: EsmeProtocol) -> None:
        self._bound.append(protocol)

    def bind_down(self, protocol: EsmeProtocol) -> None:
        if protocol in self._bound:
            self._bound.remove(protocol)

    def stopService(self) -> Deferred[None]:
        """Unbind every bind (bounded by the response timeout), then stop reconnecting."""
        unbinding = [protocol.unbind() for protocol in list(self._bound)]
        done: Deferred[None] = DeferredList(unbinding, consumeErrors=True)  # type: ignore[assignment]
        done.addCallback(lambda _: super(EsmeLink, self).stopService())
        return done


def _failed(error: Exception) -> Deferred[MessageResp]:
    result: Deferred[MessageResp] = Deferred()
    result.errback(error)
    return result
