"""Runs SQL off the reactor thread: readers that answer in groups, and writers that commit in groups.

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

Reads are grouped the same way for the same reason: under load, each reader thread takes every read
queued, runs them on one connection and hands all results back to the reactor in one wake-up, instead
of one checkout and one cross-thread call per read. A failed read rolls the connection back so the
reads after it in the group still run. Like the writers, each reader keeps its connection between
groups (a checkout pings the server: one more round trip per group) and ends each group with a rollback,
so the next group reads a fresh snapshot.
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
from twisted.internet.interfaces import IReactorFromThreads
from twisted.logger import Logger
from twisted.python.failure import Failure

from .prepared import deferred_batch

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
        self._reactor: IReactorFromThreads = reactor
        self._reads: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._reader_count = readers
        self._max_batch = max_batch
        self._retries = retries
        self._writer_count = writers or (1 if engine.dialect.name == "sqlite" else 4)
        if engine.dialect.name == "sqlite" and self._writer_count != 1:
            raise ValueError("SQLite allows a single writer")
        self._threads: list[threading.Thread] = []
        self._held = threading.local()  # each writer thread's own connection
        self.batches = 0
        self.units = 0

    def start(self) -> None:
        for n in range(self._reader_count):
            self._spawn(f"roamback-db-read-{n}", self._read_loop)
        for n in range(self._writer_count):
            self._spawn(f"roamback-db-write-{n}", self._write_loop)

    def _spawn(self, name: str, loop: Callable[[], None]) -> None:
        thread = threading.Thread(target=loop, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> defer.Deferred[None]:
        """Finish every queued read and write, then close the threads and the engine's connections."""
        for _ in range(self._reader_count):
            self._reads.put(_STOP)
        for _ in range(self._writer_count):
            self._queue.put(_STOP)
        threads_ = list(self._threads)
        self._threads.clear()

        def _join() -> None:
            for thread in threads_:
                thread.join()
            self.engine.dispose()

        return threads.deferToThread(_join)

    async def read(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` on a reader thread inside a transaction that is rolled back afterwards."""
        d: defer.Deferred[T] = defer.Deferred()
        self._reads.put((fn, d))
        return await d

    async def write(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` on the writer thread; the result arrives only after it has been committed."""
        d: defer.Deferred[T] = defer.Deferred()
        self._queue.put((fn, d))
        return await d

    def write_blocking(self, fn: Callable[[Connection], T]) -> T:
        """For CLI tools and migrations that run without a reactor."""
        return self._with_retries(lambda: self._commit_alone(fn))

    def _take(self, source: queue.SimpleQueue[Any]) -> tuple[list[Any], bool]:
        """Block for one item, then take what else is queued; report (and drop) a stop marker."""
        batch = [source.get()]
        while len(batch) < self._max_batch:
            try:
                batch.append(source.get_nowait())
            except queue.Empty:
                break
        stops = sum(1 for item in batch if item is _STOP)
        for _ in range(stops - 1):  # one each: the other threads must see theirs
            source.put(_STOP)
        return [item for item in batch if item is not _STOP], stops > 0

    def _read_loop(self) -> None:
        """Reads queued together share one connection and one hop back to the reactor."""
        stopping = False
        try:
            while not stopping:
                batch, stopping = self._take(self._reads)
                if batch:
                    self._reactor.callFromThread(_fire_all, self._read_group(batch))
        finally:
            self._drop_held()

    def _read_group(self, batch: list[tuple[Work, defer.Deferred[Any]]]) -> list[tuple[defer.Deferred[Any], Any]]:
        outcomes: list[tuple[defer.Deferred[Any], Any]] = []
        try:
            conn = self._held_connection()
            for fn, d in batch:
                try:
                    outcomes.append((d, fn(conn)))
                except Exception:
                    outcomes.append((d, Failure()))
                    conn.rollback()  # an aborted transaction must not fail the reads after it
            conn.rollback()
            if any(isinstance(result, Failure) and result.check(OperationalError) for _, result in outcomes):
                self._drop_held()  # it may be the connection that failed: the next group starts afresh
        except Exception:  # the connection itself failed: every read not yet answered shares the error
            failure = Failure()
            outcomes += [(d, failure) for _, d in batch[len(outcomes):]]
            self._drop_held()
        return [
            (d, self._read_again(fn, result)) for (fn, _), (d, result) in zip(batch, outcomes, strict=True)
        ]

    def _read_again(self, fn: Work, result: Any) -> Any:
        """A read that failed on a transient error (a dropped connection) gets the usual retries alone."""
        if not (isinstance(result, Failure) and result.check(OperationalError)):
            return result
        if not _is_transient(result.value):
            return result
        try:
            return self._with_retries(lambda: self._read_once(fn))
        except Exception:
            return Failure()

    def _read_once(self, fn: Callable[[Connection], T]) -> T:
        with self.engine.connect() as conn:
            return fn(conn)

    def _write_loop(self) -> None:
        """Each writer keeps its connection between batches: a checkout costs a ping round trip."""
        stopping = False
        try:
            while not stopping:
                batch, stopping = self._take(self._queue)
                if batch:
                    self._commit_batch(batch)
        finally:
            self._drop_held()

    def _commit_batch(self, batch: list[tuple[Work, defer.Deferred[Any]]]) -> None:
        self.batches += 1
        self.units += len(batch)
        try:
            results = self._with_retries(lambda: self._commit_together([fn for fn, _ in batch]))
            outcomes = [(d, result) for (_, d), result in zip(batch, results, strict=True)]
        except Exception:
            outcomes = [(batch[0][1], Failure())] if len(batch) == 1 else [
                (d, self._replay_alone(fn)) for fn, d in batch
            ]
        # One hop to the reactor for the whole batch: a wake-up per unit costs more than the unit.
        self._reactor.callFromThread(_fire_all, outcomes)

    def _replay_alone(self, fn: Work) -> Any:
        try:
            return self._with_retries(lambda: self._commit_together([fn])[0])
        except Exception:
            return Failure()

    def _commit_together(self, fns: list[Work]) -> list[Any]:
        conn = self._held_connection()
        try:
            with conn.begin(), deferred_batch(conn):
                return [fn(conn) for fn in fns]
        except OperationalError:
            # The server may have dropped it: start the retry on a fresh connection.
            self._drop_held(invalidate=True)
            raise

    def _held_connection(self) -> Connection:
        conn: Connection | None = getattr(self._held, "conn", None)
        if conn is None or conn.closed or conn.invalidated:
            conn = self._held.conn = self.engine.connect()
        return conn

    def _drop_held(self, *, invalidate: bool = False) -> None:
        """Give this thread's connection up (to the pool, or discarded when it may be broken)."""
        conn: Connection | None = getattr(self._held, "conn", None)
        self._held.conn = None
        if conn is None:
            return
        try:
            if invalidate and not conn.invalidated:
                conn.invalidate()
            conn.close()
        except Exception:  # closing a dead connection must not hide the error that killed it
            log.failure("closing a database connection failed")

    def _commit_alone(self, fn: Callable[[Connection], T]) -> T:
        with self.engine.begin() as conn:
            with deferred_batch(conn):
                result = fn(conn)
            return result

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

def _fire_all(outcomes: list[tuple[defer.Deferred[Any], Any]]) -> None:
    for d, result in outcomes:
        if isinstance(result, Failure):
            d.errback(result)
        else:
            d.callback(result)


def _is_transient(exc: OperationalError) -> bool:
    """Lost connections, locks and deadlocks go away by themselves; syntax and schema errors do not."""
    text = str(exc.orig).lower() if exc.orig is not None else str(exc).lower()
    transient = (
        "locked", "busy", "deadlock", "could not connect", "connection refused", "server closed",
        "lost connection", "gone away", "terminating connection", "timeout", "serialization",
    )
    return exc.connection_invalidated or any(word in text for word in transient)
