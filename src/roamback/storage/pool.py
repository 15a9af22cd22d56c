"""Runs SQL off the reactor thread: parallel readers, and one writer that commits in groups.

Why one writer with group commit: a callback request writes about ten small transactions in its life,
and a durable commit (fsync on SQLite, a WAL flush on PostgreSQL) costs about a millisecond. Committing
every write alone caps the service near 500 commits/s; letting one writer thread take everything queued
and commit it as one transaction keeps each caller's guarantee (its Deferred fires only after *its*
data is committed) while paying for one flush per batch. A failing unit of work must not take its
neighbours down: the batch is rolled back and replayed one unit per transaction, so only the culprit
sees its exception. Transient OperationalErrors (server restart, deadlock) are retried with backoff,
as Buildbot's db/pool.py does.

SQLite allows one writer, so it gets exactly one writer thread. A server database gets several, each
committing its own groups on its own connection: there a statement costs a network round trip, and one
thread waiting on round trips would cap the service long before the CPU does. The engine never has
two writes of one request in flight, so parallel writers cannot reorder a request's transitions.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from twisted.internet import defer, threads
from twisted.internet.interfaces import IReactorFromThreads, IReactorThreads
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool

T = TypeVar("T")
Work = Callable[[Connection], Any]

log = Logger()

_STOP = object()


def tune_sqlite(engine: Engine) -> None:
    """WAL lets readers run beside the writer; FULL sync makes a commit survive power loss."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()


class Database:
    """The service's only door to SQL. ``read`` and ``write`` take a function of a Connection."""

    def __init__(
        self,
        engine: Engine,
        reactor: Any,
        *,
        readers: int = 4,
        writers: int | None = None,
        max_batch: int = 200,
        retries: int = 5,
    ) -> None:
        self.engine = engine
        self._reactor: IReactorThreads | IReactorFromThreads = reactor
        self._readers = ThreadPool(minthreads=1, maxthreads=readers, name="roamback-db-read")
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._max_batch = max_batch
        self._retries = retries
        self._writer_count = writers or (1 if engine.dialect.name == "sqlite" else 4)
        if engine.dialect.name == "sqlite" and self._writer_count != 1:
            raise ValueError("SQLite allows a single writer")
        self._writers: list[threading.Thread] = []
        self.batches = 0
        self.units = 0

    def start(self) -> None:
        self._readers.start()
        for n in range(self._writer_count):
            writer = threading.Thread(target=self._write_loop, name=f"roamback-db-write-{n}", daemon=True)
            writer.start()
            self._writers.append(writer)

    def stop(self) -> defer.Deferred[None]:
        """Finish every queued write, then close the threads and the engine's connections."""
        for _ in self._writers:
            self._queue.put(_STOP)
        writers = list(self._writers)

        def _join() -> None:
            for writer in writers:
                writer.join()

        d = threads.deferToThread(_join)

        def _close(_: object) -> None:
            self._readers.stop()
            self.engine.dispose()

        d.addCallback(_close)
        return d

    async def read(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` on a reader thread inside a transaction that is rolled back afterwards."""
        return await threads.deferToThreadPool(self._reactor, self._readers, self._read_once, fn)

    async def write(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` on the writer thread; the result arrives only after it has been committed."""
        d: defer.Deferred[T] = defer.Deferred()
        self._queue.put((fn, d))
        return await d

    def write_blocking(self, fn: Callable[[Connection], T]) -> T:
        """For CLI tools and migrations that run without a reactor."""
        return self._with_retries(lambda: self._commit_alone(fn))

    def _read_once(self, fn: Callable[[Connection], T]) -> T:
        def attempt() -> T:
            with self.engine.connect() as conn:
                return fn(conn)

        return self._with_retries(attempt)

    def _write_loop(self) -> None:
        stopping = False
        while not stopping:
            batch = [self._queue.get()]
            while len(batch) < self._max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stops = sum(1 for item in batch if item is _STOP)
            if stops:
                stopping = True
                batch = [item for item in batch if item is not _STOP]
                for _ in range(stops - 1):  # one each: the other writers must see theirs
                    self._queue.put(_STOP)
            if batch:
                self._commit_batch(batch)

    def _commit_batch(self, batch: list[tuple[Work, defer.Deferred[Any]]]) -> None:
        self.batches += 1
        self.units += len(batch)
        try:
            results = self._with_retries(lambda: self._commit_together([fn for fn, _ in batch]))
        except Exception:
            if len(batch) == 1:
                self._deliver(batch[0][1], Failure())
                return
            for fn, d in batch:
                try:
                    self._deliver(d, self._with_retries(lambda fn=fn: self._commit_alone(fn)))
                except Exception:
                    self._deliver(d, Failure())
            return
        for (_, d), result in zip(batch, results, strict=True):
            self._deliver(d, result)

    def _commit_together(self, fns: list[Work]) -> list[Any]:
        with self.engine.begin() as conn:
            return [fn(conn) for fn in fns]

    def _commit_alone(self, fn: Callable[[Connection], T]) -> T:
        with self.engine.begin() as conn:
            return fn(conn)

    def _with_retries(self, attempt: Callable[[], T]) -> T:
        delay = 0.05
        for remaining in range(self._retries, -1, -1):
            try:
                return attempt()
            except OperationalError as exc:
                if remaining == 0 or not _is_transient(exc):
                    raise
                log.warn("database busy or restarting, retrying in {delay}s: {exc}", delay=delay, exc=exc)
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
        raise AssertionError("unreachable")

    def _deliver(self, d: defer.Deferred[Any], result: Any) -> None:
        if isinstance(result, Failure):
            self._reactor.callFromThread(d.errback, result)
        else:
            self._reactor.callFromThread(d.callback, result)


def _is_transient(exc: OperationalError) -> bool:
    """Lost connections, locks and deadlocks go away by themselves; syntax and schema errors do not."""
    text = str(exc.orig).lower() if exc.orig is not None else str(exc).lower()
    transient = (
        "locked", "busy", "deadlock", "could not connect", "connection refused", "server closed",
        "lost connection", "gone away", "terminating connection", "timeout", "serialization",
    )
    return exc.connection_invalidated or any(word in text for word in transient)
