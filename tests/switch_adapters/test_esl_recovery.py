"""The ESL adapter when things go wrong: event socket drops mid-call, service restarts, the backstop."""

from __future__ import annotations

from datetime import timedelta

import pytest
import pytest_twisted

from roamback.core.model import Leg, LegEventKind
from roamback.core.ports import PortUnavailable

from .fake_esl import FRIEND, EslHarness, esl_fixture, make_plan, stamp  # noqa: F401

K = LegEventKind


@pytest_twisted.ensureDeferred
async def test_answer_missed_while_the_socket_was_down_is_caught_up(esl: EslHarness) -> None:
    esl.outcome(FRIEND, ring=3.0)
    await esl.switches[0].originate(make_plan())
    await esl.until(K.DIALLING, leg=Leg.B)
    esl.server.drop(refuse=True)
    b = esl.uuid(Leg.B)
    await esl.eventually(lambda: esl.fake.channels[b].callstate == "ACTIVE")
    assert not [e for e in esl.events if e.kind is K.ANSWERED and e.leg is Leg.B]

    await esl.reconnect()
    await esl.until(K.BRIDGED)
    await esl.switches[0].hangup("c1")
    await esl.until(K.CALL_ENDED)

    assert esl.kinds() == [("dialling", "A", None), ("answered", "A", None), ("dialling", "B", None),
                           ("answered", "B", None), ("bridged", None, None), ("ended", "B", "normal"),
                           ("ended", "A", "normal"), ("call_ended", None, None)]
    answered_b = next(e for e in esl.events if e.kind is K.ANSWERED and e.leg is Leg.B)
    assert answered_b.at == stamp(esl.fired("CHANNEL_ANSWER", b)), "the switch's answer time, not the resync's"
    assert esl.api_calls("show").count("channels as json") >= 2 and f"{b} json" in esl.api_calls("uuid_dump")


@pytest_twisted.ensureDeferred
async def test_hangup_missed_while_the_socket_was_down_ends_the_call(esl: EslHarness) -> None:
    await esl.switches[0].originate(make_plan())
    await esl.until(K.BRIDGED)
    esl.server.drop(refuse=True)
    esl.fake.far_hangup(esl.uuid(Leg.B))

    await esl.reconnect()
    await esl.until(K.CALL_ENDED)

    assert esl.kinds()[-3:] == [("ended", "B", "normal"), ("ended", "A", "normal"), ("call_ended", None, None)]


@pytest_twisted.ensureDeferred
async def test_prompt_end_lost_with_the_socket_still_connects_the_call(esl: EslHarness) -> None:
    esl.outcome(FRIEND, talk=1.0)
    await esl.switches[0].originate(make_plan())
    await esl.until(K.ANSWERED, leg=Leg.A)
    esl.server.drop(refuse=True)
    a = esl.uuid(Leg.A)
    await esl.eventually(lambda: esl.fake.channels[a].running is None)  # the prompt ended unheard by us

    await esl.reconnect()
    await esl.until(K.CALL_ENDED)

    assert esl.kinds()[2:] == [("dialling", "B", None), ("answered", "B", None), ("bridged", None, None),
                               ("ended", "B", "normal"), ("ended", "A", "normal"), ("call_ended", None, None)]


@pytest_twisted.ensureDeferred
async def test_restart_finds_bridged_channels_reports_and_ends_them(esl: EslHarness) -> None:
    await esl.switches[0].originate(make_plan())
    await esl.until(K.BRIDGED)
    await esl.switches[0].stopService()  # the service dies; FreeSWITCH keeps the call up
    a, b = esl.uuid(Leg.A), esl.uuid(Leg.B)
    assert set(esl.fake.channels) == {a, b}

    restarted = await esl.new_switch()
    assert await restarted.live_calls() == {"c1"}
    assert set(esl.fake.channels) == {a, b}, "a call of the previous process is left for recovery, not cut"
    await restarted.hangup("c1")

    await esl.eventually(lambda: not esl.fake.channels)
    assert await restarted.live_calls() == set()


@pytest_twisted.ensureDeferred
async def test_backstop_ends_the_leg_when_the_service_is_gone(esl: EslHarness) -> None:
    await esl.switches[0].originate(make_plan(b_limit=4))
    answered_b = await esl.until(K.ANSWERED, leg=Leg.B)
    await esl.until(K.BRIDGED)
    await esl.switches[0].stopService()

    b = esl.uuid(Leg.B)
    await esl.eventually(lambda: b in esl.fake.hangups)
    assert esl.fake.hangups[b] == "ALLOTTED_TIMEOUT"
    cut_after = stamp(esl.fired("CHANNEL_HANGUP_COMPLETE", b), "variable_end_uepoch") - answered_b.at
    assert timedelta(seconds=6.5) <= cut_after <= timedelta(seconds=8.5)  # 4 s limit + 3 s backstop, rounded up
    # Leg A, parked after its bridge, is left for recovery: the next process finds and ends it.
    restarted = await esl.new_switch()
    assert await restarted.live_calls() == {"c1"}
    await restarted.hangup("c1")
    await esl.eventually(lambda: not esl.fake.channels)


@pytest_twisted.ensureDeferred
async def test_leftovers_of_finished_calls_are_killed_and_others_left_alone(esl: EslHarness) -> None:
    esl.outcome(FRIEND, talk=1.0)
    switch = esl.switches[0]
    await switch.originate(make_plan())
    await esl.until(K.CALL_ENDED)
    esl.fake.outcomes["999"] = esl.fake.default_outcome
    esl.fake.bgapi("originate", "{origination_uuid=someone-else}sofia/gateway/x/999 &park()", "job-foreign")
    leftover = switch.channel_uuid("c1", Leg.A)
    esl.fake.bgapi("originate", f"{{origination_uuid={leftover},roamback_service=roamback,roamback_call_id=c1}}"
                   "sofia/gateway/x/999 &park()", "job-leftover")
    await esl.eventually(lambda: {c.callstate for c in esl.fake.channels.values()} == {"ACTIVE"}
                         and len(esl.fake.channels) == 2)

    esl.server.drop(refuse=True)
    await esl.reconnect()

    await esl.eventually(lambda: set(esl.fake.channels) == {"someone-else"})
    assert await switch.live_calls() == set()
    esl.fake.far_hangup("someone-else")


@pytest_twisted.ensureDeferred
async def test_no_call_is_placed_blind_or_into_a_refusing_switch(esl: EslHarness) -> None:
    switch = esl.switches[0]
    esl.server.drop(refuse=True)
    await esl.eventually(lambda: not switch.connected_now)
    with pytest.raises(PortUnavailable):
        await switch.originate(make_plan())
    await esl.reconnect()

    esl.outcome(FRIEND, "busy")
    await switch.originate(make_plan("c2"))  # accepted: bgapi only queues; the failure comes as events
    await esl.until(K.CALL_ENDED, "c2")
    assert not [e for e in esl.events if e.call_id == "c1"] and await switch.live_calls() == set()
