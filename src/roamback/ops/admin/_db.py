"""What every admin command shares: the configured database, the operator's name, parsed times.

The commands run without a reactor, in one short transaction each, through the same Connection helpers
the service uses (``storage.provisioning``, ``ledger.accounts``). Every change is written to the audit
log in the same transaction, under the operating-system user who ran it, so "who blocked this
subscriber?" has an answer even after the logs have rotated.
"""

from __future__ import annotations

import argparse
import getpass
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ...config import Config
from ...storage import migrate
from ...storage.engine import make_engine
from ...storage.rows import to_db, truncate
from ...storage.schema import audit_log

T = TypeVar("T")


class AdminError(Exception):
    """A mistake the operator can fix (unknown subscriber, bad date); printed without a traceback."""


@contextmanager
def _engine(config: Config) -> Iterator[sa.Engine]:
    url = config.database.url
    if url.startswith("sqlite"):
        migrate.upgrade(url)  # the embedded database migrates itself, as the service does
    elif migrate.current(url) != migrate.head():
        raise AdminError("database schema is not at the latest revision; run `roamback db upgrade`")
    engine = make_engine(url, pool_size=1)
    try:
        yield engine
    finally:
        engine.dispose()


def read(config: Config, fn: Callable[[Connection], T]) -> T:
    with _engine(config) as engine, engine.connect() as conn:
        return fn(conn)


def write(config: Config, action: str, subject: str, fn: Callable[[Connection], T], detail: str = "") -> T:
    """Run ``fn`` and record ``action`` in the audit log, committed together."""
    with _engine(config) as engine, engine.begin() as conn:
        result = fn(conn)
        conn.execute(audit_log.insert().values(
            at=to_db(now()), actor=truncate(f"cli:{getpass.getuser()}", 64), action=action,
            subject=truncate(subject, 64), detail=truncate(detail, 400) or None,
        ))
        return result


def now() -> datetime:
    return datetime.now(UTC)


def moment(text: str) -> datetime:
    """An argparse type: ``2024-05-01`` (midnight UTC) or an ISO 8601 time; no zone means UTC."""
    try:
        parsed = datetime.fromisoformat(text) if "T" in text or " " in text else datetime.combine(
            date.fromisoformat(text), datetime.min.time())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (2024-05-01) or an ISO 8601 time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
