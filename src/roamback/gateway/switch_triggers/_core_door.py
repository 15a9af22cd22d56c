"""The ``Core`` port on the callback engine: hear the decision as soon as it is stored.

``CallbackEngine.submit`` returns only after leg A has been originated. A caller still on the trigger
call (ringing unanswered, or in the IVR) would then be busy to their own callback, so the dialogue must
learn the outcome earlier: the engine's transition listener reports the first stored decision, ACCEPTED
or REFUSED, before the reservation and the dialling that follow it. The engine's own return covers what
the listener cannot see: a resent trigger (same reference) answered with the stored request.
"""

from __future__ import annotations

from typing import Protocol

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from ...core.engine import TransitionListener
from ...core.model import CallbackRequest, CallbackTrigger, Transition
from ...core.ports import Runtime
from ...core.states import RequestState
from ._dialogues import CoreUnavailable, Outcome

log = Logger()

class Engine(Protocol):
    """The part of ``core.engine.CallbackEngine`` this door uses."""

    async def submit(self, trigger: CallbackTrigger) -> CallbackRequest: ...

    def add_listener(self, listener: TransitionListener) -> None: ...


class EngineCore:
    def __init__(self, engine: Engine, runtime: Runtime) -> None:
        self._engine = engine
        self._runtime = runtime
        self._waiting: dict[str, Deferred[Outcome]] = {}
        engine.add_listener(self._on_transition)

    async def submit(self, trigger: CallbackTrigger) -> Outcome:
        reference = trigger.reference
        if not reference or reference in self._waiting:
            raise ValueError(f"a trigger needs a reference of its own, got {reference!r}")
        waiter: Deferred[Outcome] = Deferred()
        self._waiting[reference] = waiter
        done = Deferred.fromCoroutine(self._engine.submit(trigger))
        done.addCallbacks(self._submitted, self._failed, callbackArgs=(reference,), errbackArgs=(reference,))
        return await waiter

    def _on_transition(self, request: CallbackRequest, transition: Transition) -> None:
        if transition.target in (RequestState.ACCEPTED, RequestState.REFUSED):
            outcome = Outcome.REFUSED if transition.target is RequestState.REFUSED else Outcome.ACCEPTED
            self._settle(request.reference, outcome)

    def _submitted(self, request: CallbackRequest, reference: str) -> None:
        self._settle(reference, Outcome.REFUSED if request.state is RequestState.REFUSED else Outcome.ACCEPTED)

    def _failed(self, failure: Failure, reference: str) -> None:
        waiter = self._waiting.pop(reference, None)
        if waiter is None:  # failed after the decision was stored: the engine's recovery owns it now
            log.failure("Callback request of trigger {reference} failed after it was stored", failure,
                        reference=reference)
            return
        log.failure("The core could not store trigger {reference}", failure, reference=reference)
        self._runtime.call_later(0, waiter.errback, CoreUnavailable(str(failure.value)[:200]))

    def _settle(self, reference: str | None, outcome: Outcome) -> None:
        waiter = self._waiting.pop(reference or "", None)
        if waiter is not None:
            # Next turn, not here: this runs inside the engine's commit, which must not run our dialogue.
            self._runtime.call_later(0, waiter.callback, outcome)
