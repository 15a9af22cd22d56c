"""Who did what through the operator interfaces: a table, so it survives log rotation and can be queried."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from .pool import Database
from .rows import from_db_req, to_db, truncate
from .schema import audit_log


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime
    actor: str
    action: str
    subject: str | None
    detail: str | None


def _wall_clock() -> datetime:
    return datetime.now(UTC)


class AuditLog:
    """``clock`` is the service Runtime's ``now`` where there is one; the CLI has only the wall clock."""

    def __init__(self, db: Database, clock: Callable[[], datetime] = _wall_clock) -> None:
        self._db = db
        self._clock = clock

    async def record(
        self, actor: str, action: str, subject: str | None = None, detail: str | None = None
    ) -> None:
        values = {
            "at": to_db(self._clock()),
            "actor": truncate(actor, 64),
            "action": truncate(action, 64),
            "subject": truncate(subject, 64),
            "detail": truncate(detail, 400),
        }
        await self._db.write(lambda conn: conn.execute(audit_log.insert().values(values)))

    async def recent(self, limit: int = 100) -> list[AuditEntry]:
        """Newest first, as an operator reading the trail wants it."""
        query = sa.select(audit_log).order_by(audit_log.c.at.desc(), audit_log.c.id.desc()).limit(limit)
        rows = await self._db.read(lambda conn: conn.execute(query).mappings().all())
        return [
            AuditEntry(
                at=from_db_req(row["at"]),
                actor=row["actor"],
                action=row["action"],
                subject=row["subject"],
                detail=row["detail"],
            )
            for row in rows
        ]
