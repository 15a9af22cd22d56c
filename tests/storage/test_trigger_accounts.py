"""The SQL ``TriggerAccounts``: who a caller ID stands for, destinations, DIDs, and a PIN lockout that spans
calls, on every backend."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest_twisted
import sqlalchemy as sa

from roamback.core.model import Subscriber
from roamback.gateway.switch_triggers import PersonalDid
from roamback.storage.provisioning import upsert_subscriber
from roamback.storage.schema import subscribers
from roamback.storage.trigger_accounts import (
    MAX_PIN_FAILURES,
    PIN_LOCKOUT,
    SqlTriggerAccounts,
    list_personal_dids,
    remove_personal_did,
    save_personal_did,
    set_default_destination,
)

T0 = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
ALICE, BOB = "+33612345678", "+33687654321"
HOTEL, OFFICE = "+34911234567", "+33140000077"
DID = "+33140000009"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


async def _provision(db, *subscribers_: Subscriber) -> None:
    def work(conn: sa.Connection) -> None:
        for subscriber in subscribers_:
            upsert_subscriber(conn, subscriber, at=T0)

    await db.write(work)


def _subscriber(msisdn: str, **changes: object) -> Subscriber:
    return replace(Subscriber(msisdn=msisdn, home_region="FR"), **changes)


@pytest_twisted.ensureDeferred
async def test_a_caller_is_an_active_subscriber_or_a_phone_remembered_for_one(database) -> None:
    await _provision(database, _subscriber(ALICE), _subscriber(BOB, active=False))
    accounts = SqlTriggerAccounts(database, clock=Clock())

    assert await accounts.caller(ALICE) == ALICE
    assert await accounts.caller(BOB) is None, "a blocked subscriber stands for nobody"
    assert await accounts.caller(HOTEL) is None
    await accounts.remember_caller(HOTEL, ALICE)
    assert await accounts.caller(HOTEL) == ALICE
    await accounts.remember_caller(HOTEL, BOB)  # a later login from the same phone replaces the first
    assert await accounts.caller(HOTEL) is None, "nor does a phone remembered for a blocked subscriber"
    await database.write(lambda conn: upsert_subscriber(conn, _subscriber(BOB), at=T0))
    assert await accounts.caller(HOTEL) == BOB


@pytest_twisted.ensureDeferred
async def test_default_destination_is_set_and_cleared_for_known_subscribers_only(database) -> None:
    await _provision(database, _subscriber(ALICE))
    accounts = SqlTriggerAccounts(database)

    assert await accounts.default_destination(ALICE) is None
    assert await database.write(lambda conn: set_default_destination(conn, ALICE, OFFICE))
    assert await database.write(lambda conn: set_default_destination(conn, ALICE, OFFICE)), "unchanged still counts"
    assert await accounts.default_destination(ALICE) == OFFICE
    await database.write(lambda conn: upsert_subscriber(conn, _subscriber(ALICE, language="fr"), at=T0))
    assert await accounts.default_destination(ALICE) == OFFICE, "re-provisioning keeps the destination"
    assert await database.write(lambda conn: set_default_destination(conn, ALICE, None))
    assert await accounts.default_destination(ALICE) is None
    assert not await database.write(lambda conn: set_default_destination(conn, BOB, OFFICE))
    assert await accounts.default_destination(BOB) is None


@pytest_twisted.ensureDeferred
async def test_personal_dids_are_saved_replaced_listed_and_removed(database) -> None:
    accounts = SqlTriggerAccounts(database)
    plain = PersonalDid(did=DID, subscriber=ALICE)
    other = PersonalDid(did="+33140000010", subscriber=BOB, callback_number=HOTEL, destination=OFFICE)

    await database.write(lambda conn: save_personal_did(conn, plain, T0))
    await database.write(lambda conn: save_personal_did(conn, other, T0))
    assert await accounts.personal_did(DID) == plain
    changed = plain.model_copy(update={"destination": OFFICE})
    await database.write(lambda conn: save_personal_did(conn, changed, T0))
    assert await database.read(list_personal_dids) == [changed, other]
    assert await database.write(lambda conn: remove_personal_did(conn, DID))
    assert not await database.write(lambda conn: remove_personal_did(conn, DID))
    assert await accounts.personal_did(DID) is None


@pytest_twisted.ensureDeferred
async def test_wrong_pins_in_a_row_lock_the_account_across_calls_until_the_lockout_ends(database) -> None:
    await _provision(database, _subscriber(ALICE), _subscriber(BOB))
    await database.write(lambda conn: conn.execute(
        subscribers.update().where(subscribers.c.msisdn == ALICE).values(pin_hash="scrypt$stored")))
    clock = Clock()
    accounts = SqlTriggerAccounts(database, clock=clock)  # each instance is like a separate process
    assert await accounts.pin_hash(ALICE) == "scrypt$stored"
    assert await accounts.pin_hash(BOB) is None

    for _ in range(MAX_PIN_FAILURES - 2):
        assert await SqlTriggerAccounts(database, clock=clock).pin_failed(ALICE) is None
    await accounts.pin_succeeded(ALICE)  # a right PIN: the count starts again
    for _ in range(MAX_PIN_FAILURES - 1):
        assert await accounts.pin_failed(ALICE) is None
    assert not await accounts.pin_locked(ALICE)
    assert await SqlTriggerAccounts(database, clock=clock).pin_failed(ALICE) == T0 + PIN_LOCKOUT

    assert await SqlTriggerAccounts(database, clock=clock).pin_locked(ALICE)
    assert not await accounts.pin_locked(BOB), "one account's lockout is its own"
    clock.now = T0 + PIN_LOCKOUT - timedelta(microseconds=1)
    assert await accounts.pin_locked(ALICE)
    clock.now = T0 + PIN_LOCKOUT
    assert not await accounts.pin_locked(ALICE)
    assert await accounts.pin_failed(ALICE) is None, "after a lockout the count starts from zero"


@pytest_twisted.ensureDeferred
async def test_failures_for_an_unknown_number_change_nothing(sqlite_database) -> None:
    accounts = SqlTriggerAccounts(sqlite_database, max_pin_failures=1)

    assert await accounts.pin_failed(HOTEL) is None
    assert not await accounts.pin_locked(HOTEL)
    await accounts.pin_succeeded(HOTEL)
    assert not await accounts.pin_locked(HOTEL) and await accounts.pin_failed(HOTEL) is None


@pytest_twisted.ensureDeferred
async def test_configured_dids_answer_before_the_table(sqlite_database) -> None:
    configured = PersonalDid(did=DID, subscriber=ALICE, destination=OFFICE)
    accounts = SqlTriggerAccounts(sqlite_database, dids=[configured])
    stored = PersonalDid(did="+33140000010", subscriber=BOB)
    await sqlite_database.write(lambda conn: save_personal_did(conn, stored, T0))
    await sqlite_database.write(lambda conn: save_personal_did(conn, PersonalDid(did=DID, subscriber=BOB), T0))

    assert await accounts.personal_did(DID) == configured
    assert await accounts.personal_did(stored.did) == stored
    assert await accounts.personal_did(HOTEL) is None
