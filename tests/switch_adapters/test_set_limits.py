"""``set_limits`` on the switch adapters: a live call's cut-off follows the grant charging renewed or cut."""

from __future__ import annotations

from datetime import timedelta

import pytest_twisted

from roamback.core.model import Leg, LegEventKind
from roamback.core.reasons import HangupCause

from .ari_harness import AriHarness
from .ari_harness import make_plan as ari_plan
from .test_simulated import START, Harness, make_plan

K = LegEventKind


# -- simulated ------------------------------------------------------------------------------------------
# HAPPY timeline of test_simulated: A answers at 4 s, B at 13 s.


@pytest_twisted.ensureDeferred
async def test_simulated_extension_moves_the_cut_off_from_each_answer() -> None:
    h = Harness(talk_seconds=1000)
    await h.switch.originate(make_plan(leg_a_limit=80, leg_b_limit=50))
    h.run(until=30)
    await h.switch.set_limits("call-1", 200, 150)
    h.run()
    ended = [(round(e.at.timestamp() - START), e.leg, e.cause) for e in h.events if e.kind is K.ENDED]
    assert ended == [(163, Leg.B, HangupCause.TIME_LIMIT), (163, Leg.A, HangupCause.NORMAL)]  # 13 + 150


@pytest_twisted.ensureDeferred
async def test_simulated_limit_already_passed_ends_the_call_at_once() -> None:
    h = Harness(talk_seconds=1000)
    await h.switch.originate(make_plan(leg_a_limit=80, leg_b_limit=50))
    h.run(until=6)  # A answered at 4 s and hears the prompt
    await h.switch.set_limits("call-1", 1, 40)
    h.run()
    assert h.timeline() == [(0, K.DIALLING, Leg.A), (4, K.ANSWERED, Leg.A),
                            (6, K.ENDED, Leg.A, HangupCause.TIME_LIMIT), (6, K.CALL_ENDED)]
    await h.switch.set_limits("call-1", 100, 100)  # ended: ignored
    assert h.clock.getDelayedCalls() == []


@pytest_twisted.ensureDeferred
async def test_simulated_leg_still_ringing_takes_the_new_limit_on_answer() -> None:
    h = Harness(talk_seconds=1000)
    await h.switch.originate(make_plan(leg_a_limit=300, leg_b_limit=50))
    h.run(until=6)
    await h.switch.set_limits("call-1", 300, 40)
    h.run()
    ended_b = next(e for e in h.events if e.kind is K.ENDED and e.leg is Leg.B)
    assert (round(ended_b.at.timestamp() - START), ended_b.cause) == (53, HangupCause.TIME_LIMIT)  # 13 + 40


# -- ARI ------------------------------------------------------------------------------------------------


def absolute_timeouts(ari: AriHarness, leg: str) -> list[float]:
    return [float(params["value"]) for _m, path, params in ari.fake.requests
            if path == f"channels/roamback-c1-{leg}/variable" and params["variable"] == "TIMEOUT(absolute)"]


@pytest_twisted.ensureDeferred
async def test_ari_extension_re_times_the_cut_and_the_backstop_on_both_legs(ari: AriHarness) -> None:
    switch = ari.switches[0]
    await switch.originate(ari_plan(a_limit=30, b_limit=8))
    await ari.until(K.BRIDGED)
    await ari.eventually(lambda: len(absolute_timeouts(ari, "b")) == 1)
    await switch.set_limits("c1", 40, 12)
    ended_b = await ari.until(K.ENDED, leg=Leg.B)
    await ari.until(K.CALL_ENDED)

    answered_b = await ari.until(K.ANSWERED, leg=Leg.B)
    assert ended_b.cause is HangupCause.TIME_LIMIT
    assert timedelta(seconds=11.5) <= ended_b.at - answered_b.at <= timedelta(seconds=13.5)  # 12 s, not 8
    first_b, moved_b = absolute_timeouts(ari, "b")
    assert moved_b > first_b  # the backstop moved with the limit (remaining + 3 s backstop)
    assert len(absolute_timeouts(ari, "a")) == 2


@pytest_twisted.ensureDeferred
async def test_ari_ignores_calls_it_does_not_run(ari: AriHarness) -> None:
    before = len(ari.fake.requests)
    await ari.switches[0].set_limits("nobody", 10, 10)
    assert len(ari.fake.requests) == before
