"""The Alembic migrations build exactly storage/schema.py on every backend, and tear it down again."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from roamback.storage import migrate
from roamback.storage.schema import metadata


def _is_backend_rendering(diff: object, columns: dict[tuple[str, str], dict]) -> bool:
    """The only differences accepted are server defaults the backend spells its own way.

    - ``Identity()`` on a surrogate key: SQLite makes the INTEGER PRIMARY KEY the rowid and MariaDB uses
      AUTO_INCREMENT; neither reflects as an identity, but both number the rows, which is checked here.
    - Boolean defaults on MariaDB: ``true()``/``false()`` are stored as the literals 1/0, and Alembic
      cannot compare an expression with a literal.
    """
    if not (isinstance(diff, tuple) and diff[0] == "modify_default"):
        return False
    _, _, table, column, _, reflected, wanted = diff
    info = columns[table, column]
    if isinstance(wanted, sa.Identity):
        numbered = info.get("autoincrement") is True or (  # MariaDB AUTO_INCREMENT
            info["dialect"] == "sqlite" and str(info["type"]) == "INTEGER"  # SQLite rowid alias
        )
        return reflected is None and info["primary_key"] and numbered
    literal = {"true": "1", "false": "0"}.get(str(getattr(wanted, "arg", "")))
    return literal is not None and reflected is not None and str(reflected.arg).strip("'") == literal


def _columns(conn: sa.Connection) -> dict[tuple[str, str], dict]:
    inspector = sa.inspect(conn)
    found = {}
    for table in inspector.get_table_names():
        primary = set(inspector.get_pk_constraint(table)["constrained_columns"])
        for column in inspector.get_columns(table):
            found[table, column["name"]] = {
                **column,
                "primary_key": primary == {column["name"]},
                "dialect": conn.dialect.name,
            }
    return found


def test_upgrade_builds_the_schema_and_downgrade_removes_it(db_url: str) -> None:
    head = migrate.head()
    assert head == "0003"
    assert migrate.current(db_url) is None

    migrate.upgrade(db_url)

    assert migrate.current(db_url) == head
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_server_default": True})
            diffs = [d for group in compare_metadata(context, metadata) for d in _flatten(group)]
            columns = _columns(conn)
        unexplained = [d for d in diffs if not _is_backend_rendering(d, columns)]
        assert unexplained == []

        migrate.downgrade(db_url, "base")

        assert migrate.current(db_url) is None
        with engine.connect() as conn:
            assert sa.inspect(conn).get_table_names() == ["alembic_version"]
    finally:
        engine.dispose()
    migrate.upgrade(db_url)
    assert migrate.current(db_url) == head


def _flatten(group: object) -> list[object]:
    """compare_metadata nests column-level changes in a list per table."""
    return list(group) if isinstance(group, list) else [group]
