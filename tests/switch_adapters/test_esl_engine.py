"""The ESL adapter under the real core: engine, SQL store and ledger on SQLite, the fake FreeSWITCH below.

What the core writes (request states, per-leg CDRs, charges) must follow from the switch's own events:
answer, bridge and end times of each leg as FreeSWITCH stamped them, causes as it named them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest_twisted

from roamback.core.engine import CallbackEngine
from roamback.core.messages import MessageCatalog
from roamback.core.model import CallbackTrigger, Channel, Leg
from roamback.core.states import RequestState as S
from roamback.ledger.accounts import create_account, seed_default_rates, top_up
from roamback.ledger.backend import LedgerCharging
from roamback.storage.directory import TableDirectory
from roamback.storage.pool import Database
from roamback.storage.provisioning import upsert_subscriber
from roamback.storage.requests import SqlRequestStore
from roamback.storage.schema import call_legs

from ..core.harness import ALICE, DEST_OK, default_dialling, default_policy, roamer
from .fake_esl import EslHarness, esl_fixture, stamp  # noqa: F401


async def engine_on(esl: EslHarness, db: Database) -> tuple[CallbackEngine, SqlRequestStore]:
    runtime = esl.runtime
    await db.write(seed_default_rates)
    subscriber = roamer(ALICE)
    now = runtime.now()

    def provision(conn: Any) -> None:
        upsert_subscriber(conn, subscriber, at=now)
        create_account(conn, subscriber.account_id, currency="EUR", at=now)
        top_up(conn, subscriber.account_id, 1000, at=now)

    await db.write(provision)
    ledger = LedgerCharging(db, now=runtime.now, currency="EUR", min_talk_seconds=60)
    await ledger.reload_rates()
    store = SqlRequestStore(db, clock=runtime.now)
    engine = CallbackEngine(
        runtime=runtime, store=store, directory=TableDirectory(db), charging=ledger, switch=esl.switches[0],
        catalog=MessageCatalog.load(None, {}), policy=default_policy(), dialling=default_dialling(),
        home_region="FR", default_language="en",
    )
    return engine, store


async def cdrs(db: Database, request_id: str) -> dict[str, Any]:
    query = call_legs.select().where(call_legs.c.request_id == request_id)
    rows = await db.read(lambda conn: list(conn.execute(query)))
    return {row.leg: row for row in rows}


def utc(value: datetime | None) -> datetime | None:
    """SQLite gives naive datetimes back; the store wrote UTC."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


@pytest_twisted.ensureDeferred
async def test_completed_callback_is_recorded_with_the_switch_times(
    esl: EslHarness, sqlite_database: Database
) -> None:
    engine, store = await engine_on(esl, sqlite_database)
    esl.outcome(DEST_OK, talk=70.0)
    request = await engine.submit(CallbackTrigger(channel=Channel.API, requester=ALICE, destination=DEST_OK))
    await esl.eventually(lambda: request.state.terminal and not engine.is_live(request.id))

    stored = await store.get(request.id)
    assert stored is not None and stored.state is S.COMPLETED
    call_id = f"{request.id}.1"
    a, b = esl.uuid(Leg.A, call_id), esl.uuid(Leg.B, call_id)
    legs = await cdrs(sqlite_database, request.id)
    assert utc(legs["A"].answered_at) == stamp(esl.fired("CHANNEL_ANSWER", a))
    assert utc(legs["B"].answered_at) == stamp(esl.fired("CHANNEL_ANSWER", b))
    assert utc(legs["B"].bridged_at) == stamp(esl.fired("CHANNEL_BRIDGE", a))
    assert utc(legs["B"].ended_at) == stamp(esl.fired("CHANNEL_HANGUP_COMPLETE", b), "variable_end_uepoch")
    assert (legs["A"].cause, legs["B"].cause) == ("normal", "normal")
    used = {leg: (utc(row.ended_at) - utc(row.answered_at)).total_seconds() for leg, row in legs.items()}
    gap = (utc(legs["B"].answered_at) - utc(legs["A"].answered_at)).total_seconds()
    assert gap >= 1.0 and abs(used["A"] - used["B"] - gap) < 0.2, "A counts from its own answer: prompt included"
    assert legs["B"].billed_seconds >= used["B"] >= 70 and legs["B"].cost_minor > 0


@pytest_twisted.ensureDeferred
async def test_busy_friend_fails_the_request_and_records_both_attempts(
    esl: EslHarness, sqlite_database: Database
) -> None:
    engine, store = await engine_on(esl, sqlite_database)
    esl.outcome(DEST_OK, "busy")
    request = await engine.submit(CallbackTrigger(channel=Channel.API, requester=ALICE, destination=DEST_OK))
    await esl.eventually(lambda: request.state.terminal and not engine.is_live(request.id))

    stored = await store.get(request.id)
    assert stored is not None and (stored.state, stored.reason) == (S.FAILED, "b_busy")
    legs = await cdrs(sqlite_database, request.id)
    assert (legs["A"].cause, legs["B"].cause) == ("normal", "busy")
    assert legs["B"].answered_at is None and legs["B"].billed_seconds == 0
    b = esl.uuid(Leg.B, f"{request.id}.1")
    assert utc(legs["B"].ended_at) == stamp(esl.fired("CHANNEL_HANGUP_COMPLETE", b), "variable_end_uepoch")
