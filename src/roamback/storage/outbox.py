"""Texts waiting to be sent: the transactional outbox behind every notice.

A notice is written in the same transaction as the state it reports, and sent afterwards by whoever
drains this table. So a crash between the state change and the SMS loses nothing: the worst case is a
resend of a notice whose send succeeded but whose ``mark_sent`` did not commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..core.model import Notice
from .pool import Database
from .rows import notice_values, to_db, truncate
from .schema import notice_outbox

QUEUED = "queued"
SENT = "sent"
DELIVERED = "delivered"
FAILED = "failed"


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    request_id: str | None
    msisdn: str
    language: str
    key: str
    text: str
    attempts: int


class OutboxStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def queue(self, notice: Notice, at: datetime, *, priority: int = 5) -> int:
        """For notices that report no transition (confirmation codes, operator broadcasts).

        Lower ``priority`` goes out first: a reply a subscriber is waiting for on the handset beats a
        call summary.
        """
        values = {**notice_values(notice, at), "priority": priority}

        def work(conn: Connection) -> int:
            result = conn.execute(notice_outbox.insert().values(values))
            return int(result.inserted_primary_key[0])

        return await self._db.write(work)

    async def due(self, now: datetime, limit: int) -> list[OutboxItem]:
        query = (
            sa.select(notice_outbox)
            .where(notice_outbox.c.state == QUEUED, notice_outbox.c.next_attempt_at <= to_db(now))
            .order_by(notice_outbox.c.priority, notice_outbox.c.next_attempt_at, notice_outbox.c.id)
            .limit(limit)
        )
        rows = await self._db.read(lambda conn: conn.execute(query).mappings().all())
        return [
            OutboxItem(
                id=row["id"],
                request_id=row["request_id"],
                msisdn=row["msisdn"],
                language=row["language"],
                key=row["msg_key"],
                text=row["body"],
                attempts=row["attempts"],
            )
            for row in rows
        ]

    async def mark_sent(self, item_id: int, message_id: str, at: datetime) -> None:
        await self._update(
            notice_outbox.c.id == item_id,
            state=SENT,
            message_id=message_id,
            sent_at=to_db(at),
            attempts=notice_outbox.c.attempts + 1,
            last_error=None,
        )

    async def mark_retry(self, item_id: int, error: str, next_attempt_at: datetime) -> None:
        await self._update(
            notice_outbox.c.id == item_id,
            attempts=notice_outbox.c.attempts + 1,
            last_error=truncate(error, 200),
            next_attempt_at=to_db(next_attempt_at),
        )

    async def mark_failed(self, item_id: int, error: str) -> None:
        await self._update(
            notice_outbox.c.id == item_id,
            state=FAILED,
            attempts=notice_outbox.c.attempts + 1,
            last_error=truncate(error, 200),
        )

    async def mark_delivered(self, message_id: str, at: datetime) -> bool:
        """Apply a delivery receipt; False if no sent notice carries that id (late or foreign receipt)."""
        del at  # the table keeps when it was sent; the receipt only confirms the state
        count = await self._update(
            sa.and_(notice_outbox.c.message_id == message_id, notice_outbox.c.state == SENT),
            state=DELIVERED,
        )
        return count > 0

    async def apply_receipt(self, message_ids: Sequence[str], delivery_state: str, delivered: bool,
                            at: datetime) -> bool:
        """Record a delivery receipt on the notice sent under one of ``message_ids``.

        Several ids because SMSCs disagree with themselves: some answer submit_sm with a hex id and put
        the same number in decimal into the receipt, so the caller passes every spelling it can derive.
        A final failure (UNDELIV, EXPIRED...) keeps the row ``sent``: what failed is the handset's
        delivery, recorded in ``delivery_state``, not our sending. False if no sent notice matches.
        """
        condition = sa.and_(notice_outbox.c.message_id.in_(list(message_ids)),
                            notice_outbox.c.state.in_((SENT, DELIVERED)))
        values: dict[str, object] = {"delivery_state": delivery_state[:10], "delivered_at": to_db(at)}
        if delivered:
            values["state"] = DELIVERED
        return await self._update(condition, **values) > 0

    async def _update(self, condition: sa.ColumnElement[bool], **values: object) -> int:
        statement = notice_outbox.update().where(condition).values(**values)
        return await self._db.write(lambda conn: conn.execute(statement).rowcount)
