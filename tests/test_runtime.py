"""TwistedRuntime: fake time through a task.Clock, timers that cancel, background failures that get logged."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from twisted.internet import task
from twisted.logger import globalLogPublisher

from roamback.runtime import TwistedRuntime


@pytest.fixture
def clock() -> task.Clock:
    return task.Clock()


@pytest.fixture
def logged() -> Iterator[list[dict]]:
    events: list[dict] = []
    observer = events.append
    globalLogPublisher.addObserver(observer)
    yield events
    globalLogPublisher.removeObserver(observer)


def test_now_is_aware_utc_from_the_reactor_clock(clock: task.Clock) -> None:
    runtime = TwistedRuntime(clock)
    clock.advance(1_700_000_000.25)
    now = runtime.now()
    assert now == datetime(2023, 11, 14, 22, 13, 20, 250000, tzinfo=UTC)
    assert now.utcoffset() is not None and now.utcoffset().total_seconds() == 0


def test_call_later_fires_with_arguments_and_cancels(clock: task.Clock) -> None:
    runtime = TwistedRuntime(clock)
    fired: list[tuple[str, int]] = []
    runtime.call_later(5, lambda name, n: fired.append((name, n)), "kept", 1)
    cancelled = runtime.call_later(5, lambda: fired.append(("cancelled", 0)))
    cancelled.cancel()
    clock.advance(4.9)
    assert fired == []
    clock.advance(0.1)
    assert fired == [("kept", 1)]
    assert clock.getDelayedCalls() == []


def test_spawn_runs_the_coroutine_in_fake_time(clock: task.Clock) -> None:
    runtime = TwistedRuntime(clock)
    steps: list[str] = []

    async def background() -> None:
        steps.append("started")
        await task.deferLater(clock, 10, lambda: None)
        steps.append("finished")

    runtime.spawn(background())
    assert steps == ["started"]
    clock.advance(10)
    assert steps == ["started", "finished"]
    assert clock.getDelayedCalls() == []


def test_spawn_logs_a_failure_instead_of_dropping_it(clock: task.Clock, logged: list[dict]) -> None:
    runtime = TwistedRuntime(clock)

    async def doomed() -> None:
        await task.deferLater(clock, 1, lambda: None)
        raise RuntimeError("charging went away")

    runtime.spawn(doomed())
    assert not [e for e in logged if "log_failure" in e]
    clock.advance(1)
    failures = [e for e in logged if "log_failure" in e]
    assert len(failures) == 1
    assert failures[0]["log_failure"].check(RuntimeError)
    assert "doomed" in failures[0]["task"]


def test_speed_compresses_timers_and_timestamps_alike(clock: task.Clock) -> None:
    clock.advance(1_700_000_000)
    runtime = TwistedRuntime(clock, speed=10)
    start = runtime.now()
    fired: list[datetime] = []
    runtime.call_later(60, lambda: fired.append(runtime.now()))
    clock.advance(5.9)
    assert fired == []
    clock.advance(0.1)
    assert [(moment - start).total_seconds() for moment in fired] == [pytest.approx(60)]
    assert start == datetime.fromtimestamp(1_700_000_000, UTC), "simulated time starts at the real time"


def test_speed_must_be_positive(clock: task.Clock) -> None:
    with pytest.raises(ValueError, match="speed"):
        TwistedRuntime(clock, speed=0)


def test_spawn_resumes_on_later_results_throws_later_failures_and_logs_what_escapes() -> None:
    """The driver itself: results and failures that arrive after the coroutine waited, and a failure that
    the coroutine does not catch, which must be logged rather than lost."""
    from twisted.internet import defer, reactor
    from twisted.logger import capturedLogs

    from roamback.runtime import TwistedRuntime

    seen: list[object] = []
    first: defer.Deferred[int] = defer.Deferred()
    second: defer.Deferred[int] = defer.Deferred()
    third: defer.Deferred[int] = defer.Deferred()

    async def task() -> None:
        seen.append(await first)
        try:
            await second
        except ValueError as exc:
            seen.append(str(exc))
        await third

    with capturedLogs() as logged:
        TwistedRuntime(reactor).spawn(task())
        assert seen == []
        first.callback(7)
        assert seen == [7]
        second.errback(ValueError("later failure"))
        assert seen == [7, "later failure"]
        third.errback(RuntimeError("escaped"))
    failures = [event for event in logged if "log_failure" in event]
    assert len(failures) == 1 and failures[0]["log_failure"].check(RuntimeError)
