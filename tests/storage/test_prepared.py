"""Prepared statements: the same rows as SQLAlchemy's own execute, on every backend."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import pytest_twisted
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite

from roamback.core.model import CallbackRequest, Channel
from roamback.storage.prepared import Prepared, _sqlite_timestamp
from roamback.storage.rows import REQUEST_COLUMNS, from_db, request_values
from roamback.storage.schema import callback_requests

T0 = datetime(2026, 11, 22, 12, 30, 15, 123456, tzinfo=UTC)


def test_row_key_lists_match_the_value_builders() -> None:
    request = CallbackRequest(id="r", channel=Channel.SMS, requester="+33612345678", destination_raw="x",
                              callback_raw=None, language="en", created_at=T0)
    assert tuple(request_values(request)) == REQUEST_COLUMNS


@pytest_twisted.ensureDeferred
async def test_insert_and_conditional_update_round_trip(database) -> None:
    insert = Prepared(callback_requests.insert(), REQUEST_COLUMNS)
    update = Prepared(
        callback_requests.update().where(callback_requests.c.id == sa.bindparam("w_id"),
                                         callback_requests.c.state == sa.bindparam("w_state")),
        ("w_id", "w_state", "state", "updated_at"),
    )
    request = CallbackRequest(id="r1", channel=Channel.SMS, requester="+33612345678",
                              destination_raw="0612'; DROP TABLE x; --", callback_raw=None,
                              language="ar", created_at=T0)

    def work(conn: sa.Connection) -> tuple[int, int]:
        insert.run(conn, request_values(request))
        hit = update.run(conn, {"w_id": "r1", "w_state": "received", "state": "accepted", "updated_at": T0})
        miss = update.run(conn, {"w_id": "r1", "w_state": "received", "state": "bridged", "updated_at": T0})
        return hit, miss

    assert await database.write(work) == (1, 0)
    row = await database.read(lambda conn: conn.execute(sa.select(callback_requests)).one())
    assert row.state == "accepted"
    assert row.destination_raw == "0612'; DROP TABLE x; --"  # bound, never spliced into the SQL
    assert from_db(row.created_at) == T0


def test_a_missing_parameter_is_named() -> None:
    update = Prepared(callback_requests.update().where(callback_requests.c.id == sa.bindparam("w_id")),
                      ("state",))
    engine = sa.create_engine("sqlite://")
    with engine.begin() as conn, pytest.raises(ValueError, match="w_id"):
        update.run(conn, {"state": "x"})


@given(st.datetimes(min_value=datetime(1, 1, 1), timezones=st.sampled_from([UTC, None])))
def test_sqlite_timestamps_are_bound_as_the_exact_text_sqlalchemy_writes(value: datetime) -> None:
    """Rows written by prepared statements and by SQLAlchemy must compare and sort as one column."""
    dialect = sqlite.dialect()
    own = sa.TIMESTAMP(timezone=True).dialect_impl(dialect).bind_processor(dialect)
    assert own is not None
    assert _sqlite_timestamp(value) == own(value)


@pytest_twisted.ensureDeferred
async def test_many_rows_queued_in_a_batch_are_written_at_commit_in_order(database) -> None:
    """run_later defers to the flush (COPY on PostgreSQL, executemany elsewhere), nothing is lost or reordered."""
    insert = Prepared(callback_requests.insert(), REQUEST_COLUMNS)
    rows = []
    for n in range(25):
        request = CallbackRequest(id=f"r{n:02d}", channel=Channel.USSD, requester="+33612345678",
                                  destination_raw="+4930", callback_raw=None, language="fr", created_at=T0)
        rows.append(request_values(request))

    def unit(conn: sa.Connection) -> int:
        for values in rows:
            insert.run_later(conn, values)
        return conn.execute(sa.select(sa.func.count()).select_from(callback_requests)).scalar_one()

    assert await database.write(unit) == 0, "queued rows are not visible before the flush"
    stored = await database.read(lambda conn: conn.execute(
        sa.select(callback_requests.c.id, callback_requests.c.created_at).order_by(callback_requests.c.id)
    ).all())
    assert [row.id for row in stored] == [f"r{n:02d}" for n in range(25)]
    assert {from_db(row.created_at) for row in stored} == {T0}
