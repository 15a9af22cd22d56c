"""The ARI adapter against the strict fake: complete calls, every failure outcome, the modes, limits."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import pytest_twisted

from roamback.core.model import CallMode, Leg, LegEventKind

from .ari_harness import FRIEND, LOCAL_FRIEND, ROAMER, SERVICE, AriHarness, make_plan

K = LegEventKind


@pytest_twisted.ensureDeferred
async def test_completed_call_follows_the_documented_flow(ari: AriHarness) -> None:
    ari.outcome(FRIEND, talk=3.0)
    await ari.switches[0].originate(make_plan())
    await ari.until(K.CALL_ENDED)

    assert ari.kinds() == [("dialling", "A", None), ("answered", "A", None), ("dialling", "B", None),
                           ("answered", "B", None), ("bridged", None, None), ("ended", "B", "normal"),
                           ("ended", "A", "normal"), ("call_ended", None, None)]
    leg_a, leg_b = ari.requests("POST", "channels/roamback-c1-a"), ari.requests("POST", "channels/roamback-c1-b")
    assert leg_a == [{"endpoint": "PJSIP/33612345678@trunk", "app": "roamback", "appArgs": "c1,A",
                      "callerId": SERVICE, "timeout": "20"}]
    assert leg_b[0]["callerId"] == ROAMER and leg_b[0]["originator"] == "roamback-c1-a"
    [prompt] = ari.requests("POST", "play/roamback-c1-prompt")
    assert prompt["lang"] == "fr"
    assert prompt["media"].split(",") == [
        "sound:roamback/your-balance-is", "number:12", "characters:EUR", "number:50", "sound:roamback/cents",
        "sound:roamback/you-can-talk-for", "number:10", "sound:minutes", "sound:roamback/connecting-your-call"]
    assert ari.requests("POST", "channels/roamback-c1-a/ring"), "leg A heard no ringback while B was dialled"
    assert ari.requests("DELETE", "channels/roamback-c1-a/ring"), "ringback was not stopped on B's answer"


@pytest_twisted.ensureDeferred
async def test_answer_times_come_from_each_legs_own_events(ari: AriHarness) -> None:
    """Leg B's answer is its own StasisStart, after leg A's prompt: the prompt is never B's talk time."""
    ari.outcome(FRIEND, talk=2.0)
    await ari.switches[0].originate(make_plan())
    await ari.until(K.CALL_ENDED)

    answered = {e.leg: e.at for e in ari.events if e.kind is K.ANSWERED}
    assert answered[Leg.A] == ari.stamp("StasisStart", "roamback-c1-a")
    assert answered[Leg.B] == ari.stamp("StasisStart", "roamback-c1-b")
    prompt_done = next(e for e in ari.fake.sent if e["type"] == "PlaybackFinished")["timestamp"]
    dialling_b = next(e for e in ari.events if e.kind is K.DIALLING and e.leg is Leg.B)
    assert dialling_b.at >= datetime.strptime(prompt_done, "%Y-%m-%dT%H:%M:%S.%f%z")
    # A heard the prompt, then B rang for its 1 s: none of that is B's time.
    assert answered[Leg.B] - answered[Leg.A] >= timedelta(seconds=ari.fake.prompt_seconds + 1.0)
    bridged = next(e for e in ari.events if e.kind is K.BRIDGED)
    assert bridged.at == ari.stamp("ChannelEnteredBridge", "roamback-c1-b")
    ended_b = next(e for e in ari.events if e.kind is K.ENDED and e.leg is Leg.B)
    assert ended_b.at == ari.stamp("ChannelDestroyed", "roamback-c1-b")
    assert timedelta(seconds=1.5) <= ended_b.at - answered[Leg.B] <= timedelta(seconds=3.5)


@pytest.mark.parametrize(("outcome", "cause"), [
    ("busy", "busy"), ("no_answer", "no_answer"), ("unallocated", "unallocated"), ("rejected", "rejected")])
@pytest_twisted.ensureDeferred
async def test_leg_a_failures_end_the_call_without_dialling_b(ari: AriHarness, outcome: str, cause: str) -> None:
    ari.outcome(ROAMER, outcome)
    await ari.switches[0].originate(make_plan(ring_timeout=3))
    await ari.until(K.CALL_ENDED)

    assert ari.kinds() == [("dialling", "A", None), ("ended", "A", cause), ("call_ended", None, None)]
    assert not ari.requests("POST", "channels/roamback-c1-b")


@pytest.mark.parametrize(("number", "outcome", "cause"), [
    (FRIEND, "busy", "busy"), (FRIEND, "no_answer", "no_answer"), (FRIEND, "unallocated", "unallocated"),
    (FRIEND, "rejected", "rejected"), (LOCAL_FRIEND, "busy", "busy"), (LOCAL_FRIEND, "no_answer", "no_answer"),
    (LOCAL_FRIEND, "unallocated", "unreachable"),
])
@pytest_twisted.ensureDeferred
async def test_leg_b_failures_release_leg_a(ari: AriHarness, number: str, outcome: str, cause: str) -> None:
    ari.outcome(number, outcome)
    await ari.switches[0].originate(make_plan(b=number, ring_timeout=3))
    await ari.until(K.CALL_ENDED)

    assert ari.kinds() == [("dialling", "A", None), ("answered", "A", None), ("dialling", "B", None),
                           ("ended", "B", cause), ("ended", "A", "normal"), ("call_ended", None, None)]
    if number == LOCAL_FRIEND:  # the Local channel said nothing: the Dial status alone told the outcome
        assert ari.fake.destroyed["roamback-c1-b"] == 0
        assert ari.requests("POST", "channels/roamback-c1-b")[0]["endpoint"].startswith("Local/")


@pytest.mark.parametrize("mode", [CallMode.SIMULTANEOUS, CallMode.B_FIRST])
@pytest_twisted.ensureDeferred
async def test_other_modes_bridge_both_legs_after_the_prompt(ari: AriHarness, mode: CallMode) -> None:
    ari.outcome(FRIEND, ring=0.5, talk=12.0)  # B first: B must outlast A ringing and the prompt
    ari.outcome(ROAMER, ring=1.5)
    await ari.switches[0].originate(make_plan(mode=mode))
    await ari.until(K.CALL_ENDED)

    kinds = ari.kinds()
    first = ("dialling", "B", None) if mode is CallMode.B_FIRST else ("dialling", "A", None)
    assert kinds[0] == first
    assert kinds.index(("answered", "B", None)) < kinds.index(("answered", "A", None)) < kinds.index(
        ("bridged", None, None))
    if mode is CallMode.SIMULTANEOUS:
        assert kinds[1] == ("dialling", "B", None)  # both ring at once
    else:
        assert kinds.index(("answered", "B", None)) < kinds.index(("dialling", "A", None))
    assert ari.requests("POST", "play/roamback-c1-prompt"), "leg A must hear the prompt in every mode"
    assert ari.requests("POST", "channels/roamback-c1-b/ring"), "B waits on ringback while A is connected"
    assert kinds[-1] == ("call_ended", None, None)


@pytest_twisted.ensureDeferred
async def test_limit_cuts_the_leg_warns_first_and_arms_the_backstop(ari: AriHarness) -> None:
    await ari.switches[0].originate(make_plan(b_limit=5))
    ended_b = await ari.until(K.ENDED, leg=Leg.B)
    await ari.until(K.CALL_ENDED)

    answered_b = await ari.until(K.ANSWERED, leg=Leg.B)
    assert ended_b.cause is not None and ended_b.cause.value == "time_limit"
    assert timedelta(seconds=4.5) <= ended_b.at - answered_b.at <= timedelta(seconds=6.5)
    assert ari.kinds()[-2:] == [("ended", "A", "normal"), ("call_ended", None, None)]
    [warning] = ari.requests("POST", "play/roamback-c1-warnb")
    assert warning["media"] == "sound:beep"
    timeouts = {path: float(params["value"]) for _m, path, params in ari.fake.requests
                if path.endswith("/variable") and params["variable"] == "TIMEOUT(absolute)"}
    assert 590 <= timeouts["channels/roamback-c1-a/variable"] <= 603  # 600 s from A's answer, less the prompt, +3
    assert 6.0 <= timeouts["channels/roamback-c1-b/variable"] <= 8.0  # B's 5 s limit + 3 s backstop


@pytest_twisted.ensureDeferred
async def test_core_hangup_cancels_a_ringing_leg(ari: AriHarness) -> None:
    ari.outcome(FRIEND, ring=30.0)
    switch = ari.switches[0]
    await switch.originate(make_plan(ring_timeout=60))
    await ari.until(K.DIALLING, leg=Leg.B)
    assert await switch.live_calls() == {"c1"}
    await switch.hangup("c1")
    await ari.until(K.CALL_ENDED)

    assert ari.kinds()[-3:] == [("ended", "B", "cancelled"), ("ended", "A", "normal"), ("call_ended", None, None)]
    assert ari.fake.destroyed["roamback-c1-b"] == 16


@pytest_twisted.ensureDeferred
async def test_roamer_hanging_up_during_the_prompt_never_dials_b(ari: AriHarness) -> None:
    switch = ari.switches[0]
    await switch.originate(make_plan())
    await ari.until(K.ANSWERED, leg=Leg.A)
    ari.fake.far_hangup("roamback-c1-a")
    await ari.until(K.CALL_ENDED)

    assert ari.kinds() == [("dialling", "A", None), ("answered", "A", None), ("ended", "A", "normal"),
                           ("call_ended", None, None)]
    assert not ari.requests("POST", "channels/roamback-c1-b")
