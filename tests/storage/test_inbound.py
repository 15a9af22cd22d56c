"""MO messages are stored before they are acknowledged, recognised when resent, handled exactly once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest_twisted
import sqlalchemy as sa

from roamback.core.model import Notice
from roamback.storage.inbound import InboundStore, Received, Reply
from roamback.storage.outbox import OutboxStore
from roamback.storage.schema import inbound_messages, notice_outbox

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
MO = Received("smsc-a", "33612345678", "1234", "CB 0612345678", 0)


async def _rows(db, table):
    return await db.read(lambda conn: list(conn.execute(sa.select(table).order_by(table.c.id))))


@pytest_twisted.ensureDeferred
async def test_accept_stores_then_recognises_a_resend_within_the_window(database):
    store = InboundStore(database, duplicate_window_seconds=120)
    first = await store.accept(MO, T0)
    again = await store.accept(MO, T0 + timedelta(seconds=30))
    later = await store.accept(MO, T0 + timedelta(seconds=300))  # the subscriber really sent it twice
    other = await store.accept(Received("smsc-a", "33612345678", "1234", "BAL", 0), T0)
    assert not first.duplicate and again.duplicate and again.row.id == first.row.id
    assert not later.duplicate and later.row.id != first.row.id
    assert not other.duplicate
    rows = await _rows(database, inbound_messages)
    assert [(r.body, r.state) for r in rows] == [("CB 0612345678", "queued"), ("CB 0612345678", "queued"),
                                                 ("BAL", "queued")]


@pytest_twisted.ensureDeferred
async def test_complete_queues_replies_with_the_handled_mark_and_queued_lists_the_rest(database):
    store = InboundStore(database)
    handled = (await store.accept(MO, T0)).row
    failed = (await store.accept(Received("l", "1", "2", "x", 0), T0)).row
    waiting = (await store.accept(Received("l", "1", "2", "y", 8), T0)).row
    reply = Notice(None, "+33612345678", "fr", "help", "Aide")
    await store.complete(handled.id, [Reply(reply, priority=1)], T0)
    await store.fail(failed.id, "boom " * 100, T0)
    assert [row.id for row in await store.queued()] == [waiting.id]
    assert await store.queued(after_id=waiting.id) == []
    [notice] = await _rows(database, notice_outbox)
    assert (notice.msisdn, notice.body, notice.priority, notice.state) == ("+33612345678", "Aide", 1, "queued")
    states = {r.id: (r.state, r.error) for r in await _rows(database, inbound_messages)}
    assert states[handled.id] == ("handled", None)
    assert states[failed.id][0] == "failed" and len(states[failed.id][1]) == 200


@pytest_twisted.ensureDeferred
async def test_outbox_sends_replies_first_and_applies_receipts_by_any_spelling_of_the_id(sqlite_database):
    outbox = OutboxStore(sqlite_database)
    summary = await outbox.queue(Notice(None, "+1", "en", "completed", "summary"), T0)
    reply = await outbox.queue(Notice(None, "+1", "en", "help", "reply"), T0 + timedelta(seconds=1), priority=1)
    assert [item.id for item in await outbox.due(T0 + timedelta(seconds=5), 10)] == [reply, summary]
    await outbox.mark_sent(reply, "1a2b", T0)
    assert await outbox.apply_receipt(["6699", "1a2b"], "DELIVRD", True, T0)
    assert not await outbox.apply_receipt(["ffff"], "DELIVRD", True, T0)
    await outbox.mark_sent(summary, "77", T0)
    assert await outbox.apply_receipt(["77"], "UNDELIV", False, T0)
    rows = {r.id: (r.state, r.delivery_state) for r in await _rows(sqlite_database, notice_outbox)}
    assert rows == {reply: ("delivered", "DELIVRD"), summary: ("sent", "UNDELIV")}
