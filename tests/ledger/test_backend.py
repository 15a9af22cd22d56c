"""LedgerCharging on every database backend: grants, refusals, settlement and the no-overdraft guard."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import pytest_twisted
import sqlalchemy as sa
from twisted.internet import defer
from twisted.logger import globalLogPublisher

from roamback.core.model import ChargingContext, Grant, Leg, Subscriber
from roamback.core.ports import ChargingRefused
from roamback.core.reasons import RefusalReason
from roamback.ledger import (
    DEFAULT_RATES,
    LedgerCharging,
    Rate,
    RateImportError,
    RateRow,
    UnknownAccount,
    UnknownReservation,
    adjust,
    create_account,
    load_rates,
    rates_from_csv,
    rates_to_csv,
    replace_rates,
    seed_default_rates,
    set_credit_limit,
    top_up,
)
from roamback.storage.engine import make_engine
from roamback.storage.pool import Database
from roamback.storage.schema import accounts, ledger_entries, reservations

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
ROAMER = Subscriber(msisdn="+447700900001", home_region="GB", roaming=True, visited_region="FR")
FRIEND = "+447911123456"


def per_second(prefix: str = "", cents_per_second: int = 1) -> Rate:
    return Rate(prefix, Decimal(60 * cents_per_second), 0, 1, 1)


FLAT = (RateRow(Leg.A, per_second()), RateRow(Leg.B, per_second()))


async def make_ledger(
    db: Database,
    *,
    balance: int = 0,
    postpaid: bool = False,
    credit_limit: int = 0,
    rates: tuple[RateRow, ...] = FLAT,
    account_id: str = ROAMER.msisdn,
    currency: str = "EUR",
) -> LedgerCharging:
    await db.write(lambda conn: replace_rates(conn, rates))
    await db.write(lambda conn: create_account(conn, account_id, currency=currency, at=NOW, postpaid=postpaid,
                                               credit_limit_minor=credit_limit))
    if balance:
        await db.write(lambda conn: top_up(conn, account_id, balance, at=NOW))
    ledger = LedgerCharging(db, now=lambda: NOW, currency="EUR", min_talk_seconds=10)
    await ledger.reload_rates()
    return ledger


def context(
    subscriber: Subscriber = ROAMER,
    *,
    leg_a: str | None = None,
    leg_b: str = FRIEND,
    max_call: int = 3600,
    allowance: int = 20,
    request_id: str = "req-1",
) -> ChargingContext:
    return ChargingContext(
        request_id=request_id, subscriber=subscriber, leg_a_number=leg_a or subscriber.msisdn,
        leg_b_number=leg_b, max_call_seconds=max_call, setup_allowance_seconds=allowance,
    )


async def account(db: Database, account_id: str = ROAMER.msisdn) -> sa.RowMapping:
    return await db.read(
        lambda conn: conn.execute(sa.select(accounts).where(accounts.c.id == account_id)).mappings().one()
    )


async def count(db: Database, table: sa.Table) -> int:
    query = sa.select(sa.func.count()).select_from(table)
    return await db.read(lambda conn: conn.execute(query).scalar_one())


@pytest_twisted.ensureDeferred
async def test_grant_reserves_the_longest_affordable_call(database) -> None:
    ledger = await make_ledger(database, balance=200)
    grant = await ledger.reserve(context())
    # leg A runs 20 s longer than the talk: (T + 20) + T <= 200
    assert grant.max_talk_seconds == 90
    assert (grant.leg_a_limit, grant.leg_b_limit) == (110, 90)
    assert (grant.currency, grant.balance_minor, grant.validity_seconds) == ("EUR", 200, None)
    row = await account(database)
    assert (row["balance_minor"], row["reserved_minor"]) == (200, 200)
    balance = await ledger.balance(ROAMER)
    assert balance is not None and balance.available_minor == 0
    assert await ledger.update(grant.reservation_id, {Leg.A: 30}) == grant


@pytest_twisted.ensureDeferred
async def test_refuses_when_credit_buys_less_than_the_minimum_talk(database) -> None:
    ledger = await make_ledger(database, balance=39)  # (T + 20) + T <= 39 -> T = 9 < 10
    with pytest.raises(ChargingRefused) as refused:
        await ledger.reserve(context())
    assert refused.value.reason is RefusalReason.NO_CREDIT
    assert (await account(database))["reserved_minor"] == 0
    assert await count(database, reservations) == 0


@pytest_twisted.ensureDeferred
async def test_refuses_without_account_or_rate(database) -> None:
    only_uk = (RateRow(Leg.A, per_second()), RateRow(Leg.B, per_second("44")))
    ledger = await make_ledger(database, balance=1000, rates=only_uk)
    stranger = Subscriber(msisdn="+447700900999", home_region="GB")
    with pytest.raises(ChargingRefused) as no_account:
        await ledger.reserve(context(stranger))
    assert (no_account.value.reason, no_account.value.detail) == (RefusalReason.NO_CREDIT, "no account")
    assert await ledger.balance(stranger) is None
    with pytest.raises(ChargingRefused) as no_rate:
        await ledger.reserve(context(leg_b="+33612345678"))
    assert no_rate.value.reason is RefusalReason.NO_RATE
    assert (await account(database))["reserved_minor"] == 0


@pytest_twisted.ensureDeferred
async def test_account_id_wins_over_msisdn_and_currency_must_match(database) -> None:
    ledger = await make_ledger(database, balance=500, account_id="acct-7")
    grant = await ledger.reserve(context(Subscriber(ROAMER.msisdn, "GB", account_id="acct-7")))
    assert (await account(database, "acct-7"))["reserved_minor"] > 0
    await ledger.terminate(grant.reservation_id, {})
    await database.write(lambda conn: create_account(conn, "acct-usd", currency="USD", at=NOW))
    await database.write(lambda conn: top_up(conn, "acct-usd", 500, at=NOW))
    with pytest.raises(ChargingRefused) as refused:
        await ledger.reserve(context(Subscriber(ROAMER.msisdn, "GB", account_id="acct-usd")))
    assert refused.value.reason is RefusalReason.CHARGING_DENIED


@pytest_twisted.ensureDeferred
async def test_leg_a_of_the_roamers_phone_is_rated_by_visited_country(database) -> None:
    rates = (
        RateRow(Leg.A, per_second("33", 1)),  # roaming in France
        RateRow(Leg.A, per_second("44", 4)),  # a UK number at home
        RateRow(Leg.A, per_second("", 10)),
        RateRow(Leg.B, per_second()),
    )
    ledger = await make_ledger(database, balance=2000, rates=rates)
    in_france = await ledger.reserve(context(allowance=0, request_id="r1"))
    assert in_france.max_talk_seconds == 1000  # 1 + 1 cent per second
    await ledger.terminate(in_france.reservation_id, {})
    landline = await ledger.reserve(context(leg_a="+442071234567", allowance=0, request_id="r2"))
    assert landline.max_talk_seconds == 400  # 4 + 1 cents per second
    in_nowhere = Subscriber(ROAMER.msisdn, "GB", visited_region="XX")
    with pytest.raises(ChargingRefused) as refused:
        await ledger.reserve(context(in_nowhere, request_id="r3"))
    assert refused.value.reason is RefusalReason.NO_RATE


@pytest_twisted.ensureDeferred
async def test_postpaid_may_spend_its_credit_limit_and_no_more(database) -> None:
    ledger = await make_ledger(database, postpaid=True, credit_limit=500)
    grant = await ledger.reserve(context(max_call=3600))
    assert (grant.balance_minor, grant.max_talk_seconds) == (500, 240)
    settlement = await ledger.terminate(grant.reservation_id, {Leg.A: 260, Leg.B: 240})
    assert (settlement.cost_minor, settlement.balance_minor) == (500, 0)
    assert (await account(database))["balance_minor"] == -500
    with pytest.raises(ChargingRefused) as refused:
        await ledger.reserve(context(request_id="req-2"))
    assert refused.value.reason is RefusalReason.NO_CREDIT
    await database.write(lambda conn: set_credit_limit(conn, ROAMER.msisdn, 800, at=NOW))
    assert (await ledger.reserve(context(request_id="req-3"))).balance_minor == 300
    await database.write(lambda conn: create_account(conn, "pre", currency="EUR", at=NOW))
    with pytest.raises(UnknownAccount):  # a prepaid account has no credit limit to raise
        await database.write(lambda conn: set_credit_limit(conn, "pre", 800, at=NOW))


@pytest_twisted.ensureDeferred
async def test_terminate_settles_usage_once_even_when_called_again(database) -> None:
    ledger = await make_ledger(database, balance=200)
    grant = await ledger.reserve(context())
    # leg A answered, heard the prompt while B rang 15 s, then 35 s of talk: A used 50, B used 35
    first = await ledger.terminate(grant.reservation_id, {Leg.A: 50, Leg.B: 35})
    again = await ledger.terminate(grant.reservation_id, {Leg.A: 50, Leg.B: 35})
    assert first == again
    assert first.billed_seconds == {Leg.A: 50, Leg.B: 35}
    assert first.leg_cost_minor == {Leg.A: 50, Leg.B: 35}
    assert (first.cost_minor, first.balance_minor, first.currency) == (85, 115, "EUR")
    row = await account(database)
    assert (row["balance_minor"], row["reserved_minor"]) == (115, 0)
    charges = await database.read(
        lambda conn: conn.execute(
            sa.select(ledger_entries).where(ledger_entries.c.kind == "charge")
        ).mappings().all()
    )
    assert [(c["amount_minor"], c["balance_after_minor"], c["request_id"]) for c in charges] == [
        (-85, 115, "req-1")
    ]
    with pytest.raises(UnknownReservation):
        await ledger.terminate("no-such-reservation", {})


@pytest_twisted.ensureDeferred
async def test_unanswered_call_releases_the_reservation_for_free(database) -> None:
    ledger = await make_ledger(database, balance=200)
    grant = await ledger.reserve(context())
    settlement = await ledger.terminate(grant.reservation_id, {Leg.A: 0, Leg.B: 0})
    assert (settlement.cost_minor, settlement.balance_minor) == (0, 200)
    assert (await account(database))["reserved_minor"] == 0
    state = await database.read(lambda conn: conn.execute(sa.select(reservations.c.state)).scalar_one())
    assert state == "settled"


@pytest_twisted.ensureDeferred
async def test_an_overrunning_switch_is_charged_the_reservation_and_audited(database) -> None:
    events: list[dict] = []
    globalLogPublisher.addObserver(events.append)
    try:
        ledger = await make_ledger(database, balance=200)
        grant = await ledger.reserve(context())
        settlement = await ledger.terminate(
            grant.reservation_id, {Leg.A: grant.leg_a_limit + 30, Leg.B: grant.leg_b_limit + 30}
        )
    finally:
        globalLogPublisher.removeObserver(events.append)
    assert (settlement.cost_minor, settlement.balance_minor) == (200, 0)
    assert settlement.leg_cost_minor == {Leg.A: 140, Leg.B: 60}  # B absorbs the cap; CDRs add up
    assert (await account(database))["balance_minor"] == 0
    assert any("AUDIT" in (event.get("log_format") or "") for event in events)


async def _reserve_many(ledgers: list[LedgerCharging], n: int) -> list[Grant | ChargingRefused]:
    async def attempt(i: int) -> Grant | ChargingRefused:
        try:
            return await ledgers[i % len(ledgers)].reserve(context(max_call=100, request_id=f"req-{i}"))
        except ChargingRefused as refused:
            return refused

    return await defer.gatherResults([defer.ensureDeferred(attempt(i)) for i in range(n)])


async def _check_no_overdraft(db: Database, ledgers: list[LedgerCharging]) -> None:
    # 700 pays three full calls of 220 (120 s of leg A + 100 s of leg B) and one of 40 (T = 10)
    results = await _reserve_many(ledgers, 40)
    grants = [r for r in results if isinstance(r, Grant)]
    refusals = [r for r in results if isinstance(r, ChargingRefused)]
    assert sorted(g.max_talk_seconds for g in grants) == [10, 100, 100, 100]
    assert {r.reason for r in refusals} == {RefusalReason.NO_CREDIT}
    row = await account(db)
    assert row["reserved_minor"] == 700 <= row["balance_minor"]
    settlements = await defer.gatherResults([
        defer.ensureDeferred(ledgers[i % len(ledgers)].terminate(
            g.reservation_id, {Leg.A: g.leg_a_limit, Leg.B: g.leg_b_limit}
        ))
        for i, g in enumerate(grants)
    ])
    assert sum(s.cost_minor for s in settlements) == 700
    row = await account(db)
    assert (row["balance_minor"], row["reserved_minor"]) == (0, 0)


@pytest_twisted.ensureDeferred
async def test_concurrent_requests_never_overdraw_an_account(database) -> None:
    ledger = await make_ledger(database, balance=700)
    await _check_no_overdraft(database, [ledger])


@pytest_twisted.ensureDeferred
async def test_two_processes_writing_one_database_never_overdraw(database) -> None:
    """Two Database objects are two writer threads with their own connections, as two services have.

    On MariaDB this fails without the row lock (stale REPEATABLE READ snapshots make the guard refuse
    falsely), and on PostgreSQL and MariaDB it overdraws without both lock and guard.
    """
    from twisted.internet import reactor

    first = await make_ledger(database, balance=700)
    url = database.engine.url.render_as_string(hide_password=False)
    other_db = Database(make_engine(url), reactor)
    other_db.start()
    try:
        second = LedgerCharging(other_db, now=lambda: NOW, currency="EUR", min_talk_seconds=10)
        await second.reload_rates()
        await _check_no_overdraft(database, [first, second])
    finally:
        await other_db.stop()


# -- provisioning -------------------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_top_up_and_adjust_leave_a_ledger_trail(database) -> None:
    await database.write(lambda conn: create_account(conn, "acct-1", currency="EUR", at=NOW))
    assert await database.write(lambda conn: top_up(conn, "acct-1", 500, at=NOW)) == 500
    assert await database.write(lambda conn: adjust(conn, "acct-1", -120, at=NOW, note="refund")) == 380
    entry = ledger_entries.c
    query = sa.select(entry.kind, entry.amount_minor, entry.balance_after_minor).order_by(entry.id)
    entries = await database.read(lambda conn: conn.execute(query).all())
    assert [tuple(e) for e in entries] == [("topup", 500, 500), ("adjust", -120, 380)]
    with pytest.raises(UnknownAccount):
        await database.write(lambda conn: top_up(conn, "acct-404", 100, at=NOW))
    with pytest.raises(ValueError, match="positive"):
        await database.write(lambda conn: top_up(conn, "acct-1", 0, at=NOW))


@pytest_twisted.ensureDeferred
async def test_rates_survive_the_database_exactly_and_reload_on_demand(database) -> None:
    ledger = await make_ledger(database, balance=1000)
    assert await database.write(seed_default_rates) == 0  # never overwrites an operator's table
    precise = (RateRow(Leg.A, Rate("", Decimal("0.0125"), 3, 30, 6), "cheap"), RateRow(Leg.B, per_second()))
    await database.write(lambda conn: replace_rates(conn, precise))
    assert await database.read(load_rates) == list(precise)
    before = await ledger.reserve(context(allowance=0, request_id="r1"))
    assert before.max_talk_seconds == 500  # still the cached 1 + 1 cents per second
    assert await ledger.reload_rates() == 2
    await ledger.terminate(before.reservation_id, {})
    after = await ledger.reserve(context(allowance=0, request_id="r2"))
    assert after.max_talk_seconds == 996  # 1 cent per second on B, 3 + 1 cents fee and A minutes


@pytest_twisted.ensureDeferred
async def test_default_rates_price_a_roamer_in_france_calling_the_uk(sqlite_database) -> None:
    assert await sqlite_database.write(seed_default_rates) == len(DEFAULT_RATES)
    await sqlite_database.write(lambda conn: create_account(conn, ROAMER.msisdn, currency="EUR", at=NOW))
    await sqlite_database.write(lambda conn: top_up(conn, ROAMER.msisdn, 1000, at=NOW))
    ledger = LedgerCharging(sqlite_database, now=lambda: NOW, currency="EUR", min_talk_seconds=60)
    grant = await ledger.reserve(context(allowance=45))
    query = sa.select(reservations.c.rating)
    rating = await sqlite_database.read(lambda conn: conn.execute(query).scalar_one())
    assert '"prefix": "33"' in rating and '"prefix": "44"' in rating
    # A (France, 10/min, 30/6) for 2748 s = 458; B (UK, 12/min, 30/6) bills 2706 s = 541.2 -> 542
    assert grant.max_talk_seconds == 2703


def test_rate_csv_round_trips_the_defaults() -> None:
    text = rates_to_csv(DEFAULT_RATES)
    assert text.splitlines()[0].split(",") == [
        "leg", "prefix", "description", "per_minute_minor", "connect_fee_minor", "initial_seconds",
        "increment_seconds",
    ]
    assert rates_from_csv(text) == list(DEFAULT_RATES)


def test_rate_csv_errors_name_every_bad_line() -> None:
    text = (
        "leg,prefix,description,per_minute_minor,connect_fee_minor,initial_seconds,increment_seconds\n"
        "A,33,France,10,0,30,6\n"
        "C,34,Spain,10,0,30,6\n"
        "B,+44,UK,ten,0,60,60\n"
        "a,33,France again,10,0,30,6\n"
        "B,1,USA,0.00001,0,60,60\n"
        "B,49,Germany,12,0,60,0\n"
        "B,7x,Russia,80,10,60,60\n"
    )
    with pytest.raises(RateImportError) as rejected:
        rates_from_csv(text)
    assert [line for line, _ in rejected.value.errors] == [3, 4, 5, 6, 7, 8]
    assert "line 3: leg 'C'" in str(rejected.value)
    assert "repeats line 2" in str(rejected.value)
    with pytest.raises(RateImportError, match="line 1: header lacks column"):
        rates_from_csv("leg,prefix\nA,33\n")
