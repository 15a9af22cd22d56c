"""Shared fixtures: a fresh, private database on each backend the service supports.

PostgreSQL and MariaDB are the real servers on this machine. Each test gets its own scratch database
(created and dropped here) so parallel runs never see each other's rows. Under CI=true a missing server
fails the test instead of skipping it: CI must prove the SQL runs on every backend.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import pytest_twisted
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from roamback.storage.engine import make_engine
from roamback.storage.pool import Database
from roamback.storage.schema import metadata

PG_URL = os.environ.get("ROAMBACK_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MARIADB_URL = os.environ.get(
    "ROAMBACK_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test?charset=utf8mb4"
)
SERVER_URLS = {"postgresql": PG_URL, "mariadb": MARIADB_URL}


def _admin_engine(kind: str) -> sa.Engine:
    url = SERVER_URLS[kind]
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError as exc:
        message = f"{kind} server at {make_url(url).render_as_string(hide_password=True)} unreachable: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return engine


def scratch_database_url(kind: str, tmp_path: Path) -> Iterator[str]:
    """Yield the URL of an empty database of ``kind``; drop it afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'roamback.sqlite'}"
        return
    admin = _admin_engine(kind)
    name = f"rbt_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        yield make_url(SERVER_URLS[kind]).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            if kind == "postgresql":
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            else:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database on every supported backend (the test runs once per backend)."""
    yield from scratch_database_url(request.param, tmp_path)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    yield from scratch_database_url("sqlite", tmp_path)


@pytest_twisted.async_yield_fixture
async def database(db_url: str):
    """A started Database with the schema created, on every backend."""
    from twisted.internet import reactor

    engine = make_engine(db_url)
    metadata.create_all(engine)
    db = Database(engine, reactor)
    db.start()
    yield db
    await db.stop()


@pytest_twisted.async_yield_fixture
async def sqlite_database(sqlite_url: str):
    """A started Database on SQLite only, for logic that does not depend on the backend."""
    from twisted.internet import reactor

    engine = make_engine(sqlite_url)
    metadata.create_all(engine)
    db = Database(engine, reactor)
    db.start()
    yield db
    await db.stop()
