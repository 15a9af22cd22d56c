"""The engine charging over Ro: interim updates against python-diameter's OCS, its ASR, the CCA-T's cost."""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_twisted

from roamback.core.model import Leg
from roamback.core.reasons import FailureReason
from roamback.core.states import RequestState as S
from roamback.diameter import RoCharging
from roamback.diameter.codec import Message, decode_message, encode_answer, encode_avp
from roamback.diameter.dictionary import AVP_FLAG_MANDATORY

from ..core.harness import DEST_OK, Harness, default_dialling, make_harness, roamer
from .peers import PeerProcess, free_port, ocs_peer, ro_settings, start_python_ocs, started_backend, wait_until
from .test_ro_python_diameter import context
from .test_ro_unit import backend, cca

VALIDITY_CASE = "+33612345606"  # the OCS grants 90 s per leg at a time, each answer valid 30 s
ALLOWANCE = 20  # leg A's quota also pays for prompt and ringing: 90 - 20 leaves 70 s of talk


@pytest_twisted.async_yield_fixture
async def ocs() -> AsyncIterator[PeerProcess]:
    port = free_port()
    peer = await start_python_ocs(port)
    peer.port = port
    yield peer
    await peer.stop()


@pytest_twisted.async_yield_fixture
async def ro(ocs: PeerProcess) -> AsyncIterator[RoCharging]:
    charging = await started_backend(ro_settings([ocs_peer("ocs1", ocs.port)]))
    await wait_until(lambda: charging.service.links["ocs1"].machine.state == "open", 10, "CEA")
    yield charging
    await charging.service.stopService()


async def engine_on(db: Any, charging: RoCharging, talk_seconds: float) -> Harness:
    """The engine with the Ro backend and the simulated switch, wired as app.py wires them."""
    h = await make_harness(db, charging=charging, talk_seconds=talk_seconds,
                           dialling=default_dialling(setup_allowance_seconds=ALLOWANCE))
    charging.set_listener(h.engine.charging_listener)
    await h.add_roamer(roamer(msisdn=VALIDITY_CASE, account_id=None))
    return h


def reported(ocs: PeerProcess, kind: str) -> list[dict[int, int]]:
    """Used-Service-Unit per rating group of every CCR of ``kind`` (2 update, 3 termination) the OCS saw."""
    lines = [line.split() for line in ocs.matching(f"CCR {kind} ")]
    return [{int(rg): int(s) for rg, s in (part.split(":") for part in line[6].split(","))} for line in lines]


@pytest_twisted.ensureDeferred
async def test_a_call_longer_than_its_first_grant_is_updated_and_terminated_with_its_usage(
    sqlite_database: Any, ocs: PeerProcess, ro: RoCharging,
) -> None:
    h = await engine_on(sqlite_database, ro, talk_seconds=150)
    request = await h.submit(DEST_OK, requester=VALIDITY_CASE)
    assert request.leg_b_limit == 90 - ALLOWANCE  # the first grant alone would cut the call at 70 s
    done = await h.finished(request, timeout=30)

    assert done.state is S.COMPLETED
    a, b = await h.cdrs(request.id)
    assert (b.ended_at - b.answered_at).total_seconds() == pytest.approx(150, abs=5)
    updates, (termination,) = reported(ocs, "2"), reported(ocs, "3")
    assert len(updates) >= 3  # every ~15 s: Validity-Time 30 s, less Tx and margins
    # Used-Service-Unit in each CCR is the usage since the previous one; together they are the whole call.
    for rating_group, cdr in ((100, a), (200, b)):
        assert sum(u[rating_group] for u in updates) + termination[rating_group] == cdr.billed_seconds
        assert cdr.billed_seconds == int((cdr.ended_at - cdr.answered_at).total_seconds())
    numbers = [int(line.split()[2]) for line in ocs.matching("CCR ")]
    assert numbers == list(range(len(numbers)))  # CC-Request-Number 0, 1, 2, ... in order


@pytest_twisted.ensureDeferred
async def test_an_asr_from_the_ocs_hangs_up_and_sends_the_ccr_t(
    sqlite_database: Any, ocs: PeerProcess, ro: RoCharging,
) -> None:
    h = await engine_on(sqlite_database, ro, talk_seconds=1000)
    request = await h.submit(DEST_OK, requester=VALIDITY_CASE)
    await h.until(lambda: request.state is S.BRIDGED)
    ocs.send(f"ASR {request.reservation_id}")
    done = await h.finished(request, timeout=15)

    assert (await ocs.saw("ASA "))[0] == "ASA 2001"
    assert (done.state, done.reason) == (S.FAILED, FailureReason.CHARGING_ERROR.value)
    (termination,) = reported(ocs, "3")
    _a, b = await h.cdrs(request.id)
    assert sum(u[200] for u in reported(ocs, "2")) + termination[200] == b.billed_seconds > 0


# -- Cost-Information ---------------------------------------------------------------------------------


def cca_with_cost(digits: int, exponent: int, currency: int | None) -> Any:
    """Grants as asked; the CCA-T carries Cost-Information (RFC 4006 8.7), encoded by code."""
    granting = cca(grants={100: 630, 200: 600})

    def script(request: Message) -> bytes:
        if request.u32(416) != 3:
            return granting(request)
        unit_value = encode_avp(445, AVP_FLAG_MANDATORY, 0, b"".join((
            encode_avp(447, AVP_FLAG_MANDATORY, 0, struct.pack("!q", digits)),
            encode_avp(429, AVP_FLAG_MANDATORY, 0, struct.pack("!i", exponent)))))
        code = encode_avp(425, AVP_FLAG_MANDATORY, 0, struct.pack("!I", currency)) if currency else b""
        cost = encode_avp(423, AVP_FLAG_MANDATORY, 0, unit_value + code)
        plain = decode_message(cca()(request))
        return encode_answer(request, [encode_avp(*item) for item in plain.avps] + [cost])

    return script


@pytest.mark.parametrize(("digits", "exponent", "currency", "cost", "letters"), [
    (1250, -2, 978, 1250, "EUR"),  # 12.50 EUR
    (123456, -4, 840, 1235, "USD"),  # 12.3456 USD rounds half up to 12.35
    (3, 2, 392, 300, "JPY"),  # 300 JPY: no minor unit
    (1250, -2, None, 1250, None),  # no Currency-Code: the amount, currency unknown
])
@pytest_twisted.ensureDeferred
async def test_the_settlement_carries_the_cost_the_ocs_reported(
    digits: int, exponent: int, currency: int | None, cost: int, letters: str | None,
) -> None:
    charging, _node = backend(cca_with_cost(digits, exponent, currency))
    grant = await charging.reserve(context("100", max_call=120))
    settlement = await charging.terminate(grant.reservation_id, {Leg.A: 70, Leg.B: 50})
    assert (settlement.cost_minor, settlement.currency) == (cost, letters)
    assert settlement.billed_seconds == {Leg.A: 70, Leg.B: 50}


@pytest_twisted.ensureDeferred
async def test_without_cost_information_the_cost_stays_unknown() -> None:
    charging, _node = backend(cca(grants={100: 630, 200: 600}))
    grant = await charging.reserve(context("100", max_call=120))
    settlement = await charging.terminate(grant.reservation_id, {Leg.A: 70, Leg.B: 50})
    assert (settlement.cost_minor, settlement.currency) == (0, None)
