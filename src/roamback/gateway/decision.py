"""Submit a trigger and hear back as soon as its decision is stored, not when leg A has been dialled.

``CallbackEngine.submit`` returns only after leg A was handed to the switch (the reservation and the dial
come first). Some doors must answer earlier: a caller still on a missed call would be busy to their own
call-back, and a USSD centre with a short screen timer may prefer "accepted" at once. The engine's
transition listener reports the first stored decision, ACCEPTED or REFUSED; the engine's own return covers
what the listener cannot see (a resent trigger answered with the stored request).
"""

from __future__ import annotations

from typing import Protocol

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from ..core.engine import TransitionListener
from ..core.model import CallbackRequest, CallbackTrigger, Transition
from ..core.ports import Runtime
from ..core.states import RequestState

log = Logger()


class Engine(Protocol):
    """The part of ``core.engine.CallbackEngine`` a door needs."""

    async def submit(self, trigger: CallbackTrigger) -> CallbackRequest: ...

    def add_listener(self, listener: TransitionListener) -> None: ...


class DecisionWaiter:
    def __init__(self, engine: Engine, runtime: Runtime) -> None:
        self._engine = engine
        self._runtime = runtime
        self._waiting: dict[str, Deferred[CallbackRequest]] = {}
        engine.add_listener(self._on_transition)

    async def submit(self, trigger: CallbackTrigger) -> CallbackRequest:
        """The request once accepted or refused; raises what the engine raised if nothing was stored."""
        reference = trigger.reference
        if not reference or reference in self._waiting:
            raise ValueError(f"a trigger needs a reference of its own, got {reference!r}")
        waiter: Deferred[CallbackRequest] = Deferred()
        self._waiting[reference] = waiter
        done = Deferred.fromCoroutine(self._engine.submit(trigger))
        done.addCallbacks(self._submitted, self._failed, callbackArgs=(reference,), errbackArgs=(reference,))
        return await waiter

    def _on_transition(self, request: CallbackRequest, transition: Transition) -> None:
        if transition.target in (RequestState.ACCEPTED, RequestState.REFUSED):
            self._settle(request.reference, request)

    def _submitted(self, request: CallbackRequest, reference: str) -> None:
        self._settle(reference, request)

    def _failed(self, failure: Failure, reference: str) -> None:
        waiter = self._waiting.pop(reference, None)
        if waiter is None:  # failed after the decision was stored: the engine's recovery owns it now
            log.failure("Callback request of trigger {reference} failed after it was stored", failure,
                        reference=reference)
            return
        self._runtime.call_later(0, waiter.errback, failure)

    def _settle(self, reference: str | None, request: CallbackRequest) -> None:
        waiter = self._waiting.pop(reference or "", None)
        if waiter is not None:
            # Next turn, not here: this runs inside the engine's commit, which must not run a door's code.
            self._runtime.call_later(0, waiter.callback, request)
