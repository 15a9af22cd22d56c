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


@pytest_twisted.ensureDeferred
async def test_a_bulk_flush_writes_what_row_by_row_statements_would(database) -> None:
    """PostgreSQL sends a flush of an upsert as one statement over column arrays (``Bulk``); a row
    written twice keeps its last values, as it does where every row is its own statement."""
    from roamback.storage.requests import _leg_upsert
    from roamback.storage.schema import call_legs

    def leg(call_id: str, leg: str, cause: str | None, ended: datetime | None) -> dict[str, object]:
        return {"request_id": "r1", "call_id": call_id, "leg": leg, "attempt": 1, "dialled": "+33612345678",
                "caller_id": "+33140000000", "started_at": T0, "answered_at": None, "bridged_at": None,
                "ended_at": ended, "cause": cause, "billed_seconds": 0, "cost_minor": 0}

    def first_batch(conn: sa.Connection) -> None:
        upsert = _leg_upsert(conn.dialect.name)
        assert upsert is not None
        for values in (leg("c1", "A", None, None), leg("c1", "B", None, None), leg("c1", "A", "normal", T0)):
            upsert.run_later(conn, values)

    def second_batch(conn: sa.Connection) -> None:
        upsert = _leg_upsert(conn.dialect.name)
        assert upsert is not None
        for values in (leg("c1", "B", "busy", T0), leg("c2", "A", None, None)):
            upsert.run_later(conn, values)

    await database.write(first_batch)
    await database.write(second_batch)
    stored = await database.read(lambda conn: conn.execute(
        sa.select(call_legs.c.call_id, call_legs.c.leg, call_legs.c.cause, call_legs.c.ended_at)
        .order_by(call_legs.c.call_id, call_legs.c.leg)
    ).all())
    assert [(row.call_id, row.leg, row.cause, from_db(row.ended_at)) for row in stored] == [
        ("c1", "A", "normal", T0), ("c1", "B", "busy", T0), ("c2", "A", None, None),
    ]


@pytest_twisted.ensureDeferred
async def test_a_bulk_update_by_key_changes_only_the_named_rows(database) -> None:
    from roamback.ledger.backend import _CLOSE_RESERVATION
    from roamback.storage.schema import reservations

    def seed(conn: sa.Connection) -> None:
        conn.execute(reservations.insert(), [
            {"id": f"z{n}", "account_id": "acc", "request_id": f"r{n}", "amount_minor": 100, "state": "open",
             "rating": "{}", "created_at": T0}
            for n in range(4)
        ])

    def close(conn: sa.Connection) -> None:
        for n, cost in ((0, 10), (2, 20), (0, 30)):  # z0 twice: the last one wins
            _CLOSE_RESERVATION.run_later(conn, {"w_id": f"z{n}", "state": "settled", "cost_minor": cost,
                                                "billed_a": n, "billed_b": 0, "settled_at": T0})

    await database.write(seed)
    await database.write(close)
    stored = await database.read(lambda conn: conn.execute(
        sa.select(reservations.c.id, reservations.c.state, reservations.c.cost_minor, reservations.c.settled_at)
        .order_by(reservations.c.id)
    ).all())
    assert [(row.id, row.state, row.cost_minor, from_db(row.settled_at)) for row in stored] == [
        ("z0", "settled", 30, T0), ("z1", "open", None, None), ("z2", "settled", 20, T0), ("z3", "open", None, None),
    ]
