"""The group-committing Database: results only after commit, one failure isolated from its batch."""

from __future__ import annotations

import pytest
import pytest_twisted
import sqlalchemy as sa
from twisted.internet import defer

from roamback.storage.schema import audit_log


def _insert(action: str):
    def work(conn: sa.Connection) -> int:
        conn.execute(audit_log.insert().values(at=sa.func.now(), actor="test", action=action))
        return conn.execute(sa.select(sa.func.count()).select_from(audit_log)).scalar_one()

    return work


def _boom(conn: sa.Connection) -> None:
    conn.execute(audit_log.insert().values(at=sa.func.now(), actor="test", action="doomed"))
    raise ValueError("unit of work failed")


@pytest_twisted.ensureDeferred
async def test_batched_writes_commit_and_isolate_a_failure(database) -> None:
    units = [defer.ensureDeferred(database.write(_insert(f"a{i}"))) for i in range(50)]
    failing = defer.ensureDeferred(database.write(_boom))
    units += [defer.ensureDeferred(database.write(_insert(f"b{i}"))) for i in range(50)]
    results = await defer.gatherResults(units)
    with pytest.raises(ValueError, match="unit of work failed"):
        await failing
    assert len(results) == 100
    actions = await database.read(
        lambda conn: sorted(conn.execute(sa.select(audit_log.c.action)).scalars().all())
    )
    assert "doomed" not in actions
    assert len(actions) == 100


@pytest_twisted.ensureDeferred
async def test_reads_see_committed_writes(sqlite_database) -> None:
    count = await sqlite_database.write(_insert("x"))
    assert count == 1
    seen = await sqlite_database.read(
        lambda conn: conn.execute(sa.select(sa.func.count()).select_from(audit_log)).scalar_one()
    )
    assert seen == 1
