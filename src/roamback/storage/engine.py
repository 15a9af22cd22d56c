"""Builds SQLAlchemy engines the same way for the service, the CLI and the tests."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
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
    return sa.create_engine(
        parsed, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, pool_recycle=3600
    )
