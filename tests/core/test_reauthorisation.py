"""Grants renewed during the call: interim updates, final units, failures, the OCS's re-auth and abort.

The harness runs 200 times faster than the wall clock, so the few simulated seconds of tolerance on
durations below are a few real milliseconds of reactor jitter on a loaded machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_twisted

from roamback.core.model import ChargingContext, Grant, Leg, Settlement
from roamback.core.ports import ChargingRefused, PortUnavailable
from roamback.core.reasons import FailureReason, RefusalReason
from roamback.core.reauthorisation import renewal_delay
from roamback.core.states import RequestState as S

from .harness import ALICE, DEST_OK, Harness, make_harness, roamer

ALLOWANCE = 45  # DiallingSettings.setup_allowance_seconds: leg A's limit also pays for prompt and ringing
T0 = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)


@dataclass
class SlicedCharging:
    """An OCS-like backend: talk time in slices of ``slice_seconds``, each valid ``validity`` seconds.

    Every grant states the totals each leg may reach, as RoCharging's do. After ``final_after`` updates
    the grant it returns is final (no validity: Final-Unit-Indication); ``failure`` makes updates raise.
    """

    now: Any
    slice_seconds: int = 60
    validity: int = 30
    final_after: int | None = None
    failure: Exception | None = None
    slices: int = 0
    updates: list[tuple[datetime, dict[Leg, int]]] = field(default_factory=list)
    terminated: list[dict[Leg, int]] = field(default_factory=list)

    def grant(self, final: bool = False) -> Grant:
        talk = self.slice_seconds * self.slices
        return Grant(reservation_id="res-1", max_talk_seconds=talk, leg_a_limit=talk + ALLOWANCE,
                     leg_b_limit=talk, validity_seconds=None if final else self.validity)

    async def reserve(self, context: ChargingContext) -> Grant:
        self.slices = 1
        return self.grant()

    async def update(self, reservation_id: str, used: dict[Leg, int]) -> Grant:
        assert reservation_id == "res-1"
        self.updates.append((self.now(), dict(used)))
        if self.failure is not None:
            raise self.failure
        self.slices += 1
        return self.grant(final=self.final_after is not None and len(self.updates) >= self.final_after)

    async def terminate(self, reservation_id: str, used: dict[Leg, int]) -> Settlement:
        self.terminated.append(dict(used))
        return Settlement(billed_seconds=dict(used), cost_minor=0)

    async def balance(self, subscriber: Any) -> None:
        return None


async def sliced_harness(db: Any, talk_seconds: float, **charging: Any) -> tuple[Harness, SlicedCharging]:
    backend = SlicedCharging(now=None, **charging)
    h = await make_harness(db, charging=backend, talk_seconds=talk_seconds)
    backend.now = h.runtime.now
    await h.add_roamer(roamer())
    return h, backend


def spy_limits(h: Harness) -> list[tuple[str, int, int]]:
    """Record what the engine tells the switch, and pass it on."""
    calls: list[tuple[str, int, int]] = []
    original = h.switch.set_limits

    async def recording(call_id: str, leg_a_limit: int, leg_b_limit: int) -> None:
        calls.append((call_id, leg_a_limit, leg_b_limit))
        await original(call_id, leg_a_limit, leg_b_limit)

    h.switch.set_limits = recording  # type: ignore[method-assign]
    return calls


def talk(leg: Any) -> float:
    return (leg.ended_at - leg.answered_at).total_seconds()


def since(moment: datetime, stored: datetime) -> float:
    """Seconds from a stored CDR time (naive UTC on SQLite) to ``moment``."""
    return (moment - stored.replace(tzinfo=stored.tzinfo or UTC)).total_seconds()


# -- when to ask ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("grant", "answered", "expected"), [
    # validity 30 s from the grant, margin 10 s: ask 20 s after the grant arrived
    (Grant("r", 60, 105, 60, validity_seconds=30), {Leg.A: T0}, 20.0),
    # leg B answered 40 s after the grant: its 60 s limit ends at 100 s, validity at 300 s -> 90 s
    (Grant("r", 60, 105, 60, validity_seconds=300), {Leg.A: T0, Leg.B: T0 + timedelta(seconds=40)}, 90.0),
    # a short validity is asked at its half-way point, not at once
    (Grant("r", 60, 105, 60, validity_seconds=8), {Leg.A: T0}, 4.0),
    # final grant, or nothing answered yet: no update
    (Grant("r", 60, 105, 60), {Leg.A: T0}, None),
    (Grant("r", 60, 105, 60, validity_seconds=30), {}, None),
])
def test_renewal_is_due_before_the_first_deadline(grant: Grant, answered: dict[Leg, datetime],
                                                  expected: float | None) -> None:
    assert renewal_delay(grant, T0, answered, 10, T0) == expected


def test_an_overdue_renewal_is_due_now() -> None:
    grant = Grant("r", 60, 105, 60, validity_seconds=30)
    assert renewal_delay(grant, T0, {Leg.A: T0}, 10, T0 + timedelta(seconds=45)) == 0.0


# -- in the engine ----------------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_updates_keep_a_long_call_going_past_its_first_grant(sqlite_database) -> None:
    h, charging = await sliced_harness(sqlite_database, talk_seconds=150)
    limits = spy_limits(h)
    request = await h.submit(DEST_OK)
    done = await h.finished(request, timeout=20)

    assert done.state is S.COMPLETED
    a, b = await h.cdrs(request.id)
    assert talk(b) == pytest.approx(150, abs=5) and b.cause == "normal"  # far beyond the first 60 s
    assert len(charging.updates) >= 5  # every ~20 s (30 s validity less the 10 s margin)
    first_at, _used = charging.updates[0]
    granted_at = a.started_at  # reserved just before leg A was dialled
    assert 17 <= since(first_at, granted_at) <= 25  # 20 s: before the 30 s validity ran out
    for at, used in charging.updates:  # cumulative seconds since each leg's own answer
        assert used[Leg.A] == pytest.approx(since(at, a.answered_at), abs=1.5)
        assert used[Leg.B] == pytest.approx(since(at, b.answered_at), abs=1.5)
    assert [used[Leg.B] for _at, used in charging.updates] == sorted(used[Leg.B] for _at, used in charging.updates)
    assert limits[:2] == [(done.call_id, 120 + ALLOWANCE, 120), (done.call_id, 180 + ALLOWANCE, 180)]
    assert charging.terminated == [{Leg.A: int(talk(a)), Leg.B: int(talk(b))}]
    assert (await h.notices(request.id))[0].msg_key == "completed_no_balance"  # the fake OCS tells no balance


@pytest_twisted.ensureDeferred
async def test_a_final_grant_ends_the_call_at_its_limit(sqlite_database) -> None:
    h, charging = await sliced_harness(sqlite_database, talk_seconds=1000, final_after=1)
    limits = spy_limits(h)
    request = await h.submit(DEST_OK)
    done = await h.finished(request, timeout=20)

    assert len(charging.updates) == 1  # the last slice came with Final-Unit-Indication: never asked again
    assert limits == [(done.call_id, 120 + ALLOWANCE, 120)]
    _a, b = await h.cdrs(request.id)
    assert b.cause == "time_limit" and talk(b) == pytest.approx(120, abs=5)
    assert done.state is S.COMPLETED


@pytest.mark.parametrize("failure", [PortUnavailable("OCS timeout"),
                                     ChargingRefused(RefusalReason.NO_CREDIT, "4012")])
@pytest_twisted.ensureDeferred
async def test_a_failed_update_lets_the_call_run_to_its_current_limit(sqlite_database, failure: Exception) -> None:
    h, charging = await sliced_harness(sqlite_database, talk_seconds=1000, failure=failure)
    limits = spy_limits(h)
    request = await h.submit(DEST_OK)
    done = await h.finished(request, timeout=20)

    assert len(charging.updates) == 1 and limits == []
    _a, b = await h.cdrs(request.id)
    assert b.cause == "time_limit" and talk(b) == pytest.approx(60, abs=5)
    assert done.state is S.COMPLETED and charging.terminated


@pytest_twisted.ensureDeferred
async def test_a_final_grant_from_the_ledger_is_never_updated(sqlite_database) -> None:
    h = await make_harness(sqlite_database, talk_seconds=30)
    await h.add_roamer(roamer(), credit_minor=1000)
    updates: list[object] = []

    async def update(reservation_id: str, used: dict[Leg, int]) -> Grant:
        updates.append(used)
        raise AssertionError("the ledger grants the whole call: no update expected")

    h.charging.update = update  # type: ignore[method-assign]
    done = await h.finished(await h.submit(DEST_OK))
    assert done.state is S.COMPLETED and updates == []


@pytest_twisted.ensureDeferred
async def test_re_authorisation_from_the_ocs_reports_usage_and_moves_the_limits(sqlite_database) -> None:
    h, charging = await sliced_harness(sqlite_database, talk_seconds=100, validity=10_000)
    limits = spy_limits(h)
    listener = h.engine.charging_listener
    request = await h.submit(DEST_OK)
    await h.until(lambda: request.state is S.BRIDGED)
    await h.until(lambda: (listener.current_usage("res-1") or {}).get(Leg.B, 0) >= 5)

    usage = listener.current_usage("res-1")
    assert usage is not None and usage[Leg.A] > usage[Leg.B] >= 5  # A answered first
    assert listener.current_usage("unknown") is None
    charging.slices = 3  # what a RAR-triggered CCR-U brought back
    listener.grant_changed("res-1", charging.grant(final=True))
    done = await h.finished(request, timeout=20)

    assert limits == [(done.call_id, 180 + ALLOWANCE, 180)]
    _a, b = await h.cdrs(request.id)
    assert talk(b) == pytest.approx(100, abs=5) and b.cause == "normal"  # not cut at the first 60 s
    assert charging.updates == []  # validity far away, then final: the engine never asked itself


@pytest_twisted.ensureDeferred
async def test_abort_from_the_ocs_hangs_up_and_settles_as_a_charging_failure(sqlite_database) -> None:
    h, charging = await sliced_harness(sqlite_database, talk_seconds=1000, validity=10_000)
    request = await h.submit(DEST_OK)
    await h.until(lambda: request.state is S.BRIDGED)
    bridged_at = h.runtime.now()
    # some talk first: with none on leg B, leg A would not be billed at all (policy.bill_leg_a_when_b_fails)
    await h.until(lambda: (h.runtime.now() - bridged_at).total_seconds() >= 3)
    h.engine.charging_listener.abort_requested("res-1")
    done = await h.finished(request)

    assert (done.state, done.reason) == (S.FAILED, FailureReason.CHARGING_ERROR.value)
    a, b = await h.cdrs(request.id)
    assert a.cause == b.cause == "cancelled"
    assert charging.terminated == [{Leg.A: int(talk(a)), Leg.B: int(talk(b))}]
    (notice,) = await h.notices(request.id)
    assert notice.msg_key == "failure.charging_error"
    assert await h.slot_holder(ALICE) is None
    h.engine.charging_listener.abort_requested("res-1")  # a late or repeated ASR: nothing left to do


@pytest_twisted.ensureDeferred
async def test_abort_while_waiting_to_retry_leg_a_ends_the_request_at_once(sqlite_database) -> None:
    backend = SlicedCharging(now=None)
    h = await make_harness(sqlite_database, charging=backend)
    backend.now = h.runtime.now
    await h.add_roamer(roamer(msisdn="+33699991111", account_id="busy"))  # leg A always busy
    request = await h.submit(DEST_OK, requester="+33699991111")
    await h.until(lambda: request.state is S.A_RETRY_WAIT)
    h.engine.charging_listener.abort_requested("res-1")
    done = await h.finished(request)

    assert (done.state, done.reason, done.attempts) == (S.FAILED, "charging_error", 1)
    assert backend.terminated == [{Leg.A: 0, Leg.B: 0}]
