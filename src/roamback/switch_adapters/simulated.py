"""An embedded switch that plays two-leg callbacks out in (possibly fake, possibly compressed) time.

It is a real ``SwitchAdapter``, not a mock: demos and load tests run the whole service against it, so it
reports what a real switch reports, in the order a real switch reports it, and enforces the plan's leg
limits itself as a switch-side backstop would (``set_limits`` moves them when charging renews the grant).
Which number answers, is busy or does not exist is set by ``OutcomeRule``s, so a demo can show every
failure path with ordinary-looking numbers.

Only the injected ``Runtime`` gives time and timers: with a ``task.Clock`` behind it a test steps through
a call deterministically, and a ``TwistedRuntime(speed=...)`` compresses every delay and timestamp
alike, so a load test keeps realistic proportions (and CDR durations) at a fraction of the wall time.

Timing per leg, counted from its DIALLING event: answer after ``ring_seconds``; busy after half of it;
no answer at the plan's ring timeout (also when ``ring_seconds`` would reach it); unallocated after 0.5 s;
rejected after ``ring_seconds`` (the callee declined while it rang). In the sequential modes the first leg
to answer hears the prompt for ``prompt_seconds`` before the other leg is dialled; in simultaneous mode
both legs ring at once and are bridged when the second answers.

Calls also come in (``incoming_call``): a phone dialling the service, handed to whoever listens with
``subscribe_inbound`` (the switch-side trigger door), which rejects or answers it as a Stasis
application would on Asterisk. With no listener the switch ends such a call as one to a number it does
not route: unallocated.
"""

from __future__ import annotations

import re
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal, Protocol, cast, get_args

from twisted.logger import Logger

from ..core.model import CallMode, CallPlan, Leg, LegEvent, LegEventKind
from ..core.ports import Cancellable, Runtime
from ..core.reasons import HangupCause

log = Logger()

Outcome = Literal["answer", "busy", "no_answer", "unallocated", "rejected"]
RuleLeg = Literal["A", "B", "any"]

_UNALLOCATED_SECONDS = 0.5
_FAILURE_CAUSES: dict[str, HangupCause] = {
    "busy": HangupCause.BUSY,
    "no_answer": HangupCause.NO_ANSWER,
    "unallocated": HangupCause.UNALLOCATED,
    "rejected": HangupCause.REJECTED,
}


@dataclass(frozen=True, slots=True)
class OutcomeRule:
    """What happens when a number matching ``match`` (``re.search``, so anchor it) is dialled on ``leg``.

    ``talk_seconds`` overrides how long the parties talk once bridged (leg B's rule first, then leg A's).
    """

    match: re.Pattern[str]
    leg: RuleLeg = "any"
    outcome: Outcome = "answer"
    talk_seconds: float | None = None

    def __post_init__(self) -> None:
        # Rules usually come from a config file: a typo must fail at start-up, not as a silent "answer".
        if self.leg not in get_args(RuleLeg):
            raise ValueError(f"rule leg must be one of {get_args(RuleLeg)}, not {self.leg!r}")
        if self.outcome not in get_args(Outcome):
            raise ValueError(f"rule outcome must be one of {get_args(Outcome)}, not {self.outcome!r}")
        if self.talk_seconds is not None and self.talk_seconds < 0:
            raise ValueError("rule talk_seconds must not be negative")

    def applies(self, leg: Leg, number: str) -> bool:
        return self.leg in ("any", leg.value) and self.match.search(number) is not None


class RuleSpec(Protocol):
    """A rule as configuration describes it (``config.SwitchRule``), with the pattern still as text."""

    match: str
    leg: str
    outcome: str
    talk_seconds: float | None


def rules_from_config(specs: Iterable[RuleSpec]) -> tuple[OutcomeRule, ...]:
    """Compile configured rules, keeping their order: the first match wins."""
    return tuple(
        OutcomeRule(
            re.compile(spec.match),
            cast(RuleLeg, spec.leg),
            cast(Outcome, spec.outcome),
            spec.talk_seconds,
        )
        for spec in specs
    )


class _LegState:
    """One leg of a live call. ``timer`` rings it while dialling and cuts it at its limit once answered."""

    __slots__ = ("answered_at", "leg", "outcome", "phase", "timer")

    def __init__(self, leg: Leg, outcome: Outcome) -> None:
        self.leg = leg
        self.outcome = outcome
        self.phase: LegEventKind | None = None  # None: not dialled (or already ended); DIALLING; ANSWERED
        self.timer: Cancellable | None = None
        self.answered_at: datetime | None = None


class _Call:
    """A live call; ``timer`` is the call-level step in progress (first dial, prompt, or talk)."""

    __slots__ = ("a", "b", "last_at", "plan", "talk_seconds", "timer")

    def __init__(self, plan: CallPlan, a: _LegState, b: _LegState, talk_seconds: float) -> None:
        self.plan = plan
        self.a = a
        self.b = b
        self.talk_seconds = talk_seconds
        self.timer: Cancellable | None = None
        self.last_at: datetime | None = None

    def other(self, leg: _LegState) -> _LegState:
        return self.b if leg is self.a else self.a


class InboundCall:
    """A call dialled into the switch: it rings until the door rejects it, or answers it to play prompts.

    The caller's side is ``press`` and ``leave``; the door's side is ``reject``, ``answer``, ``play`` and
    ``hang_up``, and ``watch`` wakes it on every key or end. ``end_cause`` stays None while the call lasts:
    a rejected call ends with the door's cause and ``answered`` still False, which is how a demo shows that
    a missed call cost the caller nothing. Keys wait in ``keyed`` until the door reads them, so a scripted
    caller can key a whole dialogue at once.
    """

    def __init__(self, call_id: str, caller: str, dialled: str) -> None:
        self.call_id = call_id
        self.caller = caller
        self.dialled = dialled
        self.answered = False
        self.end_cause: HangupCause | None = None
        self.heard: list[str] = []
        self.keyed: deque[str] = deque()
        self._watchers: list[Callable[[], None]] = []

    def watch(self, watcher: Callable[[], None]) -> None:
        self._watchers.append(watcher)

    def press(self, digits: str) -> None:
        if not self.answered or self.end_cause is not None:
            raise ValueError("DTMF needs media: the call must be answered and still up")
        self.keyed.extend(digits)
        self._changed()

    def leave(self) -> None:
        """The caller hangs up: abandoned while it rang, a normal clearing once answered."""
        self._end(HangupCause.NORMAL if self.answered else HangupCause.CANCELLED)

    def reject(self, cause: HangupCause) -> None:
        if self.answered:
            raise ValueError("an answered call is hung up, not rejected")
        self._end(cause)

    def answer(self) -> None:
        if self.end_cause is None:
            self.answered = True

    def play(self, sound: str) -> None:
        if self.answered and self.end_cause is None:
            self.heard.append(sound)

    def hang_up(self) -> None:
        self._end(HangupCause.NORMAL)

    def _end(self, cause: HangupCause) -> None:
        if self.end_cause is None:
            self.end_cause = cause
            self._changed()

    def _changed(self) -> None:
        for watcher in list(self._watchers):
            watcher()


class SimulatedSwitch:
    """``core.ports.SwitchAdapter`` played out on the injected ``Runtime``.

    Each step of a call (a timer firing, a hangup) updates the call completely before any listener sees
    its events, so a listener that hangs up re-entrantly always finds a consistent call.
    """

    def __init__(
        self,
        runtime: Runtime,
        *,
        ring_seconds: float = 4.0,
        prompt_seconds: float = 5.0,
        talk_seconds: float = 60.0,
        rules: Sequence[OutcomeRule] = (),
    ) -> None:
        if min(ring_seconds, prompt_seconds, talk_seconds) < 0:
            raise ValueError("ring, prompt and talk seconds must not be negative")
        self._runtime = runtime
        self._ring_seconds = ring_seconds
        self._prompt_seconds = prompt_seconds
        self._talk_seconds = talk_seconds
        self._rules = tuple(rules)
        self._calls: dict[str, _Call] = {}
        self._listeners: list[Callable[[LegEvent], None]] = []
        self._outbox: deque[LegEvent] = deque()
        self._delivering = False
        self._inbound: list[Callable[[InboundCall], None]] = []

    # -- SwitchAdapter ---------------------------------------------------------------------------------

    def subscribe(self, listener: Callable[[LegEvent], None]) -> None:
        self._listeners.append(listener)

    async def originate(self, plan: CallPlan) -> None:
        if plan.call_id in self._calls:
            raise ValueError(f"call {plan.call_id} is already live")
        a_rule = self._rule_for(Leg.A, plan.leg_a_number)
        b_rule = self._rule_for(Leg.B, plan.leg_b_number)
        talk = next(
            (r.talk_seconds for r in (b_rule, a_rule) if r is not None and r.talk_seconds is not None),
            self._talk_seconds,
        )
        call = _Call(
            plan,
            _LegState(Leg.A, a_rule.outcome if a_rule else "answer"),
            _LegState(Leg.B, b_rule.outcome if b_rule else "answer"),
            talk,
        )
        self._calls[plan.call_id] = call
        # Dial on the next tick, not inside originate(): a real switch reports progress after it accepted
        # the call, and the caller must not be re-entered before its own originate() returns.
        call.timer = self._later(0, self._start, call)

    async def hangup(self, call_id: str) -> None:
        call = self._calls.get(call_id)
        if call is not None:
            self._finish(call, {Leg.A: HangupCause.CANCELLED, Leg.B: HangupCause.CANCELLED})
            self._deliver()

    async def set_limits(self, call_id: str, leg_a_limit: int, leg_b_limit: int) -> None:
        """Re-time the cut-off of each answered leg from its answer; a leg still ringing gets it on answer."""
        call = self._calls.get(call_id)
        if call is None:
            return
        call.plan = replace(call.plan, leg_a_limit=leg_a_limit, leg_b_limit=leg_b_limit)
        for leg in (call.a, call.b):
            if leg.phase is LegEventKind.ANSWERED and leg.timer is not None:
                leg.timer.cancel()
                leg.timer = self._limit_timer(call, leg)

    async def live_calls(self) -> set[str]:
        return set(self._calls)

    # -- calls coming in -------------------------------------------------------------------------------

    def subscribe_inbound(self, listener: Callable[[InboundCall], None]) -> None:
        self._inbound.append(listener)

    def incoming_call(self, caller: str, dialled: str) -> InboundCall:
        """``caller`` dials ``dialled``; the call reaches the listeners on the next tick, as a real one
        would, so the caller holds it before anything happens to it."""
        # Unique across restarts: the door makes it the trigger's reference, which the store keeps.
        call = InboundCall(f"sim-in-{uuid.uuid4().hex[:16]}", caller, dialled)
        self._runtime.call_later(0, self._offer, call)
        return call

    def _offer(self, call: InboundCall) -> None:
        if not self._inbound:
            call.reject(HangupCause.UNALLOCATED)
        for listener in self._inbound:
            try:
                listener(call)
            except Exception:
                log.failure("Inbound call listener failed on {call}", call=call.call_id)

    # -- call flow -------------------------------------------------------------------------------------

    def _rule_for(self, leg: Leg, number: str) -> OutcomeRule | None:
        return next((rule for rule in self._rules if rule.applies(leg, number)), None)

    def _later(self, seconds: float, step: Callable[..., None], *args: object) -> Cancellable:
        """Schedule a step in scaled time; its events go out once the step has finished."""
        return self._runtime.call_later(seconds, self._run_step, step, *args)

    def _run_step(self, step: Callable[..., None], *args: object) -> None:
        step(*args)
        self._deliver()

    def _start(self, call: _Call) -> None:
        call.timer = None
        mode = call.plan.mode
        if mode is CallMode.B_FIRST:
            self._dial(call, call.b)
            return
        self._dial(call, call.a)
        if mode is CallMode.SIMULTANEOUS:
            self._dial(call, call.b)

    def _dial(self, call: _Call, leg: _LegState) -> None:
        call.timer = None
        leg.phase = LegEventKind.DIALLING
        self._emit(call, LegEventKind.DIALLING, leg.leg)
        delay, cause = self._ring_result(leg.outcome, call.plan.ring_timeout)
        leg.timer = self._later(delay, self._ring_over, call, leg, cause)

    def _ring_result(self, outcome: Outcome, ring_timeout: float) -> tuple[float, HangupCause | None]:
        """How long the leg rings and how it ends; no cause means it answers."""
        if outcome == "answer":
            if self._ring_seconds >= ring_timeout:
                return ring_timeout, HangupCause.NO_ANSWER
            return self._ring_seconds, None
        delay = {
            "busy": self._ring_seconds / 2,
            "no_answer": ring_timeout,
            "unallocated": _UNALLOCATED_SECONDS,
            "rejected": self._ring_seconds,
        }[outcome]
        return min(delay, ring_timeout), _FAILURE_CAUSES[outcome]

    def _ring_over(self, call: _Call, leg: _LegState, cause: HangupCause | None) -> None:
        leg.timer = None
        if cause is not None:
            self._finish(call, {leg.leg: cause}, first=leg)
            return
        leg.phase = LegEventKind.ANSWERED
        leg.answered_at = self._emit(call, LegEventKind.ANSWERED, leg.leg)
        leg.timer = self._limit_timer(call, leg)
        other = call.other(leg)
        if other.phase is LegEventKind.ANSWERED:
            self._emit(call, LegEventKind.BRIDGED)
            call.timer = self._later(call.talk_seconds, self._talk_over, call)
        elif other.phase is None:
            call.timer = self._later(self._prompt_seconds, self._dial, call, other)

    def _limit_timer(self, call: _Call, leg: _LegState) -> Cancellable:
        limit = call.plan.leg_a_limit if leg.leg is Leg.A else call.plan.leg_b_limit
        assert leg.answered_at is not None
        elapsed = (self._runtime.now() - leg.answered_at).total_seconds()
        return self._later(max(0.0, limit - elapsed), self._limit_reached, call, leg)

    def _talk_over(self, call: _Call) -> None:
        call.timer = None
        self._finish(call, {})

    def _limit_reached(self, call: _Call, leg: _LegState) -> None:
        """The switch cuts the leg whose limit ran out; its partner is released as a normal clearing."""
        leg.timer = None
        self._finish(call, {leg.leg: HangupCause.TIME_LIMIT})

    def _finish(self, call: _Call, causes: dict[Leg, HangupCause], first: _LegState | None = None) -> None:
        """End the call: stop every timer, report each leg that was dialled (B first), then CALL_ENDED.

        A leg without a cause in ``causes`` is released by its partner's end: a normal clearing if it
        had answered, a cancelled attempt if it was still ringing.
        """
        del self._calls[call.plan.call_id]
        for timer in (call.timer, call.a.timer, call.b.timer):
            if timer is not None:
                timer.cancel()
        call.timer = call.a.timer = call.b.timer = None
        order = [leg for leg in (call.b, call.a) if leg.phase is not None]
        if first is not None:
            order.sort(key=lambda leg: leg is not first)
        for leg in order:
            default = HangupCause.NORMAL if leg.phase is LegEventKind.ANSWERED else HangupCause.CANCELLED
            leg.phase = None
            self._emit(call, LegEventKind.ENDED, leg.leg, causes.get(leg.leg, default))
        self._emit(call, LegEventKind.CALL_ENDED)

    # -- delivery --------------------------------------------------------------------------------------

    def _emit(
        self, call: _Call, kind: LegEventKind, leg: Leg | None = None, cause: HangupCause | None = None
    ) -> datetime:
        at = self._runtime.now()
        if call.last_at is not None and at < call.last_at:
            at = call.last_at  # a wall clock stepped back: a call's own timeline must not
        call.last_at = at
        self._outbox.append(LegEvent(call_id=call.plan.call_id, kind=kind, at=at, leg=leg, cause=cause))
        return at

    def _deliver(self) -> None:
        """Hand queued events to every listener in order; a re-entrant call leaves it to the outer loop."""
        if self._delivering:
            return
        self._delivering = True
        try:
            while self._outbox:
                event = self._outbox.popleft()
                for listener in self._listeners:
                    try:
                        listener(event)
                    except Exception:
                        # One faulty listener must not stall the switch or starve the others.
                        log.failure("Leg event listener failed on {event}", event=event)
        finally:
            self._delivering = False
