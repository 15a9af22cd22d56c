"""Subscriber directories: the own table on every backend, and operator SQL on PostgreSQL and SQLite."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import pytest_twisted
import sqlalchemy as sa

from roamback.core.model import Subscriber
from roamback.core.ports import PortUnavailable
from roamback.storage.directory import SqlQueryDirectory, TableDirectory
from roamback.storage.provisioning import upsert_subscriber

from .storage_builders import T0

# An operator's HLR export: its own column names, digits without '+', Y/N and 1/0 flags, CHAR padding.
OPERATOR_DDL = """
CREATE TABLE hlr_subs (
    msisdn_digits VARCHAR(15) PRIMARY KEY,
    country CHAR(2) NOT NULL,
    lang VARCHAR(5),
    status_flag CHAR(1),
    roam_flag INTEGER,
    vlr_country CHAR(2),
    cb_allowed VARCHAR(5),
    acct_no NUMERIC(12),
    imsi_no VARCHAR(15)
)
"""
OPERATOR_ROWS = [
    {"m": "491701234567", "c": "de", "l": "DE", "s": "Y", "r": 1, "v": "fr", "a": "true", "n": 4711,
     "i": "262011234567890"},
    {"m": "491709999999", "c": "DE", "l": None, "s": "N", "r": 0, "v": None, "a": None, "n": None, "i": None},
]  # fmt: skip
HUNG = "+15550000000"
OPERATOR_QUERY = """
SELECT msisdn_digits AS msisdn, country AS home_region, lang AS language, status_flag AS active,
       roam_flag AS roaming, vlr_country AS visited_region, cb_allowed AS service_allowed,
       acct_no AS account_id, imsi_no AS imsi
FROM hlr_subs WHERE msisdn_digits = :msisdn
"""


def _operator_db(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(OPERATOR_DDL))
        conn.execute(
            sa.text("INSERT INTO hlr_subs VALUES (:m, :c, :l, :s, :r, :v, :a, :n, :i)"), OPERATOR_ROWS
        )
    engine.dispose()


async def _lookups_map_operator_columns(url: str) -> None:
    from twisted.internet import reactor

    _operator_db(url)
    directory = SqlQueryDirectory(url, OPERATOR_QUERY, 2.0, reactor, strip_plus=True)
    try:
        roamer = await directory.lookup("+491701234567")
        barred = await directory.lookup("+491709999999")
        unknown = await directory.lookup("+491700000000")
    finally:
        await directory.stop()
    assert roamer == Subscriber(
        msisdn="+491701234567", home_region="DE", language="de", active=True, roaming=True,
        visited_region="FR", service_allowed=True, account_id="4711", imsi="262011234567890",
    )  # fmt: skip
    assert barred == Subscriber(msisdn="+491709999999", home_region="DE", active=False, roaming=False)
    assert unknown is None


async def _slow_query_times_out(url: str, slow_for_hung_number: str) -> None:
    """One worker thread: the quick lookup after the hung one only answers if the server gave up."""
    from twisted.internet import reactor

    directory = SqlQueryDirectory(url, slow_for_hung_number, 0.5, reactor, threads=1)
    try:
        started = time.monotonic()
        with pytest.raises(PortUnavailable, match=r"did not answer within 0\.5s"):
            await directory.lookup(HUNG)
        assert time.monotonic() - started < 1.5
        quick = await directory.lookup("+491701234567")
        assert quick is not None and quick.home_region == "DE"
        assert time.monotonic() - started < 2.5
    finally:
        await directory.stop()


_SECONDS = "CASE WHEN :msisdn = '+15550000000' THEN 5 ELSE 0 END"
SLEEP_FOR_HUNG_NUMBER = {
    "postgresql": f"SELECT 'DE' AS home_region FROM pg_sleep({_SECONDS})",
    "mariadb": f"SELECT 'DE' AS home_region FROM (SELECT SLEEP({_SECONDS})) s",
}


@pytest.mark.parametrize("db_url", ["postgresql", "mariadb"], indirect=True)
@pytest_twisted.ensureDeferred
async def test_operator_query_on_a_server_maps_aliased_columns(db_url: str) -> None:
    await _lookups_map_operator_columns(db_url)


@pytest.mark.parametrize("db_url", ["postgresql", "mariadb"], indirect=True)
@pytest_twisted.ensureDeferred
async def test_hanging_operator_query_on_a_server_gives_port_unavailable_in_time(db_url: str) -> None:
    backend = "postgresql" if db_url.startswith("postgresql") else "mariadb"
    await _slow_query_times_out(db_url, SLEEP_FOR_HUNG_NUMBER[backend])


@pytest_twisted.ensureDeferred
async def test_operator_query_on_sqlite_maps_aliased_columns(sqlite_url: str) -> None:
    await _lookups_map_operator_columns(sqlite_url)


@pytest_twisted.ensureDeferred
async def test_hanging_operator_query_on_sqlite_gives_port_unavailable_in_time(sqlite_url: str) -> None:
    endless_for_hung_number = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE :msisdn = '+15550000000') "
        "SELECT 'DE' AS home_region FROM (SELECT max(i) FROM n)"
    )
    await _slow_query_times_out(sqlite_url, endless_for_hung_number)


@pytest_twisted.ensureDeferred
async def test_failing_query_and_bad_data_give_port_unavailable(sqlite_url: str) -> None:
    from twisted.internet import reactor

    missing_table = SqlQueryDirectory(sqlite_url, "SELECT * FROM nowhere WHERE m = :msisdn", 1.0, reactor)
    bad_flag = SqlQueryDirectory(
        sqlite_url, "SELECT 'DE' AS home_region, 'maybe' AS active WHERE :msisdn IS NOT NULL", 1.0, reactor
    )
    no_region = SqlQueryDirectory(sqlite_url, "SELECT :msisdn AS msisdn", 1.0, reactor)
    try:
        with pytest.raises(PortUnavailable, match="query failed"):
            await missing_table.lookup("+491701234567")
        with pytest.raises(PortUnavailable, match="'maybe' for active"):
            await bad_flag.lookup("+491701234567")
        with pytest.raises(PortUnavailable, match="no home_region"):
            await no_region.lookup("+491701234567")
    finally:
        for directory in (missing_table, bad_flag, no_region):
            await directory.stop()


def test_query_must_bind_exactly_msisdn(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.sqlite'}"
    with pytest.raises(ValueError, match=r"directory\.sql\.query must use the bind parameter :msisdn"):
        SqlQueryDirectory(url, "SELECT * FROM subs WHERE msisdn = '+49170'", 1.0, None)
    with pytest.raises(ValueError, match=r"directory\.sql\.query may only bind :msisdn.*region"):
        SqlQueryDirectory(url, "SELECT * FROM subs WHERE msisdn = :msisdn AND r = :region", 1.0, None)


@pytest_twisted.ensureDeferred
async def test_table_directory_reads_provisioned_subscribers(database) -> None:
    directory = TableDirectory(database)
    roamer = Subscriber(
        "+491701234567", "DE", language="de", roaming=True, visited_region="FR", account_id="a1"
    )
    await database.write(lambda conn: upsert_subscriber(conn, roamer, T0))

    assert await directory.lookup("+491701234567") == roamer
    assert await directory.lookup("+491700000000") is None

    moved = Subscriber("+491701234567", "DE", language="en", roaming=False, service_allowed=False)
    await database.write(lambda conn: upsert_subscriber(conn, moved, T0))
    assert await directory.lookup("+491701234567") == moved
