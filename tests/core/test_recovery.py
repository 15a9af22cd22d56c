"""Recovery after a crash: each non-terminal state a dead process can leave is resumed or ended cleanly.

The requests are written the way a crashed process leaves them (through the real store and ledger),
then a fresh engine runs ``recover``; the assertions are what an operator must find afterwards: a
terminal state, CDRs, a notice, the reservation settled once, the one-active slot released.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
import pytest_twisted

from roamback.core.model import CallbackRequest, Channel, ChargingContext, Leg, LegRecord, Transition
from roamback.core.recovery import recover
from roamback.core.states import RequestState as S
from roamback.storage.schema import reservations

from .harness import ALICE, DEST_OK, SERVICE_CLI, Harness, make_harness, roamer

PATH = [S.RECEIVED, S.ACCEPTED, S.RESERVED, S.DIALLING_A, S.A_ANSWERED, S.DIALLING_B, S.BRIDGED]


async def crashed(h: Harness, state: S, *, age: float = 5.0, legs_from: datetime | None = None,
                  attempts: int = 1) -> CallbackRequest:
    """Store a request as a process that died in ``state`` would have left it."""
    created = h.runtime.now() - timedelta(seconds=age)
    request = CallbackRequest(id=str(uuid.uuid4()), channel=Channel.API, requester=ALICE,
                              destination_raw=DEST_OK, callback_raw=None, language="en",
                              created_at=created, updated_at=created)
    await h.store.create(request)
    call_id = f"{request.id}.{attempts}"
    stop = S.DIALLING_A if state is S.A_RETRY_WAIT else state
    for source, target in itertools.pairwise(PATH):
        if PATH.index(target) > PATH.index(stop):
            break
        changes: dict[str, Any] = {}
        claim = target is S.ACCEPTED
        if target is S.ACCEPTED:
            changes = {"destination": DEST_OK, "callback_number": ALICE, "account_id": roamer().account_id}
        if target is S.RESERVED:
            grant = await h.charging.reserve(ChargingContext(request.id, roamer(), ALICE, DEST_OK, 3600, 45))
            changes = {"reservation_id": grant.reservation_id, "max_talk_seconds": grant.max_talk_seconds,
                       "leg_a_limit": grant.leg_a_limit, "leg_b_limit": grant.leg_b_limit}
        if target is S.DIALLING_A:
            changes = {"call_id": call_id, "attempts": attempts}
        legs = _legs(request.id, call_id, attempts, target, legs_from) if legs_from else ()
        await h.store.record(Transition(request.id, source, target, created, changes=changes, legs=legs,
                                        claim_active=claim))
    if state is S.A_RETRY_WAIT:
        await h.store.record(Transition(request.id, S.DIALLING_A, S.A_RETRY_WAIT, created, reason="busy"))
    stored = await h.store.get(request.id)
    assert stored is not None and stored.state is state
    return stored


def _legs(request_id: str, call_id: str, attempt: int, target: S, t0: datetime) -> tuple[LegRecord, ...]:
    a = LegRecord(request_id, call_id, Leg.A, attempt, ALICE, SERVICE_CLI, started_at=t0)
    if target in (S.A_ANSWERED, S.DIALLING_B, S.BRIDGED):
        a.answered_at = t0 + timedelta(seconds=5)
    if target not in (S.DIALLING_B, S.BRIDGED):
        return (a,)
    b = LegRecord(request_id, call_id, Leg.B, attempt, DEST_OK, ALICE, started_at=t0 + timedelta(seconds=9))
    if target is S.BRIDGED:
        b.answered_at = b.bridged_at = a.bridged_at = t0 + timedelta(seconds=14)
    return (a, b)


async def _setup(sqlite_database: Any) -> Harness:
    h = await make_harness(sqlite_database)
    await h.add_roamer(roamer(), credit_minor=1000)
    return h


async def _reservation(h: Harness, request: CallbackRequest) -> Any:
    (row,) = await h.rows(reservations, id=request.reservation_id)
    return row


@pytest.mark.parametrize("state", [S.RECEIVED, S.ACCEPTED, S.RESERVED, S.A_RETRY_WAIT])
@pytest_twisted.ensureDeferred
async def test_fresh_undecided_and_reserved_requests_are_resumed(sqlite_database, state: S) -> None:
    h = await _setup(sqlite_database)
    request = await crashed(h, state)
    assert await recover(h.engine) == {f"resumed_{state.value}": 1}
    await h.until(lambda: not h.engine.is_live(request.id))
    stored = await h.store.get(request.id)
    assert stored.state is S.COMPLETED, (stored.state, stored.reason)
    assert (await _reservation(h, stored)).state == "settled"
    expected_attempts = 2 if state is S.A_RETRY_WAIT else 1
    assert stored.attempts == expected_attempts
    (notice,) = await h.notices(request.id)
    assert notice.msg_key == "completed"


@pytest_twisted.ensureDeferred
async def test_stale_requests_are_ended_with_a_notice_and_nothing_charged(sqlite_database) -> None:
    h = await _setup(sqlite_database)
    for state in (S.RECEIVED, S.RESERVED, S.DIALLING_A):
        request = await crashed(h, state, age=3600)
        outcome = await recover(h.engine)
        assert outcome == {f"ended_{state.value}": 1}
        stored = await h.store.get(request.id)
        assert (stored.state, stored.reason) == (S.FAILED, "interrupted")
        (notice,) = await h.notices(request.id)
        assert notice.msg_key == "failure.interrupted"
        account = await h.account(roamer().account_id)
        assert (account.balance_minor, account.reserved_minor) == (1000, 0)
        assert await h.slot_holder(ALICE) is None
        await h.db.write(lambda conn: conn.exec_driver_sql("DELETE FROM active_callbacks"))


@pytest_twisted.ensureDeferred
async def test_a_bridged_call_lost_in_a_crash_is_completed_and_billed_to_the_last_event(sqlite_database) -> None:
    h = await _setup(sqlite_database)
    t0 = h.runtime.now() - timedelta(seconds=600)
    request = await crashed(h, S.BRIDGED, age=600, legs_from=t0)
    assert await recover(h.engine) == {"ended_bridged": 1}
    stored = await h.store.get(request.id)
    assert stored.state is S.COMPLETED
    a, b = stored.legs
    assert a.ended_at == b.ended_at == b.bridged_at  # the last moment the call was seen alive
    assert (b.billed_seconds == 0 and a.billed_seconds == 0) or a.billed_seconds >= 9
    assert (await _reservation(h, stored)).state == "settled"
    (notice,) = await h.notices(request.id)
    assert notice.msg_key == "completed"
    assert await h.slot_holder(ALICE) is None


@pytest_twisted.ensureDeferred
async def test_a_call_still_live_in_the_switch_is_hung_up_and_billed_to_now(sqlite_database) -> None:
    h = await _setup(sqlite_database)
    t0 = h.runtime.now() - timedelta(seconds=100)
    request = await crashed(h, S.BRIDGED, age=100, legs_from=t0)
    plan_call = request.call_id
    from roamback.core.model import CallPlan, Prompt

    await h.switch.originate(CallPlan(plan_call, request.id, 1, ALICE, SERVICE_CLI, DEST_OK, ALICE,
                                      3600, 3600, 30, Prompt("en", 3600)))
    assert plan_call in await h.switch.live_calls()
    assert await recover(h.engine) == {"ended_bridged": 1}
    assert plan_call not in await h.switch.live_calls()
    stored = await h.store.get(request.id)
    _a, b = stored.legs
    assert stored.state is S.COMPLETED
    assert b.billed_seconds >= 86  # from B's answer (t0+14) to the recovery (t0+100)
    account = await h.account(roamer().account_id)
    assert account.reserved_minor == 0 and 0 <= account.balance_minor < 1000
