"""Mobile-originated messages, stored before the SMSC hears that they arrived.

The SMSC forgets a message once it has our deliver_sm_resp, so ``accept`` returns only after the row is
committed and the handler answers ESME_ROK only then; when the write fails it answers ESME_RX_T_APPN and
the SMSC delivers again. That retry, or one after a deliver_sm_resp lost on the way, brings the same
message twice: ``accept`` recognises it by a digest of its content seen from the same source within a
window, and reports a duplicate instead of storing it again. Commands run after the acknowledgement;
``complete`` queues their replies and marks the row handled in one transaction, so a restart re-runs
exactly the rows still queued and never sends a reply twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..core.model import Notice
from .pool import Database
from .rows import from_db_req, notice_values, to_db, truncate
from .schema import inbound_messages, notice_outbox

QUEUED = "queued"
HANDLED = "handled"
FAILED = "failed"


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


class InboundStore:
    def __init__(self, db: Database, *, duplicate_window_seconds: float = 120.0) -> None:
        self._db = db
        self._window = timedelta(seconds=duplicate_window_seconds)

    async def accept(self, message: Received, at: datetime) -> Accepted:
        """Store ``message`` unless it is a resend; returns once committed (or found)."""
        digest = message.digest()
        since = to_db(at - self._window)

        def work(conn: Connection) -> Accepted:
            earlier = conn.execute(
                sa.select(inbound_messages.c.id, inbound_messages.c.received_at)
                .where(inbound_messages.c.source == message.source, inbound_messages.c.digest == digest,
                       inbound_messages.c.received_at >= since)
                .order_by(inbound_messages.c.id.desc()).limit(1)
            ).first()
            if earlier is not None:
                return Accepted(_row(earlier.id, message, from_db_req(earlier.received_at)), duplicate=True)
            result = conn.execute(inbound_messages.insert().values(
                link=message.link, source=message.source, destination=message.destination, body=message.text,
                data_coding=message.data_coding, digest=digest, network_id=message.network_id,
                received_at=to_db(at), state=QUEUED,
            ))
            return Accepted(_row(int(result.inserted_primary_key[0]), message, at), duplicate=False)

        return await self._db.write(work)

    async def complete(self, row_id: int, replies: Iterable[Reply], at: datetime,
                       also: Callable[[Connection], Iterable[Reply]] | None = None) -> None:
        """Queue the replies and mark the message handled in one commit: both happen or neither.

        ``also`` runs in the same transaction and returns more replies: a command's own change (a
        registration code, a language) then commits with its answer, so a restart never finds one
        without the other.
        """
        replies = list(replies)

        def work(conn: Connection) -> None:
            queued = replies + list(also(conn)) if also is not None else replies
            rows = [{**notice_values(reply.notice, at), "priority": reply.priority} for reply in queued]
            if rows:
                conn.execute(notice_outbox.insert(), rows)
            conn.execute(inbound_messages.update().where(inbound_messages.c.id == row_id)
                         .values(state=HANDLED, handled_at=to_db(at)))

        await self._db.write(work)

    async def fail(self, row_id: int, error: str, at: datetime) -> None:
        """A message whose handling raised: kept for the operator, never retried on its own."""
        statement = (inbound_messages.update().where(inbound_messages.c.id == row_id)
                     .values(state=FAILED, handled_at=to_db(at), error=truncate(error, 200)))
        await self._db.write(lambda conn: conn.execute(statement))

    async def queued(self, limit: int = 500, after_id: int = 0) -> Sequence[InboundRow]:
        """Rows accepted but not yet handled (a restart came in between), oldest first."""
        query = (sa.select(inbound_messages).where(inbound_messages.c.state == QUEUED,
                                                   inbound_messages.c.id > after_id)
                 .order_by(inbound_messages.c.id).limit(limit))
        rows = await self._db.read(lambda conn: conn.execute(query).mappings().all())
        return [InboundRow(row["id"], row["link"], row["source"], row["destination"], row["body"],
                           from_db_req(row["received_at"])) for row in rows]


def _row(row_id: int, message: Received, received_at: datetime) -> InboundRow:
    return InboundRow(row_id, message.link, message.source, message.destination, message.text, received_at)
