"""The Ro backend against python-diameter's own Node acting as the OCS, in a subprocess, over loopback."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
import pytest_twisted

from roamback.core.model import ChargingContext, Grant, Leg, Subscriber
from roamback.core.ports import ChargingRefused
from roamback.core.reasons import RefusalReason
from roamback.diameter import RoCharging

from .peers import (
    CLIENT_HOST,
    PeerProcess,
    free_port,
    ocs_peer,
    ro_settings,
    start_python_ocs,
    started_backend,
    wait_until,
)

_REQUESTS = itertools.count(1)


def context(case: str, *, max_call: int = 600, allowance: int = 30, imsi: str | None = None) -> ChargingContext:
    subscriber = Subscriber(msisdn=f"+447700900{case.rjust(3, '0')}", home_region="GB", roaming=True, imsi=imsi)
    return ChargingContext(
        request_id=f"req-{next(_REQUESTS)}", subscriber=subscriber, leg_a_number=subscriber.msisdn,
        leg_b_number="+33612345678", max_call_seconds=max_call, setup_allowance_seconds=allowance,
    )


class Listener:
    def __init__(self) -> None:
        self.aborted: list[str] = []
        self.grants: list[Grant] = []

    def current_usage(self, reservation_id: str) -> dict[Leg, int] | None:
        return {Leg.A: 40, Leg.B: 20}

    def grant_changed(self, reservation_id: str, grant: Grant) -> None:
        self.grants.append(grant)

    def abort_requested(self, reservation_id: str) -> None:
        self.aborted.append(reservation_id)


@pytest_twisted.async_yield_fixture
async def ocs():
    port = free_port()
    peer = await start_python_ocs(port)
    peer.port = port
    yield peer
    await peer.stop()


@pytest_twisted.async_yield_fixture
async def backend(ocs: PeerProcess):
    charging = await started_backend(ro_settings([ocs_peer("ocs1", ocs.port)]))
    await wait_until(lambda: charging.service.links["ocs1"].machine.state == "open", 10, "CEA")
    yield charging
    await charging.service.stopService()


def ccrs(ocs: PeerProcess) -> list[list[str]]:
    return [line.split() for line in ocs.matching("CCR ")]


@pytest_twisted.ensureDeferred
async def test_full_grant_then_termination_reports_each_leg(ocs: PeerProcess, backend: RoCharging):
    grant = await backend.reserve(context("100", imsi="234150999999999"))
    assert (grant.max_talk_seconds, grant.leg_a_limit, grant.leg_b_limit) == (600, 630, 600)
    assert grant.validity_seconds is None  # everything asked for was granted, no Validity-Time
    assert (await ocs.saw("CER "))[0] == f"CER {CLIENT_HOST}"
    settlement = await backend.terminate(grant.reservation_id, {Leg.A: 75, Leg.B: 61})
    assert settlement.billed_seconds == {Leg.A: 75, Leg.B: 61}
    initial, termination = ccrs(ocs)
    assert initial[1:3] == ["1", "0"] and initial[4] == "447700900100" and initial[5] == "-"
    assert termination[1:3] == ["3", "1"] and termination[5] == "ocs1.ocs.test"  # Destination-Host sticks
    assert termination[6] == "100:75,200:61"
    again = await backend.terminate(grant.reservation_id, {Leg.A: 75, Leg.B: 61})
    assert again == settlement and len(ccrs(ocs)) == 2  # idempotent: no second CCR-T


@pytest_twisted.ensureDeferred
async def test_partial_grant_limits_talk_to_the_smaller_leg(ocs: PeerProcess, backend: RoCharging):
    grant = await backend.reserve(context("101"))
    # leg A 100 s must cover the 30 s setup allowance: talk = min(60, 100 - 30)
    assert (grant.max_talk_seconds, grant.leg_a_limit, grant.leg_b_limit) == (60, 90, 60)
    assert grant.validity_seconds is not None and grant.validity_seconds < 60
    update = await backend.update(grant.reservation_id, {Leg.A: 50, Leg.B: 20})
    # the CCR-U reported 50/20 and got 100/60 more: limits are totals from each answer
    assert (update.leg_a_limit, update.leg_b_limit) == (110, 80)
    assert ccrs(ocs)[-1][1:3] == ["2", "1"] and ccrs(ocs)[-1][6] == "100:50,200:20"
    await backend.terminate(grant.reservation_id, {Leg.A: 70, Leg.B: 40})
    assert ccrs(ocs)[-1][6] == "100:20,200:20"  # only what was used since the CCR-U


@pytest_twisted.ensureDeferred
async def test_final_unit_indication_makes_the_grant_final(ocs: PeerProcess, backend: RoCharging):
    grant = await backend.reserve(context("102"))
    assert grant.validity_seconds is None and grant.max_talk_seconds == 600
    same = await backend.update(grant.reservation_id, {Leg.A: 10, Leg.B: 5})
    assert same.leg_b_limit == grant.leg_b_limit
    assert len(ccrs(ocs)) == 1  # a final grant is never extended: no CCR-U
    await backend.terminate(grant.reservation_id, {Leg.A: 10, Leg.B: 5})


@pytest.mark.parametrize(("case", "reason"), [
    ("103", RefusalReason.NO_CREDIT), ("104", RefusalReason.UNKNOWN_SUBSCRIBER),
])
@pytest_twisted.ensureDeferred
async def test_top_level_refusals_map_to_reasons(ocs: PeerProcess, backend: RoCharging, case: str,
                                                 reason: RefusalReason):
    with pytest.raises(ChargingRefused) as refused:
        await backend.reserve(context(case))
    assert refused.value.reason is reason
    assert [line[1] for line in ccrs(ocs)] == ["1"]  # a refused CCR-I leaves nothing to release


@pytest_twisted.ensureDeferred
async def test_rating_failed_on_leg_b_refuses_and_releases_leg_a(ocs: PeerProcess, backend: RoCharging):
    with pytest.raises(ChargingRefused) as refused:
        await backend.reserve(context("105"))
    assert refused.value.reason is RefusalReason.NO_RATE
    termination = (await ocs.saw("CCR 3"))[0].split()
    assert termination[6] == "100:0,200:0"  # CCR-T with zero usage gives leg A's reservation back


@pytest_twisted.ensureDeferred
async def test_validity_time_sets_when_to_update(ocs: PeerProcess, backend: RoCharging):
    grant = await backend.reserve(context("106"))
    assert grant.max_talk_seconds == 60  # 90 s on leg A minus the 30 s allowance
    assert grant.validity_seconds == 30 - 3 - 2  # Validity-Time minus Tx minus the margin
    await backend.terminate(grant.reservation_id, {Leg.A: 0, Leg.B: 0})


@pytest_twisted.ensureDeferred
async def test_tx_expiry_with_terminate_refuses_as_unavailable(ocs: PeerProcess, backend: RoCharging):
    started = datetime.now(UTC)
    with pytest.raises(ChargingRefused) as refused:
        await backend.reserve(context("107"))
    assert refused.value.reason is RefusalReason.CHARGING_UNAVAILABLE
    assert 2.5 < (datetime.now(UTC) - started).total_seconds() < 6  # Tx is 3 s


@pytest_twisted.ensureDeferred
async def test_rar_triggers_an_immediate_ccr_u_with_current_usage(ocs: PeerProcess, backend: RoCharging):
    listener = Listener()
    backend.set_listener(listener)
    grant = await backend.reserve(context("101"))
    ocs.send(f"RAR {grant.reservation_id}")
    assert (await ocs.saw("RAA "))[0] == "RAA 2001"
    update = (await ocs.saw("CCR 2"))[0].split()
    assert update[6] == "100:40,200:20"
    await wait_until(lambda: listener.grants, 5, "grant after RAR")
    assert listener.grants[0].leg_b_limit == 80
    await backend.terminate(grant.reservation_id, {Leg.A: 40, Leg.B: 20})


@pytest_twisted.ensureDeferred
async def test_asr_reaches_the_listener_and_unknown_sessions_get_5002(ocs: PeerProcess, backend: RoCharging):
    listener = Listener()
    backend.set_listener(listener)
    grant = await backend.reserve(context("100"))
    ocs.send(f"ASR {grant.reservation_id}")
    assert (await ocs.saw("ASA "))[0] == "ASA 2001"
    await wait_until(lambda: listener.aborted, 5, "abort hook")
    assert listener.aborted == [grant.reservation_id]
    ocs.send("RAR no-such-session")
    assert (await ocs.saw("RAA "))[0] == "RAA 5002"
