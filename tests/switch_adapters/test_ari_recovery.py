"""The ARI adapter when things go wrong: event socket drops, service restarts, the switch-side backstop."""

from __future__ import annotations

from datetime import timedelta

import pytest
import pytest_twisted

from roamback.core.model import Leg, LegEventKind
from roamback.core.ports import PortUnavailable
from roamback.switch_adapters.ari._rest import AriError

from .ari_harness import FRIEND, AriHarness, make_plan
from .fake_ari import FakeChannel

K = LegEventKind


async def reconnect(ari: AriHarness) -> None:
    synced = ari.switches[-1].synced()
    ari.server.accept_websockets()
    await ari.within(synced)


@pytest_twisted.ensureDeferred
async def test_answer_missed_while_the_socket_was_down_is_caught_up(ari: AriHarness) -> None:
    ari.outcome(FRIEND, ring=3.0)
    await ari.switches[0].originate(make_plan())
    await ari.until(K.DIALLING, leg=Leg.B)
    ari.server.drop_websockets(refuse=True)
    await ari.eventually(lambda: ari.fake.channels["roamback-c1-b"].state == "Up")
    assert not [e for e in ari.events if e.kind is K.ANSWERED and e.leg is Leg.B]

    await reconnect(ari)
    await ari.until(K.BRIDGED)
    await ari.switches[0].hangup("c1")
    await ari.until(K.CALL_ENDED)

    assert ari.kinds() == [("dialling", "A", None), ("answered", "A", None), ("dialling", "B", None),
                           ("answered", "B", None), ("bridged", None, None), ("ended", "B", "normal"),
                           ("ended", "A", "normal"), ("call_ended", None, None)]
    assert ari.fake.requests.count(("GET", "channels", {})) >= 2, "no re-sync over REST after the reconnect"


@pytest_twisted.ensureDeferred
async def test_hangup_missed_while_the_socket_was_down_ends_the_call(ari: AriHarness) -> None:
    await ari.switches[0].originate(make_plan())
    await ari.until(K.BRIDGED)
    ari.server.drop_websockets(refuse=True)
    ari.fake.far_hangup("roamback-c1-b")

    await reconnect(ari)
    await ari.until(K.CALL_ENDED)

    assert ari.kinds()[-3:] == [("ended", "B", "normal"), ("ended", "A", "normal"), ("call_ended", None, None)]


@pytest_twisted.ensureDeferred
async def test_restart_finds_bridged_channels_reports_and_ends_them(ari: AriHarness) -> None:
    await ari.switches[0].originate(make_plan())
    await ari.until(K.BRIDGED)
    await ari.switches[0].stopService()  # the service dies; Asterisk keeps the call up
    assert set(ari.fake.channels) == {"roamback-c1-a", "roamback-c1-b"}

    restarted = await ari.new_switch()
    assert await restarted.live_calls() == {"c1"}
    assert ari.fake.bridges == {"roamback-c1-bridge": ["roamback-c1-a", "roamback-c1-b"]}, "adopted, not cut"
    await restarted.hangup("c1")

    assert await restarted.live_calls() == set()


@pytest_twisted.ensureDeferred
async def test_backstop_ends_the_leg_when_the_service_is_gone(ari: AriHarness) -> None:
    await ari.switches[0].originate(make_plan(b_limit=4))
    answered_b = await ari.until(K.ANSWERED, leg=Leg.B)
    await ari.until(K.BRIDGED)
    await ari.switches[0].stopService()

    await ari.eventually(lambda: "roamback-c1-b" in ari.fake.destroyed)
    cut_after = ari.stamp("ChannelDestroyed", "roamback-c1-b") - answered_b.at
    assert timedelta(seconds=6.5) <= cut_after <= timedelta(seconds=8.5)  # 4 s limit + 3 s backstop
    # Leg A, alone in the bridge, is left for recovery: the next process adopts and ends it.
    restarted = await ari.new_switch()
    assert await restarted.live_calls() == {"c1"}
    await restarted.hangup("c1")


@pytest_twisted.ensureDeferred
async def test_leftovers_of_finished_calls_are_cleaned_and_others_left_alone(ari: AriHarness) -> None:
    ari.outcome(FRIEND, talk=1.0)
    await ari.switches[0].originate(make_plan())
    await ari.until(K.CALL_ENDED)
    leftover = FakeChannel(id="roamback-c1-a", name="PJSIP/x-1", number="1", caller_id="", app="roamback",
                           args=[], local=False, created="", state="Up", in_stasis=True)
    foreign = FakeChannel(id="someone-else", name="PJSIP/y-1", number="2", caller_id="", app="other",
                          args=[], local=False, created="", state="Up", in_stasis=True)
    ari.fake.channels.update({leftover.id: leftover, foreign.id: foreign})
    ari.fake.bridges.update({"roamback-gone-bridge": [], "their-bridge": []})

    ari.server.drop_websockets(refuse=True)
    await reconnect(ari)

    assert set(ari.fake.channels) == {"someone-else"}
    assert set(ari.fake.bridges) == {"their-bridge"}
    del ari.fake.channels["someone-else"], ari.fake.bridges["their-bridge"]


@pytest_twisted.ensureDeferred
async def test_no_call_is_placed_blind_or_into_a_refusing_switch(ari: AriHarness) -> None:
    switch = ari.switches[0]
    ari.server.drop_websockets(refuse=True)
    await ari.eventually(lambda: not switch.connected_now)
    with pytest.raises(PortUnavailable):
        await switch.originate(make_plan())
    await reconnect(ari)

    ari.fake.apps.clear()  # as if Asterisk had been restarted without our application
    with pytest.raises(AriError) as refused:
        await switch.originate(make_plan("c2"))
    assert refused.value.status == 400
    assert not ari.events and not ari.fake.bridges and await switch.live_calls() == set()
