"""Mobile-originated messages, stored before the SMSC hears that they arrived.

The SMSC forgets a message once it has our deliver_sm_resp, so ``accept`` returns only after the row is
committed and the handler answers ESME_ROK only then; when the write fails it answers ESME_RX_T_APPN and
the SMSC delivers again. That retry, or one after a deliver_sm_resp lost on the way, brings the same
message twice: ``accept`` recognises it by a digest of its content seen from the same source within a
window, and reports a duplicate instead of storing it again. Commands run after the acknowledgement;
``complete`` queues their replies and marks the row handled in one transaction, so a restart re-runs
exactly the rows still queued and never sends a reply twice.

Why ``accept`` gathers messages: the writer thread is the limit of MO throughput, and a unit of work per
message cost a duplicate lookup and an INSERT each, every one a trip into the driver that also hands the
GIL to the reactor and back. Messages that arrive while a batch is being written gather in the next
one, written whole once the previous has committed: one query looks all of them up and one multi-row
INSERT stores the new ones. No message waits for a timer, and each still hears back only after the commit
that holds its row. A batch that fails is tried again message by message, so one message the database
refuses does not refuse the others.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from twisted.internet import defer
from twisted.python.failure import Failure

from ..core.model import Notice
from .pool import Database
from .prepared import Prepared
from .rows import NOTICE_COLUMNS, from_db_req, notice_values, to_db, truncate
from .schema import inbound_messages, notice_outbox

QUEUED = "queued"
HANDLED = "handled"
FAILED = "failed"

# Oracle accepts at most 1000 items in one IN list; the lookup has one per message of a batch.
MAX_BATCH = 500


@dataclass(frozen=True, slots=True)
class Received:
    """A whole MO message as it came off a link: the text is already decoded and reassembled."""

    link: str
    source: str
    destination: str
    text: str
    data_coding: int
    network_id: str | None = None

    def digest(self) -> str:
        """What makes two deliveries "the same message": everything the subscriber and the SMSC chose."""
        parts = (self.link, self.source, self.destination, str(self.data_coding), self.text)
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class InboundRow:
    id: int
    link: str
    source: str
    destination: str
    text: str
    received_at: datetime


@dataclass(frozen=True, slots=True)
class Accepted:
    """``duplicate``: the same message from the same source was stored within the window (a resend)."""

    row: InboundRow
    duplicate: bool


@dataclass(frozen=True, slots=True)
class Reply:
    """A notice to queue when the message is marked handled; USSD-like urgency goes in ``priority``."""

    notice: Notice
    priority: int = 5


@dataclass(slots=True)
class _Batch:
    """Messages sharing one write unit; fixed once written, so a retried unit stores the same ones."""

    messages: list[tuple[Received, datetime]] = field(default_factory=list)
    waiters: list[defer.Deferred[Accepted]] = field(default_factory=list)


class InboundStore:
    """One batch is written at a time, on the reactor's say: messages arriving meanwhile gather in the
    next batch (group commit), and a batch always sees the rows of the one before it, so a resend can never
    slip in twice through two writers committing side by side."""

    def __init__(self, db: Database, *, duplicate_window_seconds: float = 120.0) -> None:
        self._db = db
        self._window = timedelta(seconds=duplicate_window_seconds)
        self._pending: deque[_Batch] = deque()
        self._writing = False

    async def accept(self, message: Received, at: datetime) -> Accepted:
        """Store ``message`` unless it is a resend; returns once committed (or found)."""
        waiter: defer.Deferred[Accepted] = defer.Deferred()
        if not self._pending or len(self._pending[-1].messages) >= MAX_BATCH:
            self._pending.append(_Batch())
        self._pending[-1].messages.append((message, at))
        self._pending[-1].waiters.append(waiter)
        if not self._writing:
            self._write_next()
        return await waiter

    def _write_next(self) -> None:
        if not self._pending:
            self._writing = False
            return
        self._writing = True
        batch = self._pending.popleft()
        written = defer.Deferred.fromCoroutine(
            self._db.write(lambda conn: _store_batch(conn, batch.messages, self._window)))
        written.addCallbacks(_answer_all, self._failed, callbackArgs=(batch.waiters,), errbackArgs=(batch,))
        written.addBoth(lambda _: self._write_next())

    def _failed(self, failure: Failure, batch: _Batch) -> None:
        """One bad message (say a NUL the database refuses) must not refuse the others it was batched with:
        a failed batch is tried again message by message, and only those that fail alone are refused."""
        if len(batch.messages) == 1:
            batch.waiters[0].errback(failure)
            return
        singles = [_Batch([message], [waiter]) for message, waiter in zip(batch.messages, batch.waiters, strict=True)]
        self._pending.extendleft(reversed(singles))

    async def complete(self, row_id: int, replies: Iterable[Reply], at: datetime,
                       also: Callable[[Connection], Iterable[Reply]] | None = None) -> None:
        """Queue the replies and mark the message handled in one commit: both happen or neither.

        ``also`` runs in the same transaction and returns more replies: a command's own change (a
        registration code, a language) then commits with its answer, so a restart never finds one
        without the other. Nothing in a write unit reads these rows back, so they go out with the
        writer's batch, one statement for all the units committed together.
        """
        replies = list(replies)
        handled = {"w_id": row_id, "state": HANDLED, "handled_at": to_db(at), "error": None}

        def work(conn: Connection) -> None:
            queued = replies + list(also(conn)) if also is not None else replies
            for reply in queued:
                _INSERT_REPLY.run_later(conn, {**notice_values(reply.notice, at), "priority": reply.priority})
            _FINISH.run_later(conn, handled)

        await self._db.write(work)

    async def fail(self, row_id: int, error: str, at: datetime) -> None:
        """A message whose handling raised: kept for the operator, never retried on its own."""
        failed = {"w_id": row_id, "state": FAILED, "handled_at": to_db(at), "error": truncate(error, 200)}
        await self._db.write(lambda conn: _FINISH.run(conn, failed))

    async def queued(self, limit: int = 500, after_id: int = 0) -> Sequence[InboundRow]:
        """Rows accepted but not yet handled (a restart came in between), oldest first."""
        query = (sa.select(inbound_messages).where(inbound_messages.c.state == QUEUED,
                                                   inbound_messages.c.id > after_id)
                 .order_by(inbound_messages.c.id).limit(limit))
        rows = await self._db.read(lambda conn: conn.execute(query).mappings().all())
        return [InboundRow(row["id"], row["link"], row["source"], row["destination"], row["body"],
                           from_db_req(row["received_at"])) for row in rows]


_INSERT_REPLY = Prepared(notice_outbox.insert(), (*NOTICE_COLUMNS, "priority"))
_FINISH = Prepared(
    inbound_messages.update().where(inbound_messages.c.id == sa.bindparam("w_id")),
    ("w_id", "state", "handled_at", "error"),
)
# Every row of the batch's sources and digests inside the window, oldest first: the source leads the
# index, so this is a handful of index probes, and the pairs are matched up in Python.
_EARLIER = (
    sa.select(inbound_messages.c.id, inbound_messages.c.source, inbound_messages.c.digest,
              inbound_messages.c.received_at)
    .where(inbound_messages.c.source.in_(sa.bindparam("sources", expanding=True)),
           inbound_messages.c.digest.in_(sa.bindparam("digests", expanding=True)),
           inbound_messages.c.received_at >= sa.bindparam("since"))
    .order_by(inbound_messages.c.id)
)
# One multi-row INSERT that hands back the new ids (SQLAlchemy's "insertmanyvalues"), where the dialect can;
# row by row where it cannot (MySQL has no RETURNING). The ids are matched to rows by (source, digest),
# unique among a batch's new rows: asking for them in parameter order makes SQLite insert row by row.
_INSERT = inbound_messages.insert().returning(inbound_messages.c.id, inbound_messages.c.source,
                                              inbound_messages.c.digest)
_INSERT_ONE = inbound_messages.insert()
_Key = tuple[str, str]  # (source, digest)


def _store_batch(conn: Connection, messages: list[tuple[Received, datetime]], window: timedelta) -> list[Accepted]:
    """One lookup for the whole batch, one INSERT for the messages it did not find."""
    keys = [(message.source, message.digest()) for message, _ in messages]
    stored = _stored_since(conn, keys, min(at for _, at in messages) - window)
    # Per message: the id of the stored copy it repeats, or None with the index of its row among ``fresh``
    # (its own, or the first copy's when the resend came in the same batch).
    plan: list[tuple[int | None, int, datetime, bool]] = []
    fresh: list[dict[str, Any]] = []
    first_copy: dict[_Key, int] = {}
    for (message, at), key in zip(messages, keys, strict=True):
        in_batch = first_copy.get(key)
        if in_batch is not None and fresh[in_batch]["received_at"] >= to_db(at - window):
            plan.append((None, in_batch, fresh[in_batch]["received_at"], True))
        elif key in stored and stored[key][1] >= at - window:
            plan.append((stored[key][0], 0, stored[key][1], True))
        else:
            first_copy[key] = len(fresh)
            plan.append((None, len(fresh), at, False))
            fresh.append({"link": message.link, "source": message.source, "destination": message.destination,
                          "body": message.text, "data_coding": message.data_coding, "digest": key[1],
                          "network_id": message.network_id, "received_at": to_db(at), "state": QUEUED})
    ids = _insert(conn, fresh)
    return [
        Accepted(_row(ids[index] if row_id is None else row_id, message, received_at), duplicate)
        for (message, _), (row_id, index, received_at, duplicate) in zip(messages, plan, strict=True)
    ]


def _stored_since(conn: Connection, keys: list[_Key], since: datetime) -> dict[_Key, tuple[int, datetime]]:
    """The latest stored row (id, received_at) of each (source, digest) received since ``since``."""
    params = {"sources": sorted({source for source, _ in keys}), "digests": sorted({digest for _, digest in keys}),
              "since": to_db(since)}
    wanted = set(keys)
    return {
        (found.source, found.digest): (found.id, from_db_req(found.received_at))
        for found in conn.execute(_EARLIER, params) if (found.source, found.digest) in wanted
    }


def _insert(conn: Connection, rows: list[dict[str, Any]]) -> list[int]:
    """The ids of the new ``rows``, in their order."""
    if not rows:
        return []
    if conn.dialect.insert_executemany_returning:
        ids = {(found.source, found.digest): int(found.id) for found in conn.execute(_INSERT, rows)}
        return [ids[(row["source"], row["digest"])] for row in rows]
    return [int(conn.execute(_INSERT_ONE, row).inserted_primary_key[0]) for row in rows]


def _answer_all(results: list[Accepted], waiters: list[defer.Deferred[Accepted]]) -> None:
    for waiter, result in zip(waiters, results, strict=True):
        waiter.callback(result)




def _row(row_id: int, message: Received, received_at: datetime) -> InboundRow:
    return InboundRow(row_id, message.link, message.source, message.destination, message.text, received_at)
