"""MO messages arriving together share one write unit, yet each is answered only after its own commit.

On every backend (the multi-row INSERT hands back ids differently on each): a burst becomes far fewer
writer units than messages, each new message gets its own id, a resend inside the same burst points at
its first copy, a batch whose write fails refuses every message in it so the SMSC retries them all, and
a message the database refuses alone does not take the rest of its batch with it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest_twisted
import sqlalchemy as sa
from twisted.internet import defer

from roamback.storage.inbound import InboundStore, Received
from roamback.storage.schema import inbound_messages

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _mo(n: int, text: str | None = None) -> Received:
    return Received("smsc-a", f"+3361234{n:04d}", "1234", text or f"BAL {n}", 0)


async def _stored(db) -> list[tuple[int, str, str]]:
    query = sa.select(inbound_messages.c.id, inbound_messages.c.source, inbound_messages.c.body)
    return await db.read(lambda conn: [tuple(row) for row in conn.execute(query.order_by(inbound_messages.c.id))])


@pytest_twisted.ensureDeferred
async def test_a_burst_shares_writer_units_and_each_message_gets_its_own_row(database):
    store = InboundStore(database, duplicate_window_seconds=120)
    burst = [_mo(n) for n in range(300)] + [_mo(7)]  # the last one: an SMSC resend within the burst
    units_before = database.units
    accepted = await defer.gatherResults([
        defer.ensureDeferred(store.accept(message, T0 + timedelta(milliseconds=n)))
        for n, message in enumerate(burst)
    ])
    assert database.units - units_before < len(burst) / 10  # one unit per gathered batch, not per message
    fresh, resend = accepted[:300], accepted[300]
    assert not any(result.duplicate for result in fresh)
    assert resend.duplicate and resend.row.id == fresh[7].row.id
    stored = await _stored(database)
    assert len(stored) == 300
    assert {(result.row.id, result.row.source, result.row.text) for result in fresh} == set(stored)


@pytest_twisted.ensureDeferred
async def test_a_resend_in_a_later_burst_is_recognised_only_within_the_window(database):
    store = InboundStore(database, duplicate_window_seconds=120)
    first = await store.accept(_mo(1), T0)
    again, late, other = await defer.gatherResults([
        defer.ensureDeferred(store.accept(_mo(1), T0 + timedelta(seconds=60))),
        defer.ensureDeferred(store.accept(_mo(2, "BAL 1"), T0 + timedelta(seconds=60))),  # same text, other source
        defer.ensureDeferred(store.accept(_mo(3), T0 + timedelta(seconds=61))),
    ])
    assert again.duplicate and again.row.id == first.row.id and again.row.received_at == T0
    assert not late.duplicate and not other.duplicate
    after_window = await store.accept(_mo(1), T0 + timedelta(seconds=200))  # really sent twice
    assert not after_window.duplicate and after_window.row.id not in {first.row.id, late.row.id, other.row.id}


@pytest_twisted.ensureDeferred
async def test_a_failed_batch_refuses_every_message_in_it_and_stores_none(sqlite_database):
    store = InboundStore(sqlite_database)
    await sqlite_database.write(lambda conn: conn.execute(sa.text("ALTER TABLE inbound_messages RENAME TO gone")))
    results = await defer.DeferredList(
        [defer.ensureDeferred(store.accept(_mo(n), T0)) for n in range(5)], consumeErrors=True
    )
    assert [ok for ok, _ in results] == [False] * 5
    assert all(failure.check(sa.exc.OperationalError) for _, failure in results)
    await sqlite_database.write(lambda conn: conn.execute(sa.text("ALTER TABLE gone RENAME TO inbound_messages")))
    assert await _stored(sqlite_database) == []
    # The store is not stuck on the failed batch: the SMSC's retry is stored.
    retried = await store.accept(_mo(0), T0)
    assert not retried.duplicate and [row[0] for row in await _stored(sqlite_database)] == [retried.row.id]


@pytest_twisted.ensureDeferred
async def test_a_message_the_database_refuses_fails_alone(sqlite_database):
    store = InboundStore(sqlite_database)
    await sqlite_database.write(lambda conn: conn.execute(sa.text(
        "CREATE TRIGGER poison BEFORE INSERT ON inbound_messages WHEN NEW.body = 'POISON' "
        "BEGIN SELECT RAISE(ABORT, 'refused'); END")))
    burst = [_mo(0), _mo(1), _mo(2, "POISON"), _mo(3), _mo(4)]  # the first is written alone, the rest together
    results = await defer.DeferredList(
        [defer.ensureDeferred(store.accept(message, T0)) for message in burst], consumeErrors=True)
    assert [ok for ok, _ in results] == [True, True, False, True, True]
    assert [source for _, source, _ in await _stored(sqlite_database)] == [
        "+33612340000", "+33612340001", "+33612340003", "+33612340004"]
