"""Callback numbers a subscriber registers by SMS, proven with a code sent to that number.

Why a code: the core calls leg A only on the requester's own or registered numbers, so registering a
number must prove its holder agrees, or REG would be a way to have the service ring strangers. The code
goes by SMS to the number being registered and comes back from the requester as ``CODE <digits>``.

Only a salted hash is stored. A six-digit code cannot resist an offline search of its hash, so its real
protection is its short life and the attempts limit, both enforced here; the hash keeps live codes out
of database dumps and reports. Each function takes a Connection, like ``provisioning``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .rows import from_db, to_db
from .schema import registered_numbers, subscribers

CODE_DIGITS = 6


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def hash_code(code: str, salt: str | None = None) -> str:
    salt = salt or secrets.token_hex(8)
    return f"{salt}${hashlib.sha256(f'{salt}:{code}'.encode()).hexdigest()}"


def code_matches(code: str, stored: str) -> bool:
    salt, _, _ = stored.partition("$")
    return hmac.compare_digest(hash_code(code, salt), stored)


@dataclass(frozen=True, slots=True)
class CodeIssued:
    """A fresh code was stored: send ``code`` to the number."""

    code: str


@dataclass(frozen=True, slots=True)
class CodePending:
    """A code sent earlier is still valid: no new SMS, so REG cannot be used to flood a number."""

    expires_at: datetime


@dataclass(frozen=True, slots=True)
class AlreadyRegistered:
    pass


Registration = CodeIssued | CodePending | AlreadyRegistered


def start_registration(conn: Connection, msisdn: str, number: str, at: datetime, expires_at: datetime
                       ) -> Registration:
    """Issue a code for ``number`` unless it is confirmed already or a valid code is outstanding."""
    key = sa.and_(registered_numbers.c.msisdn == msisdn, registered_numbers.c.phone == number)
    row = conn.execute(sa.select(registered_numbers).where(key)).mappings().first()
    if row is not None and row["confirmed"]:
        return AlreadyRegistered()
    pending_until = from_db(row["code_expires_at"]) if row is not None else None
    if row is not None and row["code_hash"] and pending_until is not None and pending_until > at:
        return CodePending(pending_until)
    code = new_code()
    values = {"confirmed": False, "code_hash": hash_code(code), "code_expires_at": to_db(expires_at),
              "code_attempts": 0, "confirmed_at": None}
    if row is None:
        conn.execute(registered_numbers.insert().values(msisdn=msisdn, phone=number, created_at=to_db(at),
                                                        **values))
    else:
        conn.execute(registered_numbers.update().where(key).values(values))
    return CodeIssued(code)


@dataclass(frozen=True, slots=True)
class Confirmed:
    number: str


@dataclass(frozen=True, slots=True)
class WrongCode:
    attempts_left: int


@dataclass(frozen=True, slots=True)
class NoValidCode:
    """Nothing pending, expired, or the attempts were used up (the code is then withdrawn)."""


Confirmation = Confirmed | WrongCode | NoValidCode


def confirm_code(conn: Connection, msisdn: str, code: str, at: datetime, max_attempts: int) -> Confirmation:
    """Check ``code`` against the subscriber's pending registrations, the most recent first.

    The requester does not say which number the code is for, so it may match any pending one; a miss
    counts against every pending registration, so trying codes across several numbers gains nothing.
    """
    pending = conn.execute(
        sa.select(registered_numbers).where(
            registered_numbers.c.msisdn == msisdn, registered_numbers.c.confirmed == sa.false(),
            registered_numbers.c.code_hash.is_not(None), registered_numbers.c.code_expires_at > to_db(at),
            registered_numbers.c.code_attempts < max_attempts,
        ).order_by(registered_numbers.c.id.desc())
    ).mappings().all()
    if not pending:
        return NoValidCode()
    for row in pending:
        if code_matches(code, row["code_hash"]):
            conn.execute(registered_numbers.update().where(registered_numbers.c.id == row["id"]).values(
                confirmed=True, confirmed_at=to_db(at), code_hash=None, code_expires_at=None))
            return Confirmed(row["phone"])
    ids = [row["id"] for row in pending]
    conn.execute(registered_numbers.update().where(registered_numbers.c.id.in_(ids))
                 .values(code_attempts=registered_numbers.c.code_attempts + 1))
    left = max_attempts - 1 - max(row["code_attempts"] for row in pending)
    if left <= 0:
        conn.execute(registered_numbers.update().where(registered_numbers.c.id.in_(ids))
                     .values(code_hash=None, code_expires_at=None))
        return NoValidCode()
    return WrongCode(left)


def unregister(conn: Connection, msisdn: str, number: str) -> bool:
    """Remove a registration, confirmed or pending; False if there was none."""
    key = sa.and_(registered_numbers.c.msisdn == msisdn, registered_numbers.c.phone == number)
    return conn.execute(registered_numbers.delete().where(key)).rowcount > 0


def set_language(conn: Connection, msisdn: str, language: str) -> bool:
    """The subscriber's language for every later text; False when the service's table does not hold
    the subscriber (an operator's own directory keeps languages itself)."""
    statement = subscribers.update().where(subscribers.c.msisdn == msisdn).values(language=language)
    return conn.execute(statement).rowcount > 0
