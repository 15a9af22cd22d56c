"""DML statements compiled once per dialect and executed straight on the DBAPI cursor.

Why: the writer thread is the service's throughput limit, and SQLAlchemy's per-execute machinery
(cache-key lookup, execution context, result wrapping) costs about 55 us per statement against 5 us for
the driver itself; a callback request runs some 35 statements. SQLAlchemy still does the compiling, so
the SQL is the dialect's own, parameters stay bound (never formatted into the text), and every value
goes through its column type's bind processor exactly as it would through ``Connection.execute``.
Only write statements with no result rows belong here; queries keep the full SQLAlchemy path.

``run_later`` goes one step further for rows nothing in the same transaction reads back (history lines,
CDRs, notices, ledger entries): inside a ``deferred_batch`` they are collected and sent once per
statement just before the commit. On PostgreSQL a plain INSERT goes as one COPY, and a statement given a
``Bulk`` form (an upsert, an UPDATE by key) as one statement whose parameters are column arrays
(``unnest``); anything else, and every statement on the other backends, goes as one ``executemany``.
Row by row, even pipelined, psycopg sends each row as its own query (and under load each send waits for
the GIL); one statement per flush costs one round trip and one plan. Outside a batch ``run_later`` is
``run``, so no caller can lose a row by forgetting to flush.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ColumnElement, bindparam, func, select
from sqlalchemy.sql.dml import Insert, UpdateBase
from sqlalchemy.sql.schema import Table
from sqlalchemy.sql.selectable import Select
from sqlalchemy.sql.type_api import TypeDecorator, TypeEngine
from sqlalchemy.types import DateTime


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # parameter names in the order the SQL text expects them
    constants: dict[str, Any]  # literals the statement carries itself (``else_=0`` and the like)
    processors: tuple[Callable[[Any], Any] | None, ...]
    positional: bool
    columns: tuple[str, ...] = ()  # a query's result columns, with their type's result processors
    results: tuple[Callable[[Any], Any] | None, ...] = ()
    copy: str | None = None  # PostgreSQL: the COPY that loads many rows of a plain INSERT at once

    def arguments(self, params: Mapping[str, Any]) -> list[Any] | dict[str, Any]:
        given = {**self.constants, **params} if self.constants else params
        values = [
            process(given[name]) if process is not None else given[name]
            for name, process in zip(self.names, self.processors, strict=True)
        ]
        return values if self.positional else dict(zip(self.names, values, strict=True))


class Prepared:
    """One INSERT/UPDATE/DELETE with a fixed set of parameter names.

    ``bulk``: the same statement for many rows at once on PostgreSQL (see ``Bulk``), used by flushes.
    """

    __slots__ = ("_bulk", "_by_dialect", "_keys", "_statement")

    def __init__(
        self, statement: UpdateBase | Select[Any], keys: Sequence[str], *, bulk: Bulk | None = None
    ) -> None:
        self._statement = statement
        self._keys = tuple(keys)
        self._by_dialect: dict[str, _Compiled] = {}
        self._bulk = bulk

    def run(self, conn: Connection, params: Mapping[str, Any]) -> int:
        """Execute inside ``conn``'s transaction; return the driver's rowcount (matched rows)."""
        compiled = self._compiled(conn)
        arguments = compiled.arguments(params)
        cursor = conn.connection.driver_connection.cursor()
        try:
            cursor.execute(compiled.sql, arguments)
            return cursor.rowcount
        except conn.dialect.loaded_dbapi.Error as exc:
            raise _wrapped(conn, compiled.sql, arguments, exc) from exc
        finally:
            cursor.close()

    def run_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        if len(rows) == 1:  # a COPY costs two round trips (start, then data and end); one INSERT costs one
            self.run(conn, rows[0])
            return
        compiled = self._compiled(conn)
        arguments = [compiled.arguments(params) for params in rows]
        cursor = conn.connection.driver_connection.cursor()
        try:
            if compiled.copy is not None:
                _copy_rows(cursor, compiled, arguments)
            elif self._bulk is not None and len(rows) > 1 and conn.dialect.name == "postgresql":
                sql, arguments = self._bulk.arguments(conn, compiled, rows, arguments)
                cursor.execute(sql, arguments)
            else:
                cursor.executemany(compiled.sql, arguments)
        except conn.dialect.loaded_dbapi.Error as exc:
            raise _wrapped(conn, compiled.sql, arguments, exc) from exc
        finally:
            cursor.close()

    def run_later(self, conn: Connection, params: Mapping[str, Any]) -> None:
        """Queue the row for the batch's flush before commit, or run it now if no batch is open."""
        pending = getattr(_batch, "pending", None)
        if pending is None:
            self.run(conn, params)
        else:
            pending.setdefault(self, []).append(params)

    def _compiled(self, conn: Connection) -> _Compiled:
        return self._by_dialect.get(conn.dialect.name) or self._compile(conn.dialect)

    def _compile(self, dialect: Dialect) -> _Compiled:
        column_keys = [key for key in self._keys if not key.startswith("w_")]
        compiled = self._statement.compile(dialect=dialect, column_keys=column_keys)
        names = tuple(compiled.positiontup) if compiled.positional else tuple(compiled.binds)
        constants = {
            name: bind.value for name, bind in compiled.binds.items()
            if name not in self._keys and not bind.required
        }
        missing = set(names) - set(self._keys) - set(constants)
        if missing:
            raise ValueError(f"statement needs parameters {sorted(missing)} not among {self._keys}")
        processors = tuple(_bind_processor(compiled.binds[name].type, dialect) for name in names)
        columns: tuple[str, ...] = ()
        results: tuple[Callable[[Any], Any] | None, ...] = ()
        if isinstance(self._statement, Select) or getattr(self._statement, "_returning", ()):
            selected = list(self._statement.selected_columns if isinstance(self._statement, Select)
                            else self._statement.exported_columns)
            columns = tuple(column.key for column in selected)
            results = tuple(column.type._cached_result_processor(dialect, None) for column in selected)
        copy = _copy_sql(self._statement, dialect, names) if not constants else None
        result = _Compiled(
            compiled.string, names, constants, processors, compiled.positional, columns, results, copy
        )
        self._by_dialect[dialect.name] = result
        return result


class PreparedQuery(Prepared):
    """A SELECT (or a DML statement with RETURNING) run the same way, for the few reads inside write
    units (row locks, guard checks, a changed row read back).

    Rows come back as plain dicts keyed by column name, each value through its type's result
    processor, so a SQLite timestamp string or a MariaDB tinyint reads as SQLAlchemy would return it.
    """

    __slots__ = ()

    def first(self, conn: Connection, params: Mapping[str, Any]) -> dict[str, Any] | None:
        compiled = self._compiled(conn)
        arguments = compiled.arguments(params)
        cursor = conn.connection.driver_connection.cursor()
        try:
            cursor.execute(compiled.sql, arguments)
            row = cursor.fetchone()
        except conn.dialect.loaded_dbapi.Error as exc:
            raise _wrapped(conn, compiled.sql, arguments, exc) from exc
        finally:
            cursor.close()
        if row is None:
            return None
        return {
            name: process(value) if process is not None else value
            for name, process, value in zip(compiled.columns, compiled.results, row, strict=True)
        }


class Bulk:
    """PostgreSQL: all the rows of a flush in one statement, each parameter an array of one column.

    ``statement`` takes its rows from ``unnest_rows`` (same parameter names as the row statement);
    ``unique`` names the columns that identify a row: of several rows with the same values there, only
    the last is sent, which is what running them one after another would leave (an upsert or UPDATE
    may not touch one row twice in one statement).
    """

    __slots__ = ("_statement", "_unique")

    def __init__(self, statement: UpdateBase, keys: Sequence[str], unique: Sequence[str] = ()) -> None:
        self._statement = Prepared(statement, keys)
        self._unique = tuple(unique)

    def arguments(
        self, conn: Connection, row_form: _Compiled, rows: Sequence[Mapping[str, Any]], processed: list[Any]
    ) -> tuple[str, Any]:
        """The bulk SQL and its arrays, built from each row's already processed arguments."""
        if self._unique:
            last = {tuple(row[name] for name in self._unique): index for index, row in enumerate(rows)}
            if len(last) < len(rows):
                processed = [processed[index] for index in sorted(last.values())]
        compiled = self._statement._compiled(conn)
        if row_form.positional:
            position = {name: index for index, name in enumerate(row_form.names)}
            columns = {name: [row[position[name]] for row in processed] for name in compiled.names}
        else:
            columns = {name: [row[name] for row in processed] for name in compiled.names}
        if compiled.positional:
            return compiled.sql, [columns[name] for name in compiled.names]
        return compiled.sql, columns


def unnest_rows(columns: Mapping[str, ColumnElement[Any]], name: str = "v") -> Any:
    """``SELECT unnest(:a) AS a, unnest(:b) AS b ...``: one row per array position, typed like ``columns``.

    The parameters are named like the keys of ``columns`` (the row statement's names), each bound as an
    array of its column's type, so PostgreSQL casts the whole array once.
    """
    return select(*(
        func.unnest(bindparam(key, type_=postgresql.ARRAY(column.type))).label(key)
        for key, column in columns.items()
    )).subquery(name)


def _bind_processor(type_: TypeEngine[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """The type's own processor, but for SQLite timestamps a C-speed one that writes the same text.

    SQLAlchemy's SQLite DATETIME formats through a dict and ``%`` on every bind, the largest single cost
    of the writer thread; ``isoformat`` gives the identical ``YYYY-MM-DD HH:MM:SS.ffffff`` wall-clock text.
    """
    if dialect.name == "sqlite" and isinstance(type_, DateTime) and not isinstance(type_, TypeDecorator):
        return _sqlite_timestamp
    return type_._cached_bind_processor(dialect)


def _sqlite_timestamp(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(" ", "microseconds")[:26]
    return value


def _copy_sql(statement: UpdateBase | Select[Any], dialect: Dialect, names: tuple[str, ...]) -> str | None:
    """Row by row, even pipelined, PostgreSQL plans and runs each INSERT alone; COPY loads them in one go.

    Only for a plain INSERT (no ON CONFLICT, no RETURNING) whose parameters are exactly its columns.
    """
    if dialect.name != "postgresql" or type(statement) is not Insert:
        return None
    table = statement.table
    if not isinstance(table, Table) or not set(names) <= set(table.c.keys()):
        return None
    preparer = dialect.identifier_preparer
    columns = ", ".join(preparer.format_column(table.c[name]) for name in names)
    return f"COPY {preparer.format_table(table)} ({columns}) FROM STDIN"


def _copy_rows(cursor: Any, compiled: _Compiled, arguments: list[Any]) -> None:
    with cursor.copy(compiled.copy) as copy:
        for row in arguments:
            copy.write_row(row if compiled.positional else [row[name] for name in compiled.names])


def _wrapped(conn: Connection, sql: str, arguments: Any, exc: Exception) -> DBAPIError:
    """Callers and the pool's retry logic know SQLAlchemy's exception classes, not each driver's."""
    error_class = conn.dialect.loaded_dbapi.Error
    return DBAPIError.instance(sql, arguments, exc, error_class, dialect=conn.dialect)


_batch = threading.local()


@contextmanager
def deferred_batch(conn: Connection) -> Iterator[None]:
    """Collect ``run_later`` rows of the units run inside, and write them when the block ends cleanly.

    Statements are flushed in the order each was first queued, so a history line queued after its
    request's INSERT still lands after it; rows of one statement keep their order too.
    """
    if getattr(_batch, "pending", None) is not None:
        raise RuntimeError("deferred batches do not nest")
    pending: dict[Prepared, list[Mapping[str, Any]]] = {}
    _batch.pending = pending
    try:
        yield
    finally:
        _batch.pending = None
    for prepared, rows in pending.items():
        prepared.run_many(conn, rows)
