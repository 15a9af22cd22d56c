"""SqlRequestStore on every backend: atomic transitions, the one-active claim, reads with legs."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, timedelta

import pytest
import pytest_twisted
import sqlalchemy as sa
from twisted.internet import defer

from roamback.core.model import Leg, Notice, Transition
from roamback.core.ports import ActiveClaimTaken, StaleTransition
from roamback.core.reasons import FailureReason, HangupCause, RefusalReason
from roamback.core.states import RequestState as S
from roamback.storage.provisioning import register_number
from roamback.storage.requests import SqlRequestStore
from roamback.storage.rows import from_db
from roamback.storage.schema import active_callbacks, call_legs, notice_outbox, request_events

from .storage_builders import T0, at, new_leg, new_request

PATH_TO_BRIDGED = (S.RECEIVED, S.ACCEPTED, S.RESERVED, S.DIALLING_A, S.A_ANSWERED, S.DIALLING_B, S.BRIDGED)


async def _walk(store: SqlRequestStore, request_id: str, path: tuple[S, ...], start: float = 1) -> None:
    for step, (source, target) in enumerate(itertools.pairwise(path)):
        await store.record(Transition(request_id, source, target, at(start + step)))


async def _count(database, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
    query = sa.select(sa.func.count()).select_from(table).where(*where)
    return await database.read(lambda conn: conn.execute(query).scalar_one())


@pytest_twisted.ensureDeferred
async def test_create_then_get_round_trips_every_field_as_aware_utc(database) -> None:
    store = SqlRequestStore(database)
    request = new_request(callback_raw="+4930999", reference="ussd-77", detail="x" * 500)
    await store.create(request)

    loaded = await store.get(request.id)

    assert loaded is not None
    assert loaded.created_at == T0 and loaded.created_at.tzinfo is UTC
    assert loaded.updated_at == T0
    assert (loaded.state, loaded.channel, loaded.callback_raw, loaded.reference) == (
        S.RECEIVED, request.channel, "+4930999", "ussd-77",
    )  # fmt: skip
    assert loaded.detail == "x" * 400, "detail is cut to the column, not rejected"
    assert loaded.legs == []
    assert await store.get("no-such-id") is None
    history = await database.read(
        lambda conn: conn.execute(sa.select(request_events.c.source, request_events.c.target)).all()
    )
    assert history == [(None, "received")]


@pytest_twisted.ensureDeferred
async def test_transition_from_a_stale_state_raises_and_writes_nothing(database) -> None:
    store = SqlRequestStore(database)
    request = new_request()
    await store.create(request)
    await store.record(
        Transition(request.id, S.RECEIVED, S.ACCEPTED, at(1), changes={"destination": "+4930123456"})
    )
    notice = Notice(request.id, request.requester, "de", "accepted", "ok")

    with pytest.raises(StaleTransition, match="not in state received"):
        await store.record(Transition(request.id, S.RECEIVED, S.REFUSED, at(2), notice=notice))

    loaded = await store.get(request.id)
    assert loaded is not None
    assert (loaded.state, loaded.destination, loaded.updated_at) == (S.ACCEPTED, "+4930123456", at(1))
    assert await _count(database, request_events) == 2
    assert await _count(database, notice_outbox) == 0


@pytest_twisted.ensureDeferred
async def test_unknown_change_keys_are_rejected_before_any_write(sqlite_database) -> None:
    store = SqlRequestStore(sqlite_database)
    request = new_request()
    await store.create(request)

    for bad in ({"destinaton": "+49301"}, {"state": "completed"}, {"legs": []}):
        with pytest.raises(ValueError, match=r"Transition\.changes has keys the store cannot write"):
            await store.record(Transition(request.id, S.RECEIVED, S.ACCEPTED, at(1), changes=bad))

    loaded = await store.get(request.id)
    assert loaded is not None and loaded.state is S.RECEIVED


async def _claim(store: SqlRequestStore, requester: str, request_id: str) -> bool:
    """Store a new request accepted with the active-slot claim; False if the slot was taken."""
    request = new_request(requester, id=request_id)
    try:
        await store.create(request, Transition(request_id, S.RECEIVED, S.ACCEPTED, at(1), claim_active=True))
    except ActiveClaimTaken:
        assert await store.get(request_id) is None, "a lost claim writes nothing"
        return False
    return True


@pytest_twisted.ensureDeferred
async def test_claim_active_is_exclusive_even_for_concurrent_claims(database) -> None:
    store = SqlRequestStore(database, clock=lambda: at(7))
    first, second = new_request(), new_request()
    assert await _claim(store, "+491701234567", first.id) is True
    assert await _claim(store, "+491701234567", second.id) is False

    racing = [defer.ensureDeferred(_claim(store, "+491709999999", f"req-{i}")) for i in range(8)]
    results = await defer.gatherResults(racing)

    assert sorted(results) == [False] * 7 + [True]
    holders = await database.read(
        lambda conn: conn.execute(
            sa.select(
                active_callbacks.c.msisdn, active_callbacks.c.request_id, active_callbacks.c.since
            ).order_by(active_callbacks.c.msisdn)
        ).all()
    )
    winner = f"req-{results.index(True)}"
    assert [(msisdn, owner) for msisdn, owner, _ in holders] == [
        ("+491701234567", first.id),
        ("+491709999999", winner),
    ]
    assert {from_db(since) for _, _, since in holders} == {at(7)}


@pytest_twisted.ensureDeferred
async def test_a_stored_request_claims_with_its_transition_and_may_claim_again(database) -> None:
    store = SqlRequestStore(database)
    request = new_request()
    await store.create(request)
    claimed = Transition(request.id, S.RECEIVED, S.ACCEPTED, at(1), claim_active=True)
    await store.record(claimed)
    assert await _claim(store, request.requester, "other") is False
    # Recovery re-decides a request that already holds the slot: claiming again for it succeeds.
    await store.record(Transition(request.id, S.ACCEPTED, S.REFUSED, at(2)))
    with pytest.raises(StaleTransition):
        await store.record(claimed)
    holder = await database.read(lambda conn: conn.execute(sa.select(active_callbacks.c.request_id)).scalar())
    assert holder == request.id


@pytest_twisted.ensureDeferred
async def test_claim_survives_a_failing_neighbour_in_the_same_group_commit(database) -> None:
    """The writer replays a failed group one unit at a time; the replayed claim must still win."""
    store = SqlRequestStore(database)
    gate = threading.Event()
    blocker = defer.ensureDeferred(database.write(lambda conn: gate.wait(5)))
    claim = defer.ensureDeferred(_claim(store, "+491701234567", "r-1"))
    failing = defer.ensureDeferred(database.write(_fail_after_writing))
    gate.set()

    assert await blocker is True
    assert await claim is True
    with pytest.raises(RuntimeError, match="neighbour failed"):
        await failing
    assert await _claim(store, "+491701234567", "r-2") is False
    assert await _count(database, active_callbacks, active_callbacks.c.request_id == "r-1") == 1


def _fail_after_writing(conn: sa.Connection) -> None:
    conn.execute(active_callbacks.insert().values(msisdn="+10000000000", request_id="x", since=at(0)))
    raise RuntimeError("neighbour failed")


@pytest_twisted.ensureDeferred
async def test_terminal_transition_writes_legs_notice_and_release_together(database) -> None:
    store = SqlRequestStore(database)
    request = new_request()
    await store.create(request, Transition(request.id, S.RECEIVED, S.ACCEPTED, at(0.5), claim_active=True))
    await _walk(store, request.id, (S.ACCEPTED, S.RESERVED, S.DIALLING_A))
    # The leg-A record of the attempt is written when A answers, then completed at the end.
    leg_a = new_leg(request.id, "call-1", Leg.A, 4, answered_at=at(9))
    await store.record(Transition(request.id, S.DIALLING_A, S.A_ANSWERED, at(9), legs=(leg_a,)))
    await _walk(store, request.id, (S.A_ANSWERED, S.DIALLING_B, S.BRIDGED), start=10)

    leg_a.ended_at, leg_a.cause, leg_a.billed_seconds, leg_a.cost_minor = at(70), HangupCause.NORMAL, 61, 30
    leg_b = new_leg(
        request.id, "call-1", Leg.B, 10, answered_at=at(12), bridged_at=at(12), ended_at=at(70),
        cause=HangupCause.NORMAL, billed_seconds=58, cost_minor=90,
    )  # fmt: skip
    notice = Notice(request.id, request.requester, "de", "completed", "Ihr Anruf: 1 min")
    await store.record(
        Transition(
            request.id, S.BRIDGED, S.COMPLETED, at(70), legs=(leg_a, leg_b), notice=notice,
            release_active=True, changes={"attempts": 1},
        )
    )  # fmt: skip

    loaded = await store.get(request.id)
    assert loaded is not None and loaded.state is S.COMPLETED and loaded.attempts == 1
    assert [(leg.leg, leg.billed_seconds, leg.cause) for leg in loaded.legs] == [
        (Leg.A, 61, HangupCause.NORMAL),
        (Leg.B, 58, HangupCause.NORMAL),
    ]
    assert loaded.legs[0].answered_at == at(9) and loaded.legs[0].ended_at == at(70)
    assert loaded.legs[1].bridged_at == at(12) and loaded.legs[1].ended_at.tzinfo is UTC
    outbox = await database.read(
        lambda conn: conn.execute(
            sa.select(notice_outbox.c.msg_key, notice_outbox.c.state, notice_outbox.c.next_attempt_at)
        ).all()
    )
    assert [(key, state) for key, state, _ in outbox] == [("completed", "queued")]
    assert from_db(outbox[0][2]) == at(70)
    assert await _count(database, active_callbacks) == 0
    assert await _claim(store, request.requester, "next-request") is True


@pytest_twisted.ensureDeferred
async def test_a_failing_part_rolls_back_the_whole_transition(database) -> None:
    store = SqlRequestStore(database)
    request = new_request()
    await store.create(request, Transition(request.id, S.RECEIVED, S.ACCEPTED, at(0.5), claim_active=True))
    await _walk(store, request.id, (S.ACCEPTED, S.RESERVED, S.DIALLING_A))
    broken_leg = new_leg(request.id, "call-9", Leg.A, 4)
    broken_leg.number = None  # type: ignore[assignment]  # NOT NULL violation, after the UPDATE ran

    with pytest.raises(sa.exc.IntegrityError):
        await store.record(
            Transition(
                request.id, S.DIALLING_A, S.FAILED, at(30), reason=FailureReason.A_NO_ANSWER.value,
                legs=(broken_leg,), notice=Notice(request.id, request.requester, "de", "k", "t"),
                release_active=True,
            )
        )  # fmt: skip

    loaded = await store.get(request.id)
    assert loaded is not None and loaded.state is S.DIALLING_A and loaded.reason is None
    assert await _count(database, notice_outbox) == 0
    assert await _count(database, call_legs) == 0
    assert await _count(database, request_events) == 4
    assert await _claim(store, request.requester, "other") is False, "claim must still be held"


@pytest_twisted.ensureDeferred
async def test_unfinished_lists_open_requests_oldest_first_with_legs(database) -> None:
    store = SqlRequestStore(database)
    newer, older, done = new_request(created=20), new_request(created=10), new_request(created=0)
    for request in (newer, older, done):
        await store.create(request)
    await _walk(store, older.id, (S.RECEIVED, S.ACCEPTED, S.RESERVED, S.DIALLING_A))
    await store.record(
        Transition(
            older.id, S.DIALLING_A, S.A_RETRY_WAIT, at(40), changes={"call_id": "c-1", "attempts": 1},
            legs=(new_leg(older.id, "c-1", Leg.A, 35, ended_at=at(40), cause=HangupCause.BUSY),),
        )
    )  # fmt: skip
    await store.record(
        Transition(done.id, S.RECEIVED, S.REFUSED, at(5), reason=RefusalReason.COOLDOWN.value, detail="d")
    )

    open_requests = await store.unfinished()

    assert [r.id for r in open_requests] == [older.id, newer.id]
    assert open_requests[0].state is S.A_RETRY_WAIT and open_requests[0].call_id == "c-1"
    assert [(leg.call_id, leg.cause, leg.ended_at) for leg in open_requests[0].legs] == [
        ("c-1", HangupCause.BUSY, at(40))
    ]
    assert open_requests[1].legs == []
    refused = await store.get(done.id)
    assert refused is not None and (refused.reason, refused.detail) == ("cooldown", "d")


@pytest_twisted.ensureDeferred
async def test_recent_activity_counts_only_requests_past_the_checks_since(database) -> None:
    store = SqlRequestStore(database)
    msisdn = "+447700900123"
    before = new_request(msisdn, created=-3600)
    accepted, refused, latest, deciding = (new_request(msisdn, created=s) for s in (0, 60, 120, 180))
    for request in (before, accepted, refused, latest, deciding, new_request("+447700900999", created=30)):
        await store.create(request)
    for request in (before, accepted, latest):
        await store.record(Transition(request.id, S.RECEIVED, S.ACCEPTED, at(1)))
    await store.record(Transition(refused.id, S.RECEIVED, S.REFUSED, at(61)))

    activity = await store.recent_activity(msisdn, T0 - timedelta(minutes=1))

    assert activity.accepted_since == 2, "not: earlier than since, refused, still being decided"
    assert activity.last_accepted_at == T0 + timedelta(seconds=120)
    assert activity.last_accepted_at.tzinfo is UTC
    empty = await store.recent_activity("+10000000000", T0)
    assert (empty.accepted_since, empty.last_accepted_at) == (0, None)


@pytest_twisted.ensureDeferred
async def test_confirmed_numbers_leave_out_pending_registrations(database) -> None:
    store = SqlRequestStore(database)
    owner = "+447700900123"

    def provision(conn: sa.Connection) -> None:
        register_number(conn, owner, "+33612345678", T0)
        register_number(conn, owner, "+33699999999", T0, confirmed=False, code_hash="h")
        register_number(conn, "+447700900999", "+33600000000", T0)

    await database.write(provision)

    assert await store.confirmed_numbers(owner) == frozenset({"+33612345678"})
    await database.write(lambda conn: register_number(conn, owner, "+33699999999", T0))
    assert await store.confirmed_numbers(owner) == frozenset({"+33612345678", "+33699999999"})


@pytest_twisted.ensureDeferred
async def test_find_by_reference_returns_the_latest_request_of_that_channel(database) -> None:
    store = SqlRequestStore(database)
    old, new = new_request(reference="m-1", created=0), new_request(reference="m-1", created=5)
    for request in (new, old, new_request(reference="m-2")):
        await store.create(request)

    found = await store.find_by_reference("ussd", "m-1")

    assert found is not None and found.id == new.id
    assert await store.find_by_reference("sms", "m-1") is None
