"""The ESL adapter against the strict fake FreeSWITCH: complete calls, every failure outcome, the modes,
limits and their backstop, and per-leg times taken from the switch's own events."""

from __future__ import annotations

from datetime import timedelta

import pytest
import pytest_twisted

from roamback.core.model import CallMode, Leg, LegEventKind

from .fake_esl import FRIEND, ROAMER, SERVICE, EslHarness, esl_fixture, make_plan, stamp  # noqa: F401

K = LegEventKind


@pytest_twisted.ensureDeferred
async def test_completed_call_follows_the_documented_flow(esl: EslHarness) -> None:
    esl.outcome(FRIEND, talk=3.0)
    await esl.switches[0].originate(make_plan())
    await esl.until(K.CALL_ENDED)

    assert esl.kinds() == [("dialling", "A", None), ("answered", "A", None), ("dialling", "B", None),
                           ("answered", "B", None), ("bridged", None, None), ("ended", "B", "normal"),
                           ("ended", "A", "normal"), ("call_ended", None, None)]
    a, b = esl.uuid(Leg.A), esl.uuid(Leg.B)
    leg_a, leg_b = esl.api_calls("originate")
    assert leg_a == (f"{{origination_uuid={a},origination_caller_id_number={SERVICE},origination_caller_id_name="
                     f"{SERVICE},originate_timeout=20,ignore_early_media=true,park_after_bridge=true,"
                     "hangup_after_bridge=false,roamback_service=roamback,roamback_call_id=c1,roamback_leg=A,"
                     "sound_prefix=/usr/share/freeswitch/sounds/fr/ca/june}sofia/gateway/trunk/33612345678 &park()")
    assert f"origination_caller_id_number={ROAMER}" in leg_b
    assert leg_b.endswith("}sofia/gateway/uk/447700900123 &park()")
    assert esl.api_calls("uuid_bridge") == [f"{a} {b}"]
    executed = [c for c in esl.fake.commands if c.startswith("sendmsg")]
    assert executed == [f"sendmsg {a}"] * 10, "nine prompt parts, then ringback on A; B never waits alone"
    assert esl.fake.hangups == {b: "NORMAL_CLEARING", a: "NORMAL_CLEARING"}


@pytest_twisted.ensureDeferred
async def test_per_leg_times_come_from_the_switch_events(esl: EslHarness) -> None:
    """B's answer is its own CHANNEL_ANSWER, after A's prompt; ends are the channels' end epochs."""
    esl.outcome(FRIEND, talk=2.0)
    await esl.switches[0].originate(make_plan())
    await esl.until(K.CALL_ENDED)

    a, b = esl.uuid(Leg.A), esl.uuid(Leg.B)
    at = {(e.kind, e.leg): e.at for e in esl.events}
    assert at[K.ANSWERED, Leg.A] == stamp(esl.fired("CHANNEL_ANSWER", a))
    assert at[K.ANSWERED, Leg.B] == stamp(esl.fired("CHANNEL_ANSWER", b))
    assert at[K.BRIDGED, None] == stamp(esl.fired("CHANNEL_BRIDGE", a))
    assert at[K.ENDED, Leg.B] == stamp(esl.fired("CHANNEL_HANGUP_COMPLETE", b), "variable_end_uepoch")
    prompt_done = stamp(next(e for e in esl.fake.fired if e.get("Application-UUID") == f"{a}-prompt-8"))
    assert at[K.DIALLING, Leg.B] >= prompt_done, "B is dialled only after A heard the whole prompt"
    assert at[K.ANSWERED, Leg.B] - at[K.ANSWERED, Leg.A] >= timedelta(seconds=9 * 0.25 + 1.0)
    assert timedelta(seconds=1.5) <= at[K.ENDED, Leg.B] - at[K.ANSWERED, Leg.B] <= timedelta(seconds=3.5)


@pytest.mark.parametrize(("outcome", "cause"), [
    ("busy", "busy"), ("no_answer", "no_answer"), ("no_user_response", "no_answer"), ("unallocated", "unallocated"),
    ("rejected", "rejected"), ("temporary_failure", "congestion"), ("gateway_down", "unreachable")])
@pytest_twisted.ensureDeferred
async def test_leg_a_failures_end_the_call_without_dialling_b(esl: EslHarness, outcome: str, cause: str) -> None:
    esl.outcome(ROAMER, outcome)
    await esl.switches[0].originate(make_plan(ring_timeout=3))
    await esl.until(K.CALL_ENDED)

    assert esl.kinds() == [("dialling", "A", None), ("ended", "A", cause), ("call_ended", None, None)]
    assert len(esl.api_calls("originate")) == 1


@pytest.mark.parametrize(("outcome", "cause"), [
    ("busy", "busy"), ("no_answer", "no_answer"), ("unallocated", "unallocated"), ("rejected", "rejected"),
    ("gateway_down", "unreachable")])
@pytest_twisted.ensureDeferred
async def test_leg_b_failures_release_leg_a(esl: EslHarness, outcome: str, cause: str) -> None:
    esl.outcome(FRIEND, outcome)
    await esl.switches[0].originate(make_plan(ring_timeout=3))
    await esl.until(K.CALL_ENDED)

    assert esl.kinds() == [("dialling", "A", None), ("answered", "A", None), ("dialling", "B", None),
                           ("ended", "B", cause), ("ended", "A", "normal"), ("call_ended", None, None)]
    assert esl.fake.hangups[esl.uuid(Leg.A)] == "NORMAL_CLEARING"


@pytest.mark.parametrize("mode", [CallMode.SIMULTANEOUS, CallMode.B_FIRST])
@pytest_twisted.ensureDeferred
async def test_other_modes_bridge_both_legs_after_the_prompt(esl: EslHarness, mode: CallMode) -> None:
    esl.outcome(FRIEND, ring=0.5, talk=12.0)  # B first: B must outlast A ringing and the prompt
    esl.outcome(ROAMER, ring=1.5)
    await esl.switches[0].originate(make_plan(mode=mode))
    await esl.until(K.CALL_ENDED)

    kinds = esl.kinds()
    assert kinds[0] == (("dialling", "B", None) if mode is CallMode.B_FIRST else ("dialling", "A", None))
    assert kinds.index(("answered", "B", None)) < kinds.index(("answered", "A", None)) < kinds.index(
        ("bridged", None, None))
    if mode is CallMode.SIMULTANEOUS:
        assert kinds[1] == ("dialling", "B", None)  # both ring at once
    else:
        assert kinds.index(("answered", "B", None)) < kinds.index(("dialling", "A", None))
    a, b = esl.uuid(Leg.A), esl.uuid(Leg.B)
    prompt = [c for c in esl.fake.commands if c == f"sendmsg {a}"]
    assert len(prompt) == 9, "leg A hears the whole prompt in every mode, and no ringback (B is waiting)"
    assert esl.fake.commands.count(f"sendmsg {b}") == 1, "B waits on ringback while A hears the prompt"
    assert kinds[-1] == ("call_ended", None, None)


@pytest_twisted.ensureDeferred
async def test_limit_cuts_the_leg_warns_first_and_arms_the_backstop(esl: EslHarness) -> None:
    await esl.switches[0].originate(make_plan(b_limit=5))
    ended_b = await esl.until(K.ENDED, leg=Leg.B)
    await esl.until(K.CALL_ENDED)

    answered_b = await esl.until(K.ANSWERED, leg=Leg.B)
    assert ended_b.cause is not None and ended_b.cause.value == "time_limit"
    assert timedelta(seconds=4.5) <= ended_b.at - answered_b.at <= timedelta(seconds=6.5)
    assert esl.kinds()[-2:] == [("ended", "A", "normal"), ("call_ended", None, None)]
    a, b = esl.uuid(Leg.A), esl.uuid(Leg.B)
    assert esl.fake.hangups == {b: "ALLOTTED_TIMEOUT", a: "NORMAL_CLEARING"}
    assert esl.fake.broadcasts == [(b, "tone_stream://%(500,0,800)", "both")]
    backstops = {args.split()[1]: int(args.split()[0]) for args in esl.api_calls("sched_hangup")}
    assert backstops[b] == 8  # B's 5 s limit + 3 s, armed on B's answer
    assert backstops[a] == 603  # A's 600 s + 3 s, armed on A's answer
    assert all(args.endswith("ALLOTTED_TIMEOUT") for args in esl.api_calls("sched_hangup"))


@pytest_twisted.ensureDeferred
async def test_new_limits_rearm_timers_and_the_backstop(esl: EslHarness) -> None:
    switch = esl.switches[0]
    await switch.originate(make_plan(b_limit=60))
    await esl.until(K.BRIDGED)
    await switch.set_limits("c1", 600, 3)
    ended_b = await esl.until(K.ENDED, leg=Leg.B)
    await esl.until(K.CALL_ENDED)

    answered_b = await esl.until(K.ANSWERED, leg=Leg.B)
    assert ended_b.cause is not None and ended_b.cause.value == "time_limit"
    assert ended_b.at - answered_b.at <= timedelta(seconds=5.0), "the old 60 s limit still ruled"
    b = esl.uuid(Leg.B)
    assert esl.api_calls("sched_del").count(b) == 1, "the earlier sched_hangup would still fire at 63 s"
    assert [int(x.split()[0]) for x in esl.api_calls("sched_hangup") if b in x][-1] <= 6
    await switch.set_limits("c1", 10, 10)  # an ended call is ignored


@pytest_twisted.ensureDeferred
async def test_core_hangup_cancels_a_ringing_leg(esl: EslHarness) -> None:
    esl.outcome(FRIEND, ring=30.0)
    switch = esl.switches[0]
    await switch.originate(make_plan(ring_timeout=60))
    await esl.until(K.DIALLING, leg=Leg.B)
    assert await switch.live_calls() == {"c1"}
    await switch.hangup("c1")
    await esl.until(K.CALL_ENDED)

    assert esl.kinds()[-3:] == [("ended", "B", "cancelled"), ("ended", "A", "normal"), ("call_ended", None, None)]
    assert esl.fake.hangups[esl.uuid(Leg.B)] == "ORIGINATOR_CANCEL"
    assert await switch.live_calls() == set()


@pytest_twisted.ensureDeferred
async def test_roamer_hanging_up_during_the_prompt_never_dials_b(esl: EslHarness) -> None:
    await esl.switches[0].originate(make_plan())
    await esl.until(K.ANSWERED, leg=Leg.A)
    esl.fake.far_hangup(esl.uuid(Leg.A))
    await esl.until(K.CALL_ENDED)

    assert esl.kinds() == [("dialling", "A", None), ("answered", "A", None), ("ended", "A", "normal"),
                           ("call_ended", None, None)]
    assert len(esl.api_calls("originate")) == 1


@pytest_twisted.ensureDeferred
async def test_friend_hanging_up_mid_call_releases_the_roamer(esl: EslHarness) -> None:
    await esl.switches[0].originate(make_plan())
    await esl.until(K.BRIDGED)
    esl.fake.far_hangup(esl.uuid(Leg.B), "NORMAL_CLEARING")
    await esl.until(K.CALL_ENDED)

    assert esl.kinds()[-3:] == [("ended", "B", "normal"), ("ended", "A", "normal"), ("call_ended", None, None)]
