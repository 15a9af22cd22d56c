"""The ``Core`` port on the callback engine: the dialogue hears the decision as soon as it is stored.

A caller still on the trigger call (ringing unanswered, or in the IVR) would be busy to their own
call-back if the dialogue waited for leg A to be dialled, so it answers from the stored decision
(``gateway.decision.DecisionWaiter``).
"""

from __future__ import annotations

from twisted.logger import Logger

from ...core.model import CallbackTrigger
from ...core.ports import Runtime
from ...core.states import RequestState
from ..decision import DecisionWaiter, Engine
from ._dialogues import CoreUnavailable, Outcome

log = Logger()

__all__ = ["Engine", "EngineCore"]


class EngineCore:
    def __init__(self, engine: Engine, runtime: Runtime) -> None:
        self._waiter = DecisionWaiter(engine, runtime)

    async def submit(self, trigger: CallbackTrigger) -> Outcome:
        try:
            request = await self._waiter.submit(trigger)
        except ValueError:
            raise
        except Exception as exc:
            log.failure("The core could not store trigger {reference}", reference=trigger.reference)
            raise CoreUnavailable(str(exc)[:200]) from exc
        return Outcome.REFUSED if request.state is RequestState.REFUSED else Outcome.ACCEPTED
