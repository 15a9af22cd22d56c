"""DML statements compiled once per dialect and executed straight on the DBAPI cursor.

Why: the writer thread is the service's throughput limit, and SQLAlchemy's per-execute machinery
(cache-key lookup, execution context, result wrapping) costs about 55 us per statement against 5 us for
the driver itself; a callback request runs some 35 statements. SQLAlchemy still does the compiling, so
the SQL is the dialect's own, parameters stay bound (never formatted into the text), and every value
goes through its column type's bind processor exactly as it would through ``Connection.execute``.
Only write statements with no result rows belong here; queries keep the full SQLAlchemy path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.dml import UpdateBase


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # parameter names in the order the SQL text expects them
    constants: dict[str, Any]  # literals the statement carries itself (``else_=0`` and the like)
    processors: tuple[Callable[[Any], Any] | None, ...]
    positional: bool


class Prepared:
    """One INSERT/UPDATE/DELETE with a fixed set of parameter names."""

    __slots__ = ("_by_dialect", "_keys", "_statement")

    def __init__(self, statement: UpdateBase, keys: Sequence[str]) -> None:
        self._statement = statement
        self._keys = tuple(keys)
        self._by_dialect: dict[str, _Compiled] = {}

    def run(self, conn: Connection, params: Mapping[str, Any]) -> int:
        """Execute inside ``conn``'s transaction; return the driver's rowcount (matched rows)."""
        compiled = self._by_dialect.get(conn.dialect.name) or self._compile(conn.dialect)
        given = {**compiled.constants, **params} if compiled.constants else params
        values = [
            process(given[name]) if process is not None else given[name]
            for name, process in zip(compiled.names, compiled.processors, strict=True)
        ]
        arguments = values if compiled.positional else dict(zip(compiled.names, values, strict=True))
        cursor = conn.connection.driver_connection.cursor()
        try:
            cursor.execute(compiled.sql, arguments)
            return cursor.rowcount
        except conn.dialect.loaded_dbapi.Error as exc:
            # Callers and the pool's retry logic know SQLAlchemy's exception classes, not each driver's.
            raise DBAPIError.instance(
                compiled.sql, arguments, exc, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect
            ) from exc
        finally:
            cursor.close()

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
        processors = tuple(compiled.binds[name].type._cached_bind_processor(dialect) for name in names)
        result = _Compiled(compiled.string, names, constants, processors, compiled.positional)
        self._by_dialect[dialect.name] = result
        return result
