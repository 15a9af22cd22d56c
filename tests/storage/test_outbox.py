"""OutboxStore and AuditLog on every backend: what is due, and how sends, retries and receipts move it."""

from __future__ import annotations

from datetime import UTC

import pytest_twisted
import sqlalchemy as sa

from roamback.core.model import Notice
from roamback.storage.audit import AuditLog
from roamback.storage.outbox import OutboxItem, OutboxStore
from roamback.storage.rows import from_db
from roamback.storage.schema import notice_outbox

from .storage_builders import at


def _notice(key: str) -> Notice:
    return Notice(None, "+491701234567", "de", key, f"text {key}")


async def _row(database, item_id: int) -> sa.RowMapping:
    query = sa.select(notice_outbox).where(notice_outbox.c.id == item_id)
    return await database.read(lambda conn: conn.execute(query).mappings().one())


@pytest_twisted.ensureDeferred
async def test_due_returns_queued_items_in_due_order_up_to_the_limit(database) -> None:
    outbox = OutboxStore(database)
    later = await outbox.queue(_notice("later"), at(30))
    first = await outbox.queue(_notice("first"), at(10))
    await outbox.queue(_notice("future"), at(3600))
    second = await outbox.queue(_notice("second"), at(20))

    due = await outbox.due(at(60), limit=10)

    assert [item.id for item in due] == [first, second, later]
    assert due[0] == OutboxItem(first, None, "+491701234567", "de", "first", "text first", 0)
    assert [item.key for item in await outbox.due(at(60), limit=2)] == ["first", "second"]
    assert await outbox.due(at(5), limit=10) == []


@pytest_twisted.ensureDeferred
async def test_retry_postpones_and_counts_then_failure_and_send_leave_the_queue(database) -> None:
    outbox = OutboxStore(database)
    retried = await outbox.queue(_notice("retried"), at(0))
    failed = await outbox.queue(_notice("failed"), at(0))

    await outbox.mark_retry(retried, "SMSC throttled " + "x" * 300, at(120))
    await outbox.mark_failed(failed, "unknown subscriber")

    assert await outbox.due(at(60), limit=10) == []
    (again,) = await outbox.due(at(120), limit=10)
    assert (again.id, again.attempts) == (retried, 1)
    row = await _row(database, retried)
    assert len(row["last_error"]) == 200 and from_db(row["next_attempt_at"]) == at(120)
    assert (await _row(database, failed))["state"] == "failed"

    await outbox.mark_sent(retried, "smsc-42", at(121))
    sent = await _row(database, retried)
    assert (sent["state"], sent["message_id"], sent["attempts"]) == ("sent", "smsc-42", 2)
    assert from_db(sent["sent_at"]) == at(121) and from_db(sent["sent_at"]).tzinfo is UTC
    assert await outbox.due(at(999), limit=10) == []


@pytest_twisted.ensureDeferred
async def test_delivery_receipt_applies_only_to_a_sent_message(database) -> None:
    outbox = OutboxStore(database)
    item = await outbox.queue(_notice("k"), at(0))
    assert await outbox.mark_delivered("smsc-1", at(5)) is False

    await outbox.mark_sent(item, "smsc-1", at(1))

    assert await outbox.mark_delivered("smsc-1", at(5)) is True
    assert (await _row(database, item))["state"] == "delivered"
    assert await outbox.mark_delivered("smsc-unknown", at(5)) is False


@pytest_twisted.ensureDeferred
async def test_audit_log_keeps_entries_newest_first(database) -> None:
    times = iter([at(0), at(10), at(20)])
    audit = AuditLog(database, clock=lambda: next(times))
    await audit.record("ops-alice", "subscriber.block", "+491701234567", "fraud ticket 12")
    await audit.record("ops-bob", "prefix.block", "+881")
    await audit.record("cli", "migrate", detail="y" * 1000)

    entries = await audit.recent(limit=2)

    assert [(e.actor, e.action, e.at) for e in entries] == [
        ("cli", "migrate", at(20)),
        ("ops-bob", "prefix.block", at(10)),
    ]
    assert entries[0].detail == "y" * 400 and entries[1].subject == "+881"
    assert all(e.at.tzinfo is UTC for e in entries)
