"""SMSC role: accept binds from ESMEs, hand their submit_sm to the application, push deliver_sm to them.

This is what the SMSC/USSDC simulator and the tests run against our own ESME, and what an operator-facing
"we are the USSD centre" deployment would listen with. Credentials are checked by an injected authenticator
so a deployment can back it with its own store.
"""

from __future__ import annotations

import hmac
import itertools
from collections.abc import Mapping
from typing import Protocol as TypingProtocol

from twisted.internet.defer import Deferred, gatherResults, maybeDeferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.python.failure import Failure

from .events import BindFailed, BindRequested, BindSucceeded, FailureReason, Role, State
from .pdus import Bind, MessageResp, Pdu, Status
from .protocol import RequestHandler, SmppProtocol, SmppRequestError
from .session import SessionConfig

log = Logger()
_RECEIVING_STATES = (State.BOUND_RX, State.BOUND_TRX)


class Authenticator(TypingProtocol):
    def authenticate(self, bind: Bind) -> int | Deferred[int]:
        """Return ESME_ROK (0) to accept the bind, or the command_status to refuse it with."""
        ...


class PasswordAuthenticator:
    """Fixed system_id -> password table, compared in constant time."""

    def __init__(self, passwords: Mapping[str, str]) -> None:
        self._passwords = dict(passwords)

    def authenticate(self, bind: Bind) -> int:
        expected = self._passwords.get(bind.system_id)
        if expected is None:
            return Status.RINVSYSID
        if not hmac.compare_digest(expected.encode(), bind.password.encode()):
            return Status.RINVPASWD
        return Status.ROK


class SmscProtocol(SmppProtocol):
    role = Role.SMSC

    def __init__(self, factory: SmscFactory) -> None:
        super().__init__(factory.config, factory.clock, factory.handler, origin="(not bound)")
        self._factory = factory
        self.system_id: str | None = None

    def bind_requested(self, event: BindRequested) -> None:
        def decide(status: int) -> None:
            assert self.session is not None
            if self.session.state is not State.BINDING:
                return  # the bind timed out or the connection dropped while we were deciding
            now = self._clock.seconds()
            if status == Status.ROK:
                self.session.accept_bind(self._factory.system_id, now)
            else:
                self.session.reject_bind(status, now)
            self.flush()

        def failed(failure: Failure) -> int:
            log.failure("SMPP bind check for {system_id} failed", failure, system_id=event.bind.system_id)
            return Status.RBINDFAIL

        maybeDeferred(self._factory.authenticator.authenticate, event.bind).addErrback(failed).addCallback(decide)

    def bind_succeeded(self, event: BindSucceeded) -> None:
        self.system_id = self.origin = event.system_id
        self._factory.bound.append(self)

    def bind_failed(self, event: BindFailed) -> None:
        log.info("SMPP bind refused with status {status}", status=event.status)

    def connectionLost(self, reason: Failure | None = None) -> None:
        if self in self._factory.bound:
            self._factory.bound.remove(self)
        super().connectionLost(reason)

    @property
    def can_receive(self) -> bool:
        return self.session is not None and self.session.state in _RECEIVING_STATES


class SmscFactory(Factory):
    """Listens for ESMEs; ``deliver`` pushes a deliver_sm/data_sm to one of a system_id's receivers."""

    def __init__(
        self,
        authenticator: Authenticator,
        handler: RequestHandler,
        clock: IReactorTime,
        *,
        system_id: str = "roamback",
        config: SessionConfig | None = None,
    ) -> None:
        self.authenticator = authenticator
        self.handler = handler
        self.clock = clock
        self.system_id = system_id
        self.config = config or SessionConfig()
        self.bound: list[SmscProtocol] = []
        self._turn = itertools.count()

    def buildProtocol(self, addr: object) -> SmscProtocol:
        return SmscProtocol(self)

    def receivers(self, system_id: str) -> list[SmscProtocol]:
        return [p for p in self.bound if p.system_id == system_id and p.can_receive]

    def deliver(self, system_id: str, pdu: Pdu) -> Deferred[MessageResp]:
        """Send ``pdu`` on a receiver/transceiver bind of ``system_id`` (round robin); fires with its response.

        Fails with ``SmppRequestError`` (NOT_SENT) when that ESME has no receiving bind.
        """
        receivers = self.receivers(system_id)
        if not receivers:
            result: Deferred[MessageResp] = Deferred()
            result.errback(SmppRequestError(FailureReason.NOT_SENT, Status.RBINDFAIL))
            return result
        receiver = receivers[next(self._turn) % len(receivers)]
        return receiver.request(pdu)  # type: ignore[return-value]

    def unbind_all(self) -> Deferred[list[object]]:
        """Unbind every ESME, e.g. before the listening port stops."""
        return gatherResults([p.unbind() for p in list(self.bound)])
