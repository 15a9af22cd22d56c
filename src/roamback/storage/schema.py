"""The relational schema, written once for SQLite, PostgreSQL, MariaDB and Oracle 19c.

Portability rules kept here so no caller has to know them: every string has a length (Oracle, MariaDB
indexes), identifiers stay within 30 characters (older Oracle; names the naming convention would make
longer are given explicitly), timestamps are TIMESTAMP WITH TIME ZONE (``DateTime(timezone=True)`` would
become DATE on Oracle), except on MariaDB (below), surrogate keys use ``Identity()`` so Oracle gets an
identity column, and nothing relies on a unique index over a nullable column (Oracle compares
partially-null keys). Booleans need nothing special: SQLAlchemy emits SMALLINT on Oracle before 23ai
once the dialect has seen the server version.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only auto-numbers a column declared exactly INTEGER PRIMARY KEY.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# MariaDB's TIMESTAMP converts through the session time zone, ends in 2038 and keeps whole seconds; the
# storage layer binds UTC, so DATETIME(6) holds exactly that, with microseconds like the other backends.
Timestamp = sa.TIMESTAMP(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
Msisdn = sa.String(16)  # E.164 with '+': at most 15 digits
Money = sa.BigInteger  # minor units (cents), never floats
Bool = sa.Boolean(create_constraint=False)


def _id() -> sa.Column:
    return sa.Column("id", BigId, sa.Identity(), primary_key=True)


subscribers = sa.Table(
    "subscribers",
    metadata,
    sa.Column("msisdn", Msisdn, primary_key=True),
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
    # Switch triggers (revision 0003): leg B of a missed call, and the PIN lockout that spans calls.
    sa.Column("default_destination", Msisdn),
    sa.Column("pin_failures", sa.Integer, nullable=False, server_default="0"),  # in a row, since the last lock
    sa.Column("pin_locked_until", Timestamp),
)

# Caller IDs recognised as a subscriber after a PIN login from them (``storage.trigger_accounts``).
trigger_callers = sa.Table(
    "trigger_callers",
    metadata,
    sa.Column("caller_id", Msisdn, primary_key=True),
    sa.Column("msisdn", Msisdn, nullable=False),
    sa.Column("remembered_at", Timestamp, nullable=False),
)

# Numbers that belong to one subscriber: a missed call to one, from any phone, is the owner's request.
personal_dids = sa.Table(
    "personal_dids",
    metadata,
    sa.Column("did", Msisdn, primary_key=True),
    sa.Column("msisdn", Msisdn, nullable=False),
    sa.Column("callback_number", Msisdn),  # leg A; NULL: the owner's own MSISDN
    sa.Column("destination", Msisdn),  # leg B; NULL: the owner's default destination
    sa.Column("created_at", Timestamp, nullable=False),
)

registered_numbers = sa.Table(
    "registered_numbers",
    metadata,
    _id(),
    sa.Column("msisdn", Msisdn, nullable=False),
    sa.Column("phone", Msisdn, nullable=False),
    sa.Column("confirmed", Bool, nullable=False, server_default=sa.false()),
    sa.Column("code_hash", sa.String(200)),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("confirmed_at", Timestamp),
    sa.Column("code_expires_at", Timestamp),
    sa.Column("code_attempts", sa.Integer, nullable=False, server_default="0"),
    sa.UniqueConstraint("msisdn", "phone", name="uq_registered_msisdn_phone"),
)

phonebook_entries = sa.Table(
    "phonebook_entries",
    metadata,
    _id(),
    sa.Column("msisdn", Msisdn, nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("name", sa.String(40), nullable=False),
    sa.Column("phone", Msisdn, nullable=False),
    sa.UniqueConstraint("msisdn", "position", name="uq_phonebook_msisdn_position"),
)

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("postpaid", Bool, nullable=False, server_default=sa.false()),
    sa.Column("balance_minor", Money, nullable=False, server_default="0"),
    sa.Column("reserved_minor", Money, nullable=False, server_default="0"),
    sa.Column("credit_limit_minor", Money, nullable=False, server_default="0"),
    sa.Column("updated_at", Timestamp, nullable=False),
)

ledger_entries = sa.Table(
    "ledger_entries",
    metadata,
    _id(),
    sa.Column("account_id", sa.String(36), nullable=False, index=True),
    sa.Column("at", Timestamp, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # topup | charge | adjust
    sa.Column("amount_minor", Money, nullable=False),
    sa.Column("balance_after_minor", Money, nullable=False),
    sa.Column("request_id", sa.String(36)),
    sa.Column("note", sa.String(200)),
)

reservations = sa.Table(
    "reservations",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("account_id", sa.String(36), nullable=False, index=True),
    sa.Column("request_id", sa.String(36), nullable=False),
    sa.Column("amount_minor", Money, nullable=False),
    sa.Column("state", sa.String(10), nullable=False),  # open | settled
    sa.Column("rating", sa.Text, nullable=False),  # JSON snapshot of both legs' rates
    sa.Column("cost_minor", Money),
    sa.Column("billed_a", sa.Integer),
    sa.Column("billed_b", sa.Integer),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("settled_at", Timestamp),
)

rates = sa.Table(
    "rates",
    metadata,
    _id(),
    sa.Column("leg", sa.String(1), nullable=False),  # A | B
    sa.Column("prefix", sa.String(16), nullable=False),  # E.164 digits without '+'
    sa.Column("description", sa.String(80)),
    sa.Column("per_minute_minor", sa.Numeric(14, 4), nullable=False),
    sa.Column("connect_fee_minor", Money, nullable=False, server_default="0"),
    sa.Column("initial_seconds", sa.Integer, nullable=False, server_default="60"),
    sa.Column("increment_seconds", sa.Integer, nullable=False, server_default="60"),
    sa.UniqueConstraint("leg", "prefix"),
)

blocked_prefixes = sa.Table(
    "blocked_prefixes",
    metadata,
    sa.Column("prefix", sa.String(16), primary_key=True),
    sa.Column("reason", sa.String(100)),
    sa.Column("created_at", Timestamp, nullable=False),
)

callback_requests = sa.Table(
    "callback_requests",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
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
    sa.Index("ix_cbreq_requester_created", "requester", "created_at"),
    sa.Index(None, "state"),
    sa.Index("ix_cbreq_channel_reference", "channel", "reference"),
)

request_events = sa.Table(
    "request_events",
    metadata,
    _id(),
    sa.Column("request_id", sa.String(36), nullable=False, index=True),
    sa.Column("at", Timestamp, nullable=False),
    sa.Column("source", sa.String(16)),
    sa.Column("target", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(40)),
    sa.Column("detail", sa.String(400)),
)

active_callbacks = sa.Table(
    "active_callbacks",
    metadata,
    sa.Column("msisdn", Msisdn, primary_key=True),
    sa.Column("request_id", sa.String(36), nullable=False),
    sa.Column("since", Timestamp, nullable=False),
)

call_legs = sa.Table(
    "call_legs",
    metadata,
    _id(),
    sa.Column("request_id", sa.String(36), nullable=False, index=True),
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
    sa.UniqueConstraint("call_id", "leg"),
    sa.Index(None, "started_at"),
)

notice_outbox = sa.Table(
    "notice_outbox",
    metadata,
    _id(),
    sa.Column("request_id", sa.String(36)),
    sa.Column("msisdn", Msisdn, nullable=False),
    sa.Column("language", sa.String(8), nullable=False),
    sa.Column("msg_key", sa.String(60), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("state", sa.String(10), nullable=False),  # queued | sent | delivered | failed
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", Timestamp, nullable=False),
    sa.Column("message_id", sa.String(64)),
    sa.Column("last_error", sa.String(200)),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("sent_at", Timestamp),
    sa.Column("priority", sa.SmallInteger, nullable=False, server_default="5"),  # lower goes first
    sa.Column("delivery_state", sa.String(10)),  # the network's last word: DELIVRD, UNDELIV, EXPIRED...
    sa.Column("delivered_at", Timestamp),
    sa.Index("ix_notice_outbox_state_due", "state", "next_attempt_at"),
    sa.Index(None, "message_id"),
)

# Mobile-originated messages, stored before the SMSC is told they arrived (deliver_sm_resp). ``digest``
# identifies a resend of the same message (the SMSC never saw our answer) so it is acknowledged again
# without being run twice; it is not unique on its own because a subscriber may send "BAL" twice.
inbound_messages = sa.Table(
    "inbound_messages",
    metadata,
    _id(),
    sa.Column("link", sa.String(32), nullable=False),
    sa.Column("source", sa.String(32), nullable=False),  # as the SMSC sent it, not yet E.164
    sa.Column("destination", sa.String(32), nullable=False),
    sa.Column("body", sa.Text, nullable=False),  # decoded, and reassembled when it came in parts
    sa.Column("data_coding", sa.SmallInteger, nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("network_id", sa.String(64)),  # an SMSC's own id for the message, when it sends one
    sa.Column("received_at", Timestamp, nullable=False),
    sa.Column("state", sa.String(10), nullable=False),  # queued | handled | failed
    sa.Column("handled_at", Timestamp),
    sa.Column("error", sa.String(200)),
    sa.Index("ix_inbound_source_digest", "source", "digest", "received_at"),
    sa.Index(None, "state"),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    _id(),
    sa.Column("at", Timestamp, nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("subject", sa.String(64)),
    sa.Column("detail", sa.String(400)),
)
