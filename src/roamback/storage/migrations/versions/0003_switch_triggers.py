"""Switch triggers: default destinations, remembered caller IDs, personal DIDs, a PIN lockout across calls.

Frozen like 0001: the types are spelled out here, never imported from storage/schema.py.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Timestamp = sa.TIMESTAMP(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
Msisdn = sa.String(16)


def upgrade() -> None:
    op.add_column("subscribers", sa.Column("default_destination", Msisdn))
    op.add_column("subscribers", sa.Column("pin_failures", sa.Integer, nullable=False, server_default="0"))
    op.add_column("subscribers", sa.Column("pin_locked_until", Timestamp))
    op.create_table(
        "trigger_callers",
        sa.Column("caller_id", Msisdn, nullable=False),
        sa.Column("msisdn", Msisdn, nullable=False),
        sa.Column("remembered_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("caller_id", name="pk_trigger_callers"),
    )
    op.create_table(
        "personal_dids",
        sa.Column("did", Msisdn, nullable=False),
        sa.Column("msisdn", Msisdn, nullable=False),
        sa.Column("callback_number", Msisdn),
        sa.Column("destination", Msisdn),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("did", name="pk_personal_dids"),
    )


def downgrade() -> None:
    op.drop_table("personal_dids")
    op.drop_table("trigger_callers")
    for column in ("pin_locked_until", "pin_failures", "default_destination"):
        op.drop_column("subscribers", column)
