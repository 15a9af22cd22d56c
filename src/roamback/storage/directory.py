"""Subscriber directories: the service's own table, or a query against the operator's database.

The operator's database (Oracle in production) is someone else's system, so ``SqlQueryDirectory`` owns
its engine and threads: a slow or hung directory can then never starve the service's own Database. Every
lookup answers within ``timeout_seconds`` through a Deferred timeout, whatever the driver does; the
statement timeout set per backend is what frees the worker thread afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from twisted.internet import defer, threads
from twisted.python.threadpool import ThreadPool

from ..core.model import Subscriber
from ..core.ports import PortUnavailable
from .engine import make_engine
from .pool import Database
from .prepared import PreparedQuery
from .rows import subscriber_from_row
from .schema import subscribers

QUERY_KEY = "directory.sql.query"

_TRUE = frozenset({"1", "y", "yes", "t", "true"})
_FALSE = frozenset({"0", "n", "no", "f", "false"})
_BOOL_DEFAULTS = {"active": True, "roaming": False, "service_allowed": True}
_TEXT_COLUMNS = ("language", "visited_region", "account_id", "imsi")


_BY_MSISDN = PreparedQuery(
    sa.select(subscribers).where(subscribers.c.msisdn == sa.bindparam("w_msisdn")), ("w_msisdn",)
)


class TableDirectory:
    """The ``subscribers`` table, for operators without a directory of their own and for the demo."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def lookup(self, msisdn: str) -> Subscriber | None:
        row = await self._db.read(lambda conn: _BY_MSISDN.first(conn, {"w_msisdn": msisdn}))
        return None if row is None else subscriber_from_row(row)


class SqlQueryDirectory:
    """Runs the operator-configured query with the one bind ``:msisdn`` and maps columns by name.

    ``strip_plus`` sends digits only, for databases that store numbers without the '+'.
    """

    def __init__(
        self,
        engine_or_url: Engine | str,
        query: str,
        timeout_seconds: float,
        reactor: Any,
        *,
        strip_plus: bool = False,
        threads: int = 4,
    ) -> None:
        self._statement = _checked_query(query)
        self._engine = (
            engine_or_url
            if isinstance(engine_or_url, Engine)
            else make_engine(engine_or_url, pool_size=threads)
        )
        self._timeout = timeout_seconds
        self._reactor = reactor
        self._strip_plus = strip_plus
        self._pool = ThreadPool(minthreads=0, maxthreads=threads, name="roamback-directory")
        self._pool.start()
        # Like the reactor's own pool: stopped at shutdown even if the owner forgets.
        self._trigger: Any = reactor.addSystemEventTrigger("during", "shutdown", self.stop)

    def stop(self) -> defer.Deferred[None]:
        """Join the threads off the reactor thread: one may still be waiting for the server to give up."""
        if self._trigger is None:
            return defer.succeed(None)
        self._reactor.removeSystemEventTrigger(self._trigger)
        self._trigger = None
        d = threads.deferToThread(self._pool.stop)
        d.addCallback(lambda _: self._engine.dispose())
        return d

    async def lookup(self, msisdn: str) -> Subscriber | None:
        key = msisdn.removeprefix("+") if self._strip_plus else msisdn
        d = threads.deferToThreadPool(self._reactor, self._pool, self._query, key)
        d.addTimeout(self._timeout, self._reactor)
        try:
            row = await d
        except defer.TimeoutError as exc:
            raise PortUnavailable(f"subscriber directory did not answer within {self._timeout}s") from exc
        except sa.exc.SQLAlchemyError as exc:
            raise PortUnavailable(f"subscriber directory query failed: {exc}") from exc
        return None if row is None else subscriber_from_columns(row, msisdn)

    def _query(self, key: str) -> dict[str, Any] | None:
        with self._engine.connect() as conn:
            deadline = time.monotonic() + self._timeout
            _limit_statement_time(conn, self._timeout, deadline)
            try:
                row = conn.execute(self._statement, {"msisdn": key}).mappings().first()
            finally:
                _clear_statement_time(conn)
        return None if row is None else {str(name).lower(): value for name, value in row.items()}


def _checked_query(query: str) -> sa.TextClause:
    """Reject a query that would not bind exactly ``:msisdn`` at startup, naming the key to fix."""
    statement = sa.text(query)
    binds = set(statement.compile().params)
    if "msisdn" not in binds:
        raise ValueError(f"{QUERY_KEY} must use the bind parameter :msisdn (got {query!r})")
    extra = sorted(binds - {"msisdn"})
    if extra:
        raise ValueError(f"{QUERY_KEY} may only bind :msisdn, but also binds {', '.join(extra)}")
    return statement


def _limit_statement_time(conn: Connection, seconds: float, deadline: float) -> None:
    """Ask the server to give up too, so a hung query does not hold a thread and a session forever."""
    dialect = conn.dialect.name
    raw = conn.connection.dbapi_connection
    if dialect == "postgresql":
        conn.execute(
            sa.text("SELECT set_config('statement_timeout', :ms, true)"), {"ms": str(int(seconds * 1000))}
        )
    elif dialect in ("mysql", "mariadb") and getattr(conn.dialect, "is_mariadb", False):
        conn.execute(sa.text("SET SESSION max_statement_time = :s"), {"s": seconds})
    elif dialect in ("mysql", "mariadb"):
        conn.execute(sa.text("SET SESSION max_execution_time = :ms"), {"ms": int(seconds * 1000)})
    elif dialect == "oracle":
        raw.call_timeout = int(seconds * 1000)  # type: ignore[union-attr]
    elif dialect == "sqlite":
        raw.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)  # type: ignore[union-attr]


def _clear_statement_time(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        conn.connection.dbapi_connection.set_progress_handler(None, 0)  # type: ignore[union-attr]


def subscriber_from_columns(row: Mapping[str, Any], msisdn: str) -> Subscriber:
    """Build a Subscriber from whatever an operator query returns, tolerating its conventions.

    Only ``home_region`` is required; ``msisdn`` defaults to the number looked up and gets its '+'
    back if the operator stores digits only. CHAR columns arrive blank-padded, hence the strip.
    """
    if row.get("home_region") is None:
        raise PortUnavailable(f"{QUERY_KEY} returned no home_region column (or it is NULL)")
    number = _text(row.get("msisdn")) or msisdn
    texts = {name: _text(row.get(name)) for name in _TEXT_COLUMNS}
    return Subscriber(
        msisdn=number if number.startswith("+") else f"+{number}",
        home_region=str(row["home_region"]).strip().upper(),
        language=(texts["language"] or "en").lower(),
        visited_region=texts["visited_region"].upper() if texts["visited_region"] else None,
        account_id=texts["account_id"],
        imsi=texts["imsi"],
        **{name: _flag(name, row.get(name), default) for name, default in _BOOL_DEFAULTS.items()},
    )


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _flag(name: str, value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int | Decimal | float) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise PortUnavailable(f"{QUERY_KEY} returned {value!r} for {name}; expected 1/0, Y/N or true/false")
