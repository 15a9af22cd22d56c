"""The switch triggers' ``TriggerAccounts`` on the service's own tables, and the helpers that fill them.

Why SQL: remembered caller IDs and PIN failures must outlive the process, or a restart would forget
every phone a subscriber logged in from and hand a PIN prober a fresh set of attempts.

PIN lockout: ``MAX_PIN_FAILURES`` wrong PINs in a row, on any number of calls, lock PIN login to the
account for ``PIN_LOCKOUT``; the count then starts again from zero, and a right PIN also resets it. That
caps a prober at 5 guesses per 15 minutes (480 a day, each on a call they pay for), so guessing a
four-digit PIN takes about ten days on average instead of hours. The price is that anyone who knows a
subscriber's number can keep their PIN login locked; the subscriber's own phone and remembered phones
never need the PIN, so they can still make requests. Only accounts with a PIN count failures: keying an
unknown number changes nothing, so the lockout does not tell who is a subscriber.

Each helper takes a Connection, like ``provisioning``: the service runs them through ``Database``, the
admin commands in their own transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..gateway.switch_triggers import PersonalDid
from .pool import Database
from .rows import from_db, to_db
from .schema import personal_dids, subscribers, trigger_callers

MAX_PIN_FAILURES = 5
PIN_LOCKOUT = timedelta(minutes=15)


def caller_of(conn: Connection, caller_id: str) -> str | None:
    """The active subscriber ``caller_id`` stands for: their own MSISDN, or one remembered for it."""
    own = sa.select(subscribers.c.msisdn).where(subscribers.c.msisdn == caller_id,
                                                subscribers.c.active == sa.true())
    if conn.execute(own).first() is not None:
        return caller_id
    remembered = sa.select(trigger_callers.c.msisdn).join(
        subscribers, subscribers.c.msisdn == trigger_callers.c.msisdn,
    ).where(trigger_callers.c.caller_id == caller_id, subscribers.c.active == sa.true())
    return conn.execute(remembered).scalar()


def remember_caller(conn: Connection, caller_id: str, msisdn: str, at: datetime) -> None:
    """Recognise ``caller_id`` as ``msisdn`` from now on; a later login from that phone replaces it."""
    key = trigger_callers.c.caller_id == caller_id
    if conn.execute(sa.select(trigger_callers.c.caller_id).where(key)).first() is None:
        conn.execute(trigger_callers.insert().values(caller_id=caller_id, msisdn=msisdn, remembered_at=to_db(at)))
    else:
        conn.execute(trigger_callers.update().where(key).values(msisdn=msisdn, remembered_at=to_db(at)))


def default_destination(conn: Connection, msisdn: str) -> str | None:
    query = sa.select(subscribers.c.default_destination).where(subscribers.c.msisdn == msisdn)
    return conn.execute(query).scalar()


def set_default_destination(conn: Connection, msisdn: str, number: str | None) -> bool:
    """Set (or with None clear) where a missed call connects ``msisdn``; False if there is no such subscriber."""
    statement = subscribers.update().where(subscribers.c.msisdn == msisdn).values(default_destination=number)
    return conn.execute(statement).rowcount > 0


def pin_hash(conn: Connection, msisdn: str) -> str | None:
    return conn.execute(sa.select(subscribers.c.pin_hash).where(subscribers.c.msisdn == msisdn)).scalar()


def pin_locked(conn: Connection, msisdn: str, at: datetime) -> bool:
    query = sa.select(subscribers.c.pin_locked_until).where(subscribers.c.msisdn == msisdn)
    until = from_db(conn.execute(query).scalar())
    return until is not None and until > at


def record_pin_failure(conn: Connection, msisdn: str, at: datetime, *, max_failures: int = MAX_PIN_FAILURES,
                       lockout: timedelta = PIN_LOCKOUT) -> datetime | None:
    """Count a wrong PIN; when it is the ``max_failures``-th in a row, lock and return the lock's end.

    The increment happens in SQL, so failures on concurrent calls all count.
    """
    key = subscribers.c.msisdn == msisdn
    conn.execute(subscribers.update().where(key).values(pin_failures=subscribers.c.pin_failures + 1))
    failures = conn.execute(sa.select(subscribers.c.pin_failures).where(key)).scalar()
    if failures is None or failures < max_failures:
        return None
    until = at + lockout
    conn.execute(subscribers.update().where(key).values(pin_failures=0, pin_locked_until=to_db(until)))
    return until


def record_pin_success(conn: Connection, msisdn: str) -> None:
    conn.execute(subscribers.update().where(subscribers.c.msisdn == msisdn)
                 .values(pin_failures=0, pin_locked_until=None))


def personal_did(conn: Connection, did: str) -> PersonalDid | None:
    row = conn.execute(sa.select(personal_dids).where(personal_dids.c.did == did)).mappings().first()
    return None if row is None else _did_from_row(row)


def list_personal_dids(conn: Connection) -> list[PersonalDid]:
    rows = conn.execute(sa.select(personal_dids).order_by(personal_dids.c.did)).mappings().all()
    return [_did_from_row(row) for row in rows]


def save_personal_did(conn: Connection, did: PersonalDid, at: datetime) -> None:
    """Insert or replace ``did``; ``at`` is only used as created_at of a new row."""
    values = {"msisdn": did.subscriber, "callback_number": did.callback_number, "destination": did.destination}
    key = personal_dids.c.did == did.did
    if conn.execute(sa.select(personal_dids.c.did).where(key)).first() is None:
        conn.execute(personal_dids.insert().values(did=did.did, created_at=to_db(at), **values))
    else:
        conn.execute(personal_dids.update().where(key).values(values))


def remove_personal_did(conn: Connection, did: str) -> bool:
    return conn.execute(personal_dids.delete().where(personal_dids.c.did == did)).rowcount > 0


def _did_from_row(row: sa.RowMapping) -> PersonalDid:
    return PersonalDid(did=row["did"], subscriber=row["msisdn"], callback_number=row["callback_number"],
                       destination=row["destination"])


def _wall_clock() -> datetime:
    return datetime.now(UTC)


class SqlTriggerAccounts:
    """``TriggerAccounts`` on the ``subscribers``, ``trigger_callers`` and ``personal_dids`` tables.

    ``clock`` should be the runtime's ``now`` so a fake clock also moves lockouts; the wall clock is the
    default for tools without a runtime, as in ``SqlRequestStore``. ``dids`` are the configured ones
    (``TriggerSettings.personal_dids``): they answer before the table, so a configuration that lists DIDs
    keeps working when the service moves to SQL accounts.
    """

    def __init__(self, db: Database, *, clock: Callable[[], datetime] = _wall_clock,
                 dids: Iterable[PersonalDid] = (), max_pin_failures: int = MAX_PIN_FAILURES,
                 pin_lockout: timedelta = PIN_LOCKOUT) -> None:
        self._db = db
        self._clock = clock
        self._dids = {entry.did: entry for entry in dids}
        self._max_failures = max_pin_failures
        self._lockout = pin_lockout

    async def caller(self, caller_id: str) -> str | None:
        return await self._db.read(lambda conn: caller_of(conn, caller_id))

    async def remember_caller(self, caller_id: str, msisdn: str) -> None:
        at = self._clock()
        await self._db.write(lambda conn: remember_caller(conn, caller_id, msisdn, at))

    async def default_destination(self, msisdn: str) -> str | None:
        return await self._db.read(lambda conn: default_destination(conn, msisdn))

    async def personal_did(self, dialled: str) -> PersonalDid | None:
        configured = self._dids.get(dialled)
        return configured or await self._db.read(lambda conn: personal_did(conn, dialled))

    async def pin_hash(self, msisdn: str) -> str | None:
        return await self._db.read(lambda conn: pin_hash(conn, msisdn))

    async def pin_locked(self, msisdn: str) -> bool:
        at = self._clock()
        return await self._db.read(lambda conn: pin_locked(conn, msisdn, at))

    async def pin_failed(self, msisdn: str) -> datetime | None:
        at = self._clock()
        return await self._db.write(lambda conn: record_pin_failure(
            conn, msisdn, at, max_failures=self._max_failures, lockout=self._lockout))

    async def pin_succeeded(self, msisdn: str) -> None:
        await self._db.write(lambda conn: record_pin_success(conn, msisdn))
