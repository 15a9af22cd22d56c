"""The simulated switch, driven step by step on a task.Clock: outcomes, limits, ordering, cleanup."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import datetime

import pytest
import pytest_twisted
from twisted.internet import task
from twisted.internet.defer import Deferred
from twisted.logger import globalLogPublisher

from roamback.config import SimulatedSwitchConfig
from roamback.core.model import CallMode, CallPlan, Leg, LegEvent, LegEventKind, Prompt
from roamback.core.reasons import HangupCause
from roamback.runtime import TwistedRuntime
from roamback.switch_adapters import OutcomeRule, SimulatedSwitch, rules_from_config

ROAMER = "+33612345678"
FRIEND = "+447700900123"
START = 1_750_000_000.0

D, AN, BR, EN, CE = (
    LegEventKind.DIALLING,
    LegEventKind.ANSWERED,
    LegEventKind.BRIDGED,
    LegEventKind.ENDED,
    LegEventKind.CALL_ENDED,
)
A, B = Leg.A, Leg.B
C = HangupCause


def make_plan(
    call_id: str = "call-1",
    *,
    a: str = ROAMER,
    b: str = FRIEND,
    leg_a_limit: int = 3600,
    leg_b_limit: int = 3600,
    ring_timeout: int = 30,
    mode: CallMode = CallMode.A_FIRST,
) -> CallPlan:
    return CallPlan(
        call_id=call_id,
        request_id=f"req-{call_id}",
        attempt=1,
        leg_a_number=a,
        leg_a_caller_id="+33100000000",
        leg_b_number=b,
        leg_b_caller_id=a,
        leg_a_limit=leg_a_limit,
        leg_b_limit=leg_b_limit,
        ring_timeout=ring_timeout,
        prompt=Prompt(language="en", max_seconds=min(leg_a_limit, leg_b_limit)),
        mode=mode,
    )


class Harness:
    """A switch on a fake clock, with every event it reported."""

    def __init__(self, **switch_options: object) -> None:
        self.clock = task.Clock()
        self.clock.advance(START)
        options: dict = {"ring_seconds": 4, "prompt_seconds": 5, "talk_seconds": 60, **switch_options}
        self.switch = SimulatedSwitch(TwistedRuntime(self.clock), **options)
        self.events: list[LegEvent] = []
        self.switch.subscribe(self.events.append)

    def run(self, until: float | None = None) -> None:
        """Step to each pending timer in turn (so timestamps are exact), optionally stopping at ``until``."""
        while calls := self.clock.getDelayedCalls():
            due = min(call.getTime() for call in calls)
            if until is not None and due > START + until:
                break
            self.clock.advance(due - self.clock.seconds())
        if until is not None:
            self.clock.advance(START + until - self.clock.seconds())

    def timeline(self, call_id: str | None = None) -> list[tuple]:
        """(seconds since start, kind, leg, cause) per event; leg/cause omitted when None."""
        rows = []
        for e in self.events:
            if call_id is None or e.call_id == call_id:
                row = (round(e.at.timestamp() - START, 6), e.kind, e.leg, e.cause)
                rows.append(tuple(x for x in row if x is not None))
        return rows


HAPPY = [
    (0, D, A),
    (4, AN, A),
    (9, D, B),
    (13, AN, B),
    (13, BR),
    (73, EN, B, C.NORMAL),
    (73, EN, A, C.NORMAL),
    (73, CE),
]


@pytest_twisted.ensureDeferred
async def test_a_first_call_plays_out_in_order_with_exact_times() -> None:
    h = Harness()
    await h.switch.originate(make_plan())
    assert h.events == [], "progress is reported after originate() returns, not inside it"
    assert await h.switch.live_calls() == {"call-1"}
    h.run()
    assert h.timeline() == HAPPY
    assert all(e.at.tzinfo is not None and e.at.utcoffset().total_seconds() == 0 for e in h.events)
    assert await h.switch.live_calls() == set()
    assert h.clock.getDelayedCalls() == []


@pytest.mark.parametrize(
    ("outcome", "at", "cause"),
    [
        ("busy", 2, C.BUSY),
        ("no_answer", 30, C.NO_ANSWER),
        ("unallocated", 0.5, C.UNALLOCATED),
        ("rejected", 4, C.REJECTED),
    ],
)
@pytest_twisted.ensureDeferred
async def test_leg_a_failure_ends_the_call_without_dialling_b(outcome, at, cause) -> None:
    h = Harness(rules=[OutcomeRule(re.compile(re.escape(ROAMER)), "A", outcome)])
    await h.switch.originate(make_plan())
    h.run()
    assert h.timeline() == [(0, D, A), (at, EN, A, cause), (at, CE)]
    assert h.clock.getDelayedCalls() == []


@pytest.mark.parametrize(
    ("outcome", "after", "cause"),
    [
        ("busy", 2, C.BUSY),
        ("no_answer", 30, C.NO_ANSWER),
        ("unallocated", 0.5, C.UNALLOCATED),
        ("rejected", 4, C.REJECTED),
    ],
)
@pytest_twisted.ensureDeferred
async def test_leg_b_failure_releases_the_answered_leg_a(outcome, after, cause) -> None:
    h = Harness(rules=[OutcomeRule(re.compile(r"^\+44"), "B", outcome)])
    await h.switch.originate(make_plan())
    h.run()
    end = 9 + after
    assert h.timeline() == [
        (0, D, A),
        (4, AN, A),
        (9, D, B),
        (end, EN, B, cause),
        (end, EN, A, C.NORMAL),
        (end, CE),
    ]
    assert h.clock.getDelayedCalls() == []


@pytest_twisted.ensureDeferred
async def test_answer_slower_than_the_ring_timeout_is_no_answer() -> None:
    h = Harness(ring_seconds=40)
    await h.switch.originate(make_plan(ring_timeout=25))
    h.run()
    assert h.timeline() == [(0, D, A), (25, EN, A, C.NO_ANSWER), (25, CE)]


@pytest_twisted.ensureDeferred
async def test_leg_b_is_cut_at_its_answer_plus_leg_b_limit() -> None:
    h = Harness(talk_seconds=10_000)
    await h.switch.originate(make_plan(leg_b_limit=120))
    h.run()
    assert h.timeline()[-3:] == [(133, EN, B, C.TIME_LIMIT), (133, EN, A, C.NORMAL), (133, CE)]
    assert h.clock.getDelayedCalls() == []


@pytest_twisted.ensureDeferred
async def test_leg_a_is_cut_at_its_answer_plus_leg_a_limit() -> None:
    h = Harness(talk_seconds=10_000)
    await h.switch.originate(make_plan(leg_a_limit=100, leg_b_limit=1000))
    h.run()
    assert h.timeline()[-3:] == [(104, EN, B, C.NORMAL), (104, EN, A, C.TIME_LIMIT), (104, CE)]
    assert h.clock.getDelayedCalls() == []


@pytest_twisted.ensureDeferred
async def test_leg_a_limit_applies_even_before_b_answers() -> None:
    h = Harness()
    await h.switch.originate(make_plan(leg_a_limit=7))
    h.run()
    assert h.timeline() == [
        (0, D, A),
        (4, AN, A),
        (9, D, B),
        (11, EN, B, C.CANCELLED),
        (11, EN, A, C.TIME_LIMIT),
        (11, CE),
    ]
    assert h.clock.getDelayedCalls() == []


@pytest_twisted.ensureDeferred
async def test_talk_seconds_of_a_rule_override_the_default() -> None:
    h = Harness(rules=[OutcomeRule(re.compile(r"^\+44"), "B", "answer", talk_seconds=7)])
    await h.switch.originate(make_plan())
    h.run()
    assert h.timeline()[-3:] == [(20, EN, B, C.NORMAL), (20, EN, A, C.NORMAL), (20, CE)]


@pytest_twisted.ensureDeferred
async def test_rules_match_by_leg_and_the_first_match_wins() -> None:
    rules = [
        OutcomeRule(re.compile(r"^\+4477"), "A", "busy"),
        OutcomeRule(re.compile(r"^\+4477009"), "any", "rejected"),
        OutcomeRule(re.compile(r"^\+4477"), "any", "unallocated"),
    ]
    h = Harness(rules=rules)
    # As leg A, +4477... hits the A-only rule first.
    await h.switch.originate(make_plan("as-a", a=FRIEND, b=ROAMER))
    # As leg B, the A-only rule is skipped and the first 'any' rule that matches wins.
    await h.switch.originate(make_plan("as-b", a=ROAMER, b=FRIEND))
    h.run()
    assert h.timeline("as-a")[-2] == (2, EN, A, C.BUSY)
    assert h.timeline("as-b")[-3] == (13, EN, B, C.REJECTED)


def test_rule_with_an_unknown_outcome_or_leg_is_refused() -> None:
    with pytest.raises(ValueError, match="outcome"):
        OutcomeRule(re.compile("x"), "A", "explode")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="leg"):
        OutcomeRule(re.compile("x"), "C", "busy")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="talk_seconds"):
        OutcomeRule(re.compile("x"), talk_seconds=-1)


@pytest_twisted.ensureDeferred
async def test_configured_default_rules_compile_in_order_and_apply() -> None:
    specs = SimulatedSwitchConfig().rules
    rules = rules_from_config(specs)
    assert [(r.match.pattern, r.leg, r.outcome) for r in rules] == [
        (s.match, s.leg, s.outcome) for s in specs
    ]
    h = Harness(rules=rules)
    await h.switch.originate(make_plan("busy", b="+447700901111"))
    await h.switch.originate(make_plan("unallocated", a="+33600003333"))
    h.run()
    assert h.timeline("busy")[-3] == (11, EN, B, C.BUSY)
    assert h.timeline("unallocated") == [(0, D, A), (0.5, EN, A, C.UNALLOCATED), (0.5, CE)]


@pytest_twisted.ensureDeferred
async def test_simultaneous_mode_dials_both_and_bridges_when_both_answered() -> None:
    h = Harness()
    await h.switch.originate(make_plan(mode=CallMode.SIMULTANEOUS))
    h.run()
    assert h.timeline() == [
        (0, D, A),
        (0, D, B),
        (4, AN, A),
        (4, AN, B),
        (4, BR),
        (64, EN, B, C.NORMAL),
        (64, EN, A, C.NORMAL),
        (64, CE),
    ]


@pytest_twisted.ensureDeferred
async def test_simultaneous_mode_failure_cancels_the_leg_still_ringing() -> None:
    h = Harness(rules=[OutcomeRule(re.compile(re.escape(ROAMER)), "A", "busy")])
    await h.switch.originate(make_plan(mode=CallMode.SIMULTANEOUS))
    h.run()
    assert h.timeline() == [(0, D, A), (0, D, B), (2, EN, A, C.BUSY), (2, EN, B, C.CANCELLED), (2, CE)]
    assert h.clock.getDelayedCalls() == []


@pytest_twisted.ensureDeferred
async def test_b_first_mode_mirrors_a_first() -> None:
    h = Harness()
    await h.switch.originate(make_plan(mode=CallMode.B_FIRST))
    h.run()
    assert h.timeline() == [
        (0, D, B),
        (4, AN, B),
        (9, D, A),
        (13, AN, A),
        (13, BR),
        (73, EN, B, C.NORMAL),
        (73, EN, A, C.NORMAL),
        (73, CE),
    ]


@pytest_twisted.ensureDeferred
async def test_b_first_failure_of_b_never_dials_a() -> None:
    h = Harness(rules=[OutcomeRule(re.compile(r"^\+44"), "B", "unallocated")])
    await h.switch.originate(make_plan(mode=CallMode.B_FIRST))
    h.run()
    assert h.timeline() == [(0, D, B), (0.5, EN, B, C.UNALLOCATED), (0.5, CE)]


@pytest_twisted.ensureDeferred
async def test_hangup_while_bridged_cancels_both_legs() -> None:
    h = Harness()
    await h.switch.originate(make_plan())
    h.run(until=20)
    await h.switch.hangup("call-1")
    assert h.timeline()[-3:] == [(20, EN, B, C.CANCELLED), (20, EN, A, C.CANCELLED), (20, CE)]
    assert await h.switch.live_calls() == set()
    assert h.clock.getDelayedCalls() == []


@pytest_twisted.ensureDeferred
async def test_hangup_while_a_rings_cancels_only_a() -> None:
    h = Harness()
    await h.switch.originate(make_plan())
    h.run(until=2)
    await h.switch.hangup("call-1")
    assert h.timeline() == [(0, D, A), (2, EN, A, C.CANCELLED), (2, CE)]
    assert h.clock.getDelayedCalls() == []


@pytest_twisted.ensureDeferred
async def test_hangup_before_anything_was_dialled_only_ends_the_call() -> None:
    h = Harness()
    await h.switch.originate(make_plan())
    await h.switch.hangup("call-1")
    assert h.timeline() == [(0, CE)]
    assert h.clock.getDelayedCalls() == []


@pytest_twisted.ensureDeferred
async def test_hangup_of_an_unknown_call_is_a_no_op() -> None:
    h = Harness()
    await h.switch.originate(make_plan())
    await h.switch.hangup("no-such-call")
    assert h.events == []
    assert await h.switch.live_calls() == {"call-1"}


@pytest_twisted.ensureDeferred
async def test_originate_of_a_live_call_id_is_refused_and_reuse_after_end_is_fine() -> None:
    h = Harness()
    await h.switch.originate(make_plan())
    with pytest.raises(ValueError, match="already live"):
        await h.switch.originate(make_plan())
    h.run()
    await h.switch.originate(make_plan())
    assert await h.switch.live_calls() == {"call-1"}


@pytest_twisted.ensureDeferred
async def test_listener_hanging_up_on_an_event_sees_a_consistent_call() -> None:
    h = Harness()
    hung_up: list[Deferred] = []

    def hang_up_when_b_answers(event: LegEvent) -> None:
        if event.kind is AN and event.leg is B:
            hung_up.append(Deferred.fromCoroutine(h.switch.hangup(event.call_id)))

    h.switch.subscribe(hang_up_when_b_answers)
    await h.switch.originate(make_plan())
    h.run()
    await hung_up[0]
    assert h.timeline()[3:] == [
        (13, AN, B),
        (13, BR),
        (13, EN, B, C.CANCELLED),
        (13, EN, A, C.CANCELLED),
        (13, CE),
    ]
    assert h.clock.getDelayedCalls() == []


@pytest_twisted.ensureDeferred
async def test_concurrent_calls_keep_their_own_order_and_monotonic_times() -> None:
    h = Harness(rules=[OutcomeRule(re.compile(r"7$"), "B", "busy")])
    for i in range(20):
        await h.switch.originate(make_plan(f"call-{i}", b=f"+4477009001{i:02d}", leg_b_limit=30 + i))
    h.run()
    assert await h.switch.live_calls() == set()
    for i in range(20):
        events = [e for e in h.events if e.call_id == f"call-{i}"]
        kinds = [e.kind for e in events]
        assert kinds[0] is D and kinds[-1] is CE and kinds.count(CE) == 1
        assert all(earlier.at <= later.at for earlier, later in itertools.pairwise(events))
        if i % 10 == 7:
            assert h.timeline(f"call-{i}")[-3] == (11, EN, B, C.BUSY)
        else:
            assert h.timeline(f"call-{i}")[-3] == (43 + i, EN, B, C.TIME_LIMIT)
    assert h.clock.getDelayedCalls() == []


@pytest_twisted.ensureDeferred
async def test_timestamps_never_go_backwards_when_the_clock_steps_back() -> None:
    h = Harness()
    await h.switch.originate(make_plan())
    h.run(until=13)
    h.clock.advance(-5)  # a wall clock stepped back by NTP
    await h.switch.hangup("call-1")
    times: list[datetime] = [e.at for e in h.events]
    assert times == sorted(times)
    assert h.timeline()[-1] == (13, CE)


@pytest.fixture
def logged() -> Iterator[list[dict]]:
    events: list[dict] = []
    observer = events.append
    globalLogPublisher.addObserver(observer)
    yield events
    globalLogPublisher.removeObserver(observer)


@pytest_twisted.ensureDeferred
async def test_a_failing_listener_is_logged_and_does_not_starve_the_others(logged) -> None:
    h = Harness()

    def broken(event: LegEvent) -> None:
        raise RuntimeError("listener bug")

    second: list[LegEvent] = []
    h.switch.subscribe(broken)
    h.switch.subscribe(second.append)
    await h.switch.originate(make_plan())
    h.run()
    assert second == h.events and len(second) == len(HAPPY)
    failures = [e for e in logged if "log_failure" in e]
    assert len(failures) == len(HAPPY)
    assert failures[0]["log_failure"].check(RuntimeError)
