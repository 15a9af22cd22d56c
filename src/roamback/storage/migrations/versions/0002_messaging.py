"""Messaging over SMPP: received MO messages, delivery receipts on notices, registration codes.

Frozen like 0001: the types are spelled out here, never imported from storage/schema.py.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.TIMESTAMP(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.add_column("registered_numbers", sa.Column("code_expires_at", Timestamp))
    op.add_column("registered_numbers",
                  sa.Column("code_attempts", sa.Integer, nullable=False, server_default="0"))
    op.add_column("notice_outbox", sa.Column("priority", sa.SmallInteger, nullable=False, server_default="5"))
    op.add_column("notice_outbox", sa.Column("delivery_state", sa.String(10)))
    op.add_column("notice_outbox", sa.Column("delivered_at", Timestamp))
    op.create_index("ix_notice_outbox_message_id", "notice_outbox", ["message_id"])
    op.create_table(
        "inbound_messages",
        sa.Column("id", BigId, sa.Identity(), nullable=False),
        sa.Column("link", sa.String(32), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("destination", sa.String(32), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("data_coding", sa.SmallInteger, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("network_id", sa.String(64)),
        sa.Column("received_at", Timestamp, nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("handled_at", Timestamp),
        sa.Column("error", sa.String(200)),
        sa.PrimaryKeyConstraint("id", name="pk_inbound_messages"),
    )
    op.create_index("ix_inbound_source_digest", "inbound_messages", ["source", "digest", "received_at"])
    op.create_index("ix_inbound_messages_state", "inbound_messages", ["state"])


def downgrade() -> None:
    op.drop_table("inbound_messages")
    op.drop_index("ix_notice_outbox_message_id", "notice_outbox")
    for column in ("delivered_at", "delivery_state", "priority"):
        op.drop_column("notice_outbox", column)
    for column in ("code_attempts", "code_expires_at"):
        op.drop_column("registered_numbers", column)
