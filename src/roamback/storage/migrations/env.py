"""Alembic environment, driven by ``roamback.storage.migrate`` with the Connection to migrate.

There is no alembic.ini: the connection comes in ``config.attributes`` (so URLs with '%'-escaped
passwords never pass through configparser), and offline SQL scripts are produced by
``migrate.offline_sql`` with a dialect object, because a dialect built from a bare name assumes the
newest server (native BOOLEAN on Oracle, for one).
"""

from __future__ import annotations

from alembic import context

from roamback.storage.schema import metadata

config = context.config

if context.is_offline_mode():
    raise RuntimeError("use roamback.storage.migrate.offline_sql() to produce SQL scripts")

connection = config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
