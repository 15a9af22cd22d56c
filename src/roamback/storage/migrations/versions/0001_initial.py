"""Initial schema.

A frozen copy of storage/schema.py as of this revision: a migration must keep producing the same tables
after schema.py moves on, so it never imports the live metadata. Constraint and index names are spelled
out because op.create_table does not apply the metadata's naming convention.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.TIMESTAMP(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
Msisdn = sa.String(16)
Money = sa.BigInteger()
Bool = sa.Boolean(create_constraint=False)

TABLES = (
    "subscribers", "registered_numbers", "phonebook_entries", "accounts", "ledger_entries", "reservations",
    "rates", "blocked_prefixes", "callback_requests", "request_events", "active_callbacks", "call_legs",
    "notice_outbox", "audit_log",
)  # fmt: skip


def _id() -> sa.Column:
    return sa.Column("id", BigId, sa.Identity(), nullable=False)


def _pk(table: str, *columns: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint(*(columns or ("id",)), name=f"pk_{table}")


def upgrade() -> None:
    _reference_data()
    _ledger()
    _requests()
    _outbox_and_audit()


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)


def _reference_data() -> None:
    op.create_table(
        "subscribers",
        sa.Column("msisdn", Msisdn, nullable=False),
        sa.Column("home_region", sa.String(2), nullable=False),
        sa.Column("language", sa.String(8), nullable=False, server_default="en"),
        sa.Column("active", Bool, nullable=False, server_default=sa.true()),
        sa.Column("roaming", Bool, nullable=False, server_default=sa.false()),
        sa.Column("visited_region", sa.String(2)),
        sa.Column("service_allowed", Bool, nullable=False, server_default=sa.true()),
        sa.Column("account_id", sa.String(36)),
        sa.Column("imsi", sa.String(15)),
        sa.Column("pin_hash", sa.String(200)),
        sa.Column("created_at", Timestamp, nullable=False),
        _pk("subscribers", "msisdn"),
    )
    op.create_table(
        "registered_numbers",
        _id(),
        sa.Column("msisdn", Msisdn, nullable=False),
        sa.Column("phone", Msisdn, nullable=False),
        sa.Column("confirmed", Bool, nullable=False, server_default=sa.false()),
        sa.Column("code_hash", sa.String(200)),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("confirmed_at", Timestamp),
        _pk("registered_numbers"),
        sa.UniqueConstraint("msisdn", "phone", name="uq_registered_msisdn_phone"),
    )
    op.create_table(
        "phonebook_entries",
        _id(),
        sa.Column("msisdn", Msisdn, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("phone", Msisdn, nullable=False),
        _pk("phonebook_entries"),
        sa.UniqueConstraint("msisdn", "position", name="uq_phonebook_msisdn_position"),
    )
    op.create_table(
        "rates",
        _id(),
        sa.Column("leg", sa.String(1), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("description", sa.String(80)),
        sa.Column("per_minute_minor", sa.Numeric(14, 4), nullable=False),
        sa.Column("connect_fee_minor", Money, nullable=False, server_default="0"),
        sa.Column("initial_seconds", sa.Integer, nullable=False, server_default="60"),
        sa.Column("increment_seconds", sa.Integer, nullable=False, server_default="60"),
        _pk("rates"),
        sa.UniqueConstraint("leg", "prefix", name="uq_rates_leg_prefix"),
    )
    op.create_table(
        "blocked_prefixes",
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(100)),
        sa.Column("created_at", Timestamp, nullable=False),
        _pk("blocked_prefixes", "prefix"),
    )


def _ledger() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("postpaid", Bool, nullable=False, server_default=sa.false()),
        sa.Column("balance_minor", Money, nullable=False, server_default="0"),
        sa.Column("reserved_minor", Money, nullable=False, server_default="0"),
        sa.Column("credit_limit_minor", Money, nullable=False, server_default="0"),
        sa.Column("updated_at", Timestamp, nullable=False),
        _pk("accounts"),
    )
    op.create_table(
        "ledger_entries",
        _id(),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("at", Timestamp, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("amount_minor", Money, nullable=False),
        sa.Column("balance_after_minor", Money, nullable=False),
        sa.Column("request_id", sa.String(36)),
        sa.Column("note", sa.String(200)),
        _pk("ledger_entries"),
    )
    op.create_index("ix_ledger_entries_account_id", "ledger_entries", ["account_id"])
    op.create_table(
        "reservations",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("amount_minor", Money, nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("rating", sa.Text, nullable=False),
        sa.Column("cost_minor", Money),
        sa.Column("billed_a", sa.Integer),
        sa.Column("billed_b", sa.Integer),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("settled_at", Timestamp),
        _pk("reservations"),
    )
    op.create_index("ix_reservations_account_id", "reservations", ["account_id"])


def _requests() -> None:
    op.create_table(
        "callback_requests",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("requester", sa.String(32), nullable=False),
        sa.Column("destination_raw", sa.String(64), nullable=False),
        sa.Column("callback_raw", sa.String(64)),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(40)),
        sa.Column("detail", sa.String(400)),
        sa.Column("destination", Msisdn),
        sa.Column("callback_number", Msisdn),
        sa.Column("account_id", sa.String(36)),
        sa.Column("reservation_id", sa.String(64)),
        sa.Column("max_talk_seconds", sa.Integer),
        sa.Column("leg_a_limit", sa.Integer),
        sa.Column("leg_b_limit", sa.Integer),
        sa.Column("call_id", sa.String(64)),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("reference", sa.String(100)),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        _pk("callback_requests"),
    )
    op.create_index("ix_cbreq_requester_created", "callback_requests", ["requester", "created_at"])
    op.create_index("ix_callback_requests_state", "callback_requests", ["state"])
    op.create_index("ix_cbreq_channel_reference", "callback_requests", ["channel", "reference"])
    op.create_table(
        "request_events",
        _id(),
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("at", Timestamp, nullable=False),
        sa.Column("source", sa.String(16)),
        sa.Column("target", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(40)),
        sa.Column("detail", sa.String(400)),
        _pk("request_events"),
    )
    op.create_index("ix_request_events_request_id", "request_events", ["request_id"])
    op.create_table(
        "active_callbacks",
        sa.Column("msisdn", Msisdn, nullable=False),
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("since", Timestamp, nullable=False),
        _pk("active_callbacks", "msisdn"),
    )
    op.create_table(
        "call_legs",
        _id(),
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("leg", sa.String(1), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("dialled", Msisdn, nullable=False),
        sa.Column("caller_id", sa.String(32), nullable=False),
        sa.Column("started_at", Timestamp, nullable=False),
        sa.Column("answered_at", Timestamp),
        sa.Column("bridged_at", Timestamp),
        sa.Column("ended_at", Timestamp),
        sa.Column("cause", sa.String(20)),
        sa.Column("billed_seconds", sa.Integer, nullable=False, server_default="0"),
        sa.Column("cost_minor", Money, nullable=False, server_default="0"),
        _pk("call_legs"),
        sa.UniqueConstraint("call_id", "leg", name="uq_call_legs_call_id_leg"),
    )
    op.create_index("ix_call_legs_request_id", "call_legs", ["request_id"])
    op.create_index("ix_call_legs_started_at", "call_legs", ["started_at"])


def _outbox_and_audit() -> None:
    op.create_table(
        "notice_outbox",
        _id(),
        sa.Column("request_id", sa.String(36)),
        sa.Column("msisdn", Msisdn, nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("msg_key", sa.String(60), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", Timestamp, nullable=False),
        sa.Column("message_id", sa.String(64)),
        sa.Column("last_error", sa.String(200)),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("sent_at", Timestamp),
        _pk("notice_outbox"),
    )
    op.create_index("ix_notice_outbox_state_due", "notice_outbox", ["state", "next_attempt_at"])
    op.create_table(
        "audit_log",
        _id(),
        sa.Column("at", Timestamp, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(64)),
        sa.Column("detail", sa.String(400)),
        _pk("audit_log"),
    )
