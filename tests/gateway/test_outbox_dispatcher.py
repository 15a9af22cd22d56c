"""The outbox dispatcher on a real database: due notices go out once, failures retry with backoff,
a notice that keeps failing is given up, and the loop runs as a service on the reactor's clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest_twisted
import sqlalchemy as sa
from twisted.internet import reactor, task

from roamback.core.model import Notice
from roamback.core.ports import NoticeUndeliverable
from roamback.gateway.outbox_dispatcher import OutboxDispatcher
from roamback.storage.outbox import OutboxStore
from roamback.storage.schema import notice_outbox

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


class SteppedRuntime:
    """The dispatcher only asks the runtime for the time; tests move it by hand."""

    def __init__(self) -> None:
        self.at = T0

    def now(self) -> datetime:
        return self.at

    def call_later(self, seconds: float, fn: Any, *args: Any) -> Any:
        raise AssertionError("the dispatcher schedules through its LoopingCall, not the runtime")

    def spawn(self, coro: Any) -> None:
        raise AssertionError("not used by the dispatcher")


class RecordingNotifier:
    """Stands in for the network behind the Notifier port; fails the first ``failures`` sends per number."""

    def __init__(self, failures: dict[str, int] | None = None) -> None:
        self.failures = dict(failures or {})
        self.sent: list[Notice] = []

    async def send(self, notice: Notice) -> str:
        if self.failures.get(notice.msisdn, 0) > 0:
            self.failures[notice.msisdn] -= 1
            raise ConnectionError("SMSC link down")
        self.sent.append(notice)
        return f"msg-{len(self.sent)}"


async def _queue(store: OutboxStore, msisdn: str, text: str, at: datetime = T0) -> int:
    return await store.queue(Notice(request_id=None, msisdn=msisdn, language="en", key="test", text=text), at)


async def _row(db: Any, item_id: int) -> Any:
    return await db.read(lambda conn: conn.execute(
        sa.select(notice_outbox).where(notice_outbox.c.id == item_id)).mappings().one())


def _dispatcher(db: Any, notifier: RecordingNotifier, runtime: SteppedRuntime, clock: Any = None,
                **kw: Any) -> OutboxDispatcher:
    options = {"poll_seconds": 1.0, "retry_delays_seconds": [10, 60], "max_attempts": 3, **kw}
    return OutboxDispatcher(OutboxStore(db), notifier, runtime, clock or task.Clock(), **options)


@pytest_twisted.ensureDeferred
async def test_due_notices_are_sent_once_and_marked_with_the_network_id(sqlite_database) -> None:
    store, runtime, notifier = OutboxStore(sqlite_database), SteppedRuntime(), RecordingNotifier()
    first = await _queue(store, "+33612345678", "one")
    later = await _queue(store, "+33612345678", "not yet", at=T0 + timedelta(minutes=5))
    dispatcher = _dispatcher(sqlite_database, notifier, runtime)

    assert await dispatcher.deliver_due() == 1
    assert await dispatcher.deliver_due() == 0, "a sent notice is never sent again"
    assert [notice.text for notice in notifier.sent] == ["one"]
    row = await _row(sqlite_database, first)
    assert (row["state"], row["message_id"], row["attempts"]) == ("sent", "msg-1", 1)
    assert (await _row(sqlite_database, later))["state"] == "queued"


@pytest_twisted.ensureDeferred
async def test_a_failed_send_is_retried_after_its_backoff_then_given_up(sqlite_database) -> None:
    store, runtime = OutboxStore(sqlite_database), SteppedRuntime()
    notifier = RecordingNotifier(failures={"+33600000001": 1, "+33600000002": 99})
    flaky = await _queue(store, "+33600000001", "flaky")
    dead = await _queue(store, "+33600000002", "dead")
    dispatcher = _dispatcher(sqlite_database, notifier, runtime)

    assert await dispatcher.deliver_due() == 0
    row = await _row(sqlite_database, flaky)
    assert (row["state"], row["attempts"]) == ("queued", 1)
    assert "SMSC link down" in row["last_error"]
    runtime.at = T0 + timedelta(seconds=9)
    assert await dispatcher.deliver_due() == 0, "not before the first backoff (10 s) has passed"

    runtime.at = T0 + timedelta(seconds=10)
    assert await dispatcher.deliver_due() == 1
    assert (await _row(sqlite_database, flaky))["state"] == "sent"
    runtime.at = T0 + timedelta(seconds=70)  # the second backoff (60 s) for the dead number
    assert await dispatcher.deliver_due() == 0
    row = await _row(sqlite_database, dead)
    assert (row["state"], row["attempts"]) == ("failed", 3), "given up after max_attempts"
    runtime.at = T0 + timedelta(days=1)
    assert await dispatcher.deliver_due() == 0
    assert [notice.text for notice in notifier.sent] == ["flaky"]


@pytest_twisted.ensureDeferred
async def test_the_service_polls_on_its_clock_and_stops_cleanly(sqlite_database) -> None:
    store, runtime, notifier, clock = OutboxStore(sqlite_database), SteppedRuntime(), RecordingNotifier(), task.Clock()
    dispatcher = _dispatcher(sqlite_database, notifier, runtime, clock, poll_seconds=2.0)
    dispatcher.startService()
    await _queue(store, "+33612345678", "polled")
    for _ in range(500):  # the first tick ran at start, before the queue; the next ones come with the clock
        if notifier.sent:
            break
        clock.advance(2.0)
        await task.deferLater(reactor, 0.01, lambda: None)
    await dispatcher.stopService()
    assert [notice.text for notice in notifier.sent] == ["polled"]
    assert clock.getDelayedCalls() == [], "no tick left scheduled after stop"


class RefusingNotifier:
    async def send(self, notice: Notice) -> str:
        raise NoticeUndeliverable("ESME_RINVDSTADR: invalid destination")


@pytest_twisted.ensureDeferred
async def test_a_notice_the_network_refuses_for_good_fails_at_once(sqlite_database) -> None:
    store, runtime = OutboxStore(sqlite_database), SteppedRuntime()
    refused = await _queue(store, "+33600000003", "never deliverable")
    dispatcher = OutboxDispatcher(store, RefusingNotifier(), runtime, task.Clock(), poll_seconds=1.0,
                                  retry_delays_seconds=[10], max_attempts=5)
    assert await dispatcher.deliver_due() == 0
    row = await _row(sqlite_database, refused)
    assert (row["state"], row["attempts"]) == ("failed", 1), "no retries for a permanent refusal"
    assert "invalid destination" in row["last_error"]
