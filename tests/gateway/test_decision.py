"""DecisionWaiter answers from the stored decision, without waiting for the engine's submit to return
(which it does only after leg A was dialled), and passes on what the engine raised before storing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import defer, reactor

from roamback.core.model import CallbackRequest, CallbackTrigger, Channel, Transition
from roamback.core.states import RequestState
from roamback.gateway.decision import DecisionWaiter
from roamback.runtime import TwistedRuntime

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


class SlowEngine:
    """Stores the decision at once, then 'dials' until released: like the real engine, submit returns late."""

    def __init__(self, decide: RequestState | Exception) -> None:
        self.decide = decide
        self.listeners: list[Any] = []
        self.dialled: defer.Deferred[None] = defer.Deferred()

    def add_listener(self, listener: Any) -> None:
        self.listeners.append(listener)

    async def submit(self, trigger: CallbackTrigger) -> CallbackRequest:
        if isinstance(self.decide, Exception):
            raise self.decide
        request = CallbackRequest("r1", trigger.channel, trigger.requester, trigger.destination, None, "en", NOW,
                                  reference=trigger.reference)
        request.state = self.decide
        for listener in self.listeners:
            listener(request, Transition(request.id, RequestState.RECEIVED, self.decide, NOW))
        await self.dialled  # the reservation and leg A would happen here
        return request


def trigger(reference: str = "ref-1") -> CallbackTrigger:
    return CallbackTrigger(Channel.USSD, "+33612345678", "+4915112345678", reference=reference)


@pytest.mark.parametrize("decision", [RequestState.ACCEPTED, RequestState.REFUSED])
@pytest_twisted.ensureDeferred
async def test_the_decision_comes_back_before_submit_returns(decision: RequestState) -> None:
    engine = SlowEngine(decision)
    request = await DecisionWaiter(engine, TwistedRuntime(reactor)).submit(trigger())
    assert request.state is decision and not engine.dialled.called
    engine.dialled.callback(None)


@pytest_twisted.ensureDeferred
async def test_an_engine_failure_before_storing_is_raised_and_a_reference_is_required() -> None:
    waiter = DecisionWaiter(SlowEngine(RuntimeError("database down")), TwistedRuntime(reactor))
    with pytest.raises(RuntimeError, match="database down"):
        await waiter.submit(trigger())
    with pytest.raises(ValueError, match="reference"):
        await waiter.submit(trigger(reference=""))
