"""Provisioning of reference data (subscribers, callback numbers, phonebooks, blocked prefixes).

Each helper takes a Connection so one function serves every caller: the service and tests pass it to
``await db.write(...)``, the CLI and the demo to ``db.write_blocking(...)`` or ``engine.begin()``.
Accounts and rates belong to the ledger's helpers.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..core.model import Subscriber
from .rows import subscriber_values, to_db
from .schema import blocked_prefixes, phonebook_entries, registered_numbers, subscribers


def upsert_subscriber(conn: Connection, subscriber: Subscriber, at: datetime) -> None:
    """Insert or replace what the directory knows; ``at`` is only used as created_at of a new row."""
    values = subscriber_values(subscriber)
    exists = conn.execute(
        sa.select(subscribers.c.msisdn).where(subscribers.c.msisdn == subscriber.msisdn)
    ).first()
    if exists is None:
        conn.execute(subscribers.insert().values({**values, "created_at": to_db(at)}))
    else:
        conn.execute(subscribers.update().where(subscribers.c.msisdn == subscriber.msisdn).values(values))


def register_number(
    conn: Connection,
    msisdn: str,
    number: str,
    at: datetime,
    *,
    confirmed: bool = True,
    code_hash: str | None = None,
) -> None:
    """Register (or re-register) a callback number: confirmed outright, or pending a code."""
    values = {
        "confirmed": confirmed,
        "code_hash": code_hash,
        "confirmed_at": to_db(at) if confirmed else None,
    }
    key = sa.and_(registered_numbers.c.msisdn == msisdn, registered_numbers.c.phone == number)
    if conn.execute(sa.select(registered_numbers.c.id).where(key)).first() is None:
        conn.execute(
            registered_numbers.insert().values(
                {**values, "msisdn": msisdn, "phone": number, "created_at": to_db(at)}
            )
        )
    else:
        conn.execute(registered_numbers.update().where(key).values(values))


def add_phonebook_entry(conn: Connection, msisdn: str, position: int, name: str, number: str) -> None:
    """Set speed-dial ``position``; an existing entry at that position is replaced."""
    key = sa.and_(phonebook_entries.c.msisdn == msisdn, phonebook_entries.c.position == position)
    conn.execute(phonebook_entries.delete().where(key))
    conn.execute(
        phonebook_entries.insert().values(msisdn=msisdn, position=position, name=name, phone=number)
    )


def block_prefix(conn: Connection, prefix: str, reason: str | None, at: datetime) -> None:
    """Store a prefix as the table expects it (digits, no '+'); blocking it again updates the reason."""
    digits = prefix.removeprefix("+")
    if not digits.isdigit():
        raise ValueError(f"blocked prefix must be digits with an optional leading '+': {prefix!r}")
    key = blocked_prefixes.c.prefix == digits
    if conn.execute(sa.select(blocked_prefixes.c.prefix).where(key)).first() is None:
        conn.execute(blocked_prefixes.insert().values(prefix=digits, reason=reason, created_at=to_db(at)))
    else:
        conn.execute(blocked_prefixes.update().where(key).values(reason=reason))
