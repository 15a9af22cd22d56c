"""Schema migrations without an alembic.ini: the configuration is built here, pointing into the package.

Installed services, the CLI and the tests all migrate through these functions, so the migration scripts
are found the same way whether roamback runs from a checkout or from a wheel.
"""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.dialects.oracle.base import OracleDialect
from sqlalchemy.engine import Dialect

from .engine import make_engine

MIGRATIONS = Path(__file__).parent / "migrations"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _run(url: str, action: Any, revision: str) -> None:
    engine = make_engine(url, pool_size=1)
    try:
        with engine.begin() as conn:
            config = _config()
            config.attributes["connection"] = conn
            action(config, revision)
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "head") -> None:
    _run(url, command.upgrade, revision)


def downgrade(url: str, revision: str = "base") -> None:
    _run(url, command.downgrade, revision)


def head() -> str | None:
    """The revision the code expects; a server database must be at it before the service starts."""
    return ScriptDirectory.from_config(_config()).get_current_head()


def current(url: str) -> str | None:
    """The revision the database is at; None for a database never migrated."""
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def offline_sql(dialect: Dialect, revision: str = "head") -> str:
    """The upgrade from an empty database as a SQL script, for DBAs who apply DDL themselves."""
    script = ScriptDirectory.from_config(_config())
    output = io.StringIO()
    context = MigrationContext.configure(
        dialect=dialect,
        opts={
            "as_sql": True,
            "output_buffer": output,
            "literal_binds": True,
            # what command.upgrade passes in --sql mode; alembic has no public equivalent
            "fn": lambda rev, _context: script._upgrade_revs(revision, rev),
        },
    )
    with Operations.context(context):
        context.run_migrations()
    return output.getvalue()


class _ScriptOracleDialect(OracleDialect):
    """An Oracle dialect told the server version instead of asking a server.

    A dialect that never connected assumes the newest server; ``initialize`` is what turns off native
    BOOLEAN (before 23ai), JSON (before 21c) and identity columns (before 12c). Running the real
    ``initialize`` with the answers preset keeps those decisions SQLAlchemy's own. RETURNING is off
    because a script cannot receive what it returns: alembic's version INSERT would otherwise end in
    ``RETURNING ... INTO :ret_0``, which SQL*Plus rejects.
    """

    insert_returning = update_returning = delete_returning = False

    def __init__(self, server_version: tuple[int, ...]) -> None:
        super().__init__()
        self._script_version = server_version

    def _get_server_version_info(self, connection: Any) -> tuple[int, ...]:
        return self._script_version

    def _get_default_schema_name(self, connection: Any) -> None:
        return None

    def get_default_isolation_level(self, dbapi_conn: Any) -> str:
        return "READ COMMITTED"

    def _check_max_identifier_length(self, connection: Any) -> int:
        return 128 if self._script_version >= (12, 2) else 30


def oracle_dialect(server_version: tuple[int, ...] = (19, 0)) -> Dialect:
    """An Oracle dialect initialised for ``server_version``, for ``offline_sql`` and DDL checks."""
    dialect = _ScriptOracleDialect(server_version)
    dialect.initialize(SimpleNamespace(connection=SimpleNamespace(dbapi_connection=None)))
    return dialect
