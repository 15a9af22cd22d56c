"""Registering a callback number by SMS: a code to that number, hashed, short-lived, with few tries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest_twisted
import sqlalchemy as sa

from roamback.core.model import Subscriber
from roamback.storage.provisioning import upsert_subscriber
from roamback.storage.registrations import (
    AlreadyRegistered,
    CodeIssued,
    CodePending,
    Confirmed,
    NoValidCode,
    WrongCode,
    confirm_code,
    set_language,
    start_registration,
    unregister,
)
from roamback.storage.schema import registered_numbers, subscribers

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
ALICE = "+33612345678"
HOTEL = "+34911234567"
TTL = timedelta(minutes=10)


def _other(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


@pytest_twisted.ensureDeferred
async def test_code_round_trip_stores_only_a_hash_and_confirms_once(database):
    issued = await database.write(lambda c: start_registration(c, ALICE, HOTEL, T0, T0 + TTL))
    assert isinstance(issued, CodeIssued) and len(issued.code) == 6
    [row] = await database.read(lambda c: list(c.execute(sa.select(registered_numbers))))
    assert issued.code not in row.code_hash and not row.confirmed
    again = await database.write(lambda c: start_registration(c, ALICE, HOTEL, T0 + timedelta(minutes=1), T0 + TTL))
    assert isinstance(again, CodePending)  # no second SMS to the same number while one is valid
    wrong = await database.write(lambda c: confirm_code(c, ALICE, _other(issued.code), T0, 3))
    assert wrong == WrongCode(2)
    right = await database.write(lambda c: confirm_code(c, ALICE, issued.code, T0, 3))
    assert right == Confirmed(HOTEL)
    assert await database.write(lambda c: confirm_code(c, ALICE, issued.code, T0, 3)) == NoValidCode()
    assert isinstance(await database.write(lambda c: start_registration(c, ALICE, HOTEL, T0, T0 + TTL)),
                      AlreadyRegistered)
    assert await database.write(lambda c: unregister(c, ALICE, HOTEL))
    assert not await database.write(lambda c: unregister(c, ALICE, HOTEL))


@pytest_twisted.ensureDeferred
async def test_codes_expire_and_are_withdrawn_after_the_attempts_limit(sqlite_database):
    db = sqlite_database
    issued = await db.write(lambda c: start_registration(c, ALICE, HOTEL, T0, T0 + TTL))
    late = T0 + TTL + timedelta(seconds=1)
    assert await db.write(lambda c: confirm_code(c, ALICE, issued.code, late, 3)) == NoValidCode()
    fresh = await db.write(lambda c: start_registration(c, ALICE, HOTEL, late, late + TTL))
    assert isinstance(fresh, CodeIssued)
    bad = _other(fresh.code)
    results = [await db.write(lambda c: confirm_code(c, ALICE, bad, late, 3)) for _ in range(3)]
    assert results == [WrongCode(2), WrongCode(1), NoValidCode()]
    assert await db.write(lambda c: confirm_code(c, ALICE, fresh.code, late, 3)) == NoValidCode()


@pytest_twisted.ensureDeferred
async def test_set_language_changes_only_known_subscribers(sqlite_database):
    db = sqlite_database
    await db.write(lambda c: upsert_subscriber(c, Subscriber(ALICE, "FR"), T0))
    assert await db.write(lambda c: set_language(c, ALICE, "fr"))
    assert not await db.write(lambda c: set_language(c, HOTEL, "fr"))
    [row] = await db.read(lambda c: list(c.execute(sa.select(subscribers.c.language))))
    assert row.language == "fr"
