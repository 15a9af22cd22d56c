"""Builds SQLAlchemy engines the same way for the service, the CLI and the tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from .pool import tune_sqlite


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    """Create an engine; for file SQLite, create the parent directory so first start just works."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(parsed, pool_size=pool_size, max_overflow=pool_size)
        tune_sqlite(engine)
        return engine
    engine = sa.create_engine(
        parsed, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, pool_recycle=3600
    )
    _session_in_utc(engine)
    return engine


_UTC_SESSION = {
    "mysql": "SET time_zone = '+00:00'",
    "oracle": "ALTER SESSION SET TIME_ZONE = 'UTC'",
}


def _session_in_utc(engine: Engine) -> None:
    """The store binds naive UTC on MariaDB and Oracle; the session must not shift it to local time."""
    statement = _UTC_SESSION.get(engine.dialect.name)
    if statement is None:
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute(statement)
        cur.close()
