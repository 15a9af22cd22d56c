"""The embedded ChargingBackend: prepaid and postpaid accounts kept in the service's own database.

The ledger grants a whole call up front: it reserves the worst-case cost of the longest call the
account can pay for, and settles the real usage afterwards. Nothing can go negative because the
reservation is taken with a conditional UPDATE on the account row (``available >= amount`` in SQL),
inside a transaction that first locks the row: a second service process writing to the same database
can neither overdraw the account nor make the guard fail for reading a stale snapshot (MariaDB's
REPEATABLE READ would otherwise show the row as it was when the transaction started).

Every unit of work returns refusals instead of raising them: the group-committing writer replays a
whole batch one unit at a time when one unit raises, and a refusal is an ordinary outcome, not a
failure that should cost its neighbours a second transaction.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import phonenumbers
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from twisted.logger import Logger

from ..core.model import Balance, ChargingContext, Grant, Leg, Settlement, Subscriber
from ..core.ports import ChargingRefused
from ..core.reasons import RefusalReason
from ..storage.pool import Database
from ..storage.prepared import Bulk, Prepared, PreparedQuery, unnest_rows
from ..storage.schema import accounts, ledger_entries, reservations
from .accounts import load_rates
from .rating import Rate, billed_seconds, call_cost_minor, cost_minor, longest_prefix, max_talk_seconds

log = Logger()

_GUARD_ATTEMPTS = 3  # the row lock makes a failed guard rare; retrying forever would hide a bug


class UnknownReservation(LookupError):
    """update/terminate named a reservation this ledger never made: a bug, not a subscriber problem."""


@dataclass(frozen=True, slots=True)
class _Refusal:
    reason: RefusalReason
    detail: str


@dataclass(frozen=True, slots=True)
class _Ask:
    """Everything a reservation unit needs, fixed on the reactor thread before it is queued."""

    reservation_id: str
    request_id: str
    account_id: str
    rate_a: Rate
    rate_b: Rate
    allowance: int
    cap: int
    at: datetime


Row = Mapping[str, Any]

_AVAILABLE_SQL = (
    accounts.c.balance_minor
    + sa.case((accounts.c.postpaid == sa.true(), accounts.c.credit_limit_minor), else_=0)
    - accounts.c.reserved_minor
)

# Statements built once, so the writer thread reuses their compiled form (it is the throughput limit).
_LOCK_ACCOUNT = PreparedQuery(
    sa.select(accounts).where(accounts.c.id == sa.bindparam("w_id")).with_for_update(), ("w_id",)
)
_TAKE = Prepared(
    accounts.update()
    .where(accounts.c.id == sa.bindparam("w_id"), sa.bindparam("w_amount") <= _AVAILABLE_SQL)
    .values(reserved_minor=accounts.c.reserved_minor + sa.bindparam("w_amount")),
    ("w_id", "w_amount", "updated_at"),
)
_INSERT_RESERVATION = Prepared(
    reservations.insert(),
    ("id", "account_id", "request_id", "amount_minor", "state", "rating", "created_at"),
)
_LOCK_RESERVATION = PreparedQuery(
    sa.select(reservations).where(reservations.c.id == sa.bindparam("w_id")).with_for_update(), ("w_id",)
)
_READ_ACCOUNT = PreparedQuery(sa.select(accounts).where(accounts.c.id == sa.bindparam("w_id")), ("w_id",))
_CHARGE_SQL = (
    accounts.update()
    .where(accounts.c.id == sa.bindparam("w_id"))
    .values(
        balance_minor=accounts.c.balance_minor - sa.bindparam("w_cost"),
        reserved_minor=accounts.c.reserved_minor - sa.bindparam("w_amount"),
    )
)
_CHARGE_KEYS = ("w_id", "w_cost", "w_amount", "updated_at")
_CHARGE = Prepared(_CHARGE_SQL, _CHARGE_KEYS)
# Where UPDATE ... RETURNING exists (PostgreSQL, SQLite; not MariaDB) the charged row comes back with it.
_CHARGE_RETURNING = PreparedQuery(_CHARGE_SQL.returning(*accounts.c), _CHARGE_KEYS)
# Not Oracle either: its RETURNING ... INTO needs output binds the prepared cursor path does not pass.
_RETURNING_DIALECTS = frozenset({"postgresql", "sqlite"})
_INSERT_ENTRY = Prepared(
    ledger_entries.insert(),
    ("account_id", "at", "kind", "amount_minor", "balance_after_minor", "request_id", "note"),
)
_CLOSE_KEYS = ("w_id", "state", "cost_minor", "billed_a", "billed_b", "settled_at")


def _close_bulk() -> Bulk:
    rows = unnest_rows({"w_id": reservations.c.id, **{key: reservations.c[key] for key in _CLOSE_KEYS[1:]}})
    statement = (
        reservations.update()
        .where(reservations.c.id == rows.c.w_id)
        .values({key: rows.c[key] for key in _CLOSE_KEYS[1:]})
    )
    return Bulk(statement, _CLOSE_KEYS, unique=("w_id",))


_CLOSE_RESERVATION = Prepared(
    reservations.update().where(reservations.c.id == sa.bindparam("w_id")), _CLOSE_KEYS, bulk=_close_bulk()
)


def _available(account: Row) -> int:
    credit = account["credit_limit_minor"] if account["postpaid"] else 0
    return int(account["balance_minor"] + credit - account["reserved_minor"])


def _lock_account(conn: Connection, account_id: str) -> Row | None:
    return _LOCK_ACCOUNT.first(conn, {"w_id": account_id})


def _grant(reservation_id: str, snapshot: Mapping[str, Any]) -> Grant:
    talk, allowance = int(snapshot["talk"]), int(snapshot["allowance"])
    return Grant(
        reservation_id=reservation_id, max_talk_seconds=talk, leg_a_limit=talk + allowance,
        leg_b_limit=talk, currency=snapshot["currency"], balance_minor=int(snapshot["balance"]),
        validity_seconds=None,
    )


class LedgerCharging:
    """ChargingBackend over the ``accounts``/``reservations`` tables, rates cached in memory.

    The app builds one per service: ``LedgerCharging(db, now=runtime.now, currency="EUR",
    min_talk_seconds=60)`` and calls ``await reload_rates()`` at start and after every rate import.
    """

    def __init__(
        self, db: Database, *, now: Callable[[], datetime], currency: str, min_talk_seconds: int
    ) -> None:
        if min_talk_seconds < 1:
            raise ValueError("min_talk_seconds must be at least 1: a 0-second grant is no call at all")
        self._db = db
        self._now = now
        self._currency = currency
        self._min_talk = min_talk_seconds
        self._rates: dict[Leg, dict[str, Rate]] | None = None

    async def reload_rates(self) -> int:
        """Replace the cached table in one assignment, so a request never sees half old, half new."""
        rows = await self._db.read(load_rates)
        table: dict[Leg, dict[str, Rate]] = {Leg.A: {}, Leg.B: {}}
        for row in rows:
            table[row.leg][row.rate.prefix] = row.rate
        self._rates = table
        return len(rows)

    # -- ChargingBackend ---------------------------------------------------------------------------

    async def reserve(self, context: ChargingContext) -> Grant:
        rate_a, rate_b = await self._rate(context)
        subscriber = context.subscriber
        ask = _Ask(
            reservation_id=str(uuid.uuid4()), request_id=context.request_id,
            account_id=subscriber.account_id or subscriber.msisdn, rate_a=rate_a, rate_b=rate_b,
            allowance=context.setup_allowance_seconds, cap=context.max_call_seconds, at=self._now(),
        )
        outcome = await self._db.write(lambda conn: self._reserve_unit(conn, ask))
        if isinstance(outcome, _Refusal):
            raise ChargingRefused(outcome.reason, outcome.detail)
        return outcome

    async def update(self, reservation_id: str, used: dict[Leg, int]) -> Grant:
        """Everything was granted up front, so the answer is the original grant, read back."""
        row = await self._db.read(
            lambda conn: conn.execute(
                sa.select(reservations.c.rating).where(reservations.c.id == reservation_id)
            ).first()
        )
        if row is None:
            raise UnknownReservation(reservation_id)
        return _grant(reservation_id, json.loads(row.rating))

    async def terminate(self, reservation_id: str, used: dict[Leg, int]) -> Settlement:
        at = self._now()
        outcome = await self._db.write(lambda conn: self._terminate_unit(conn, reservation_id, used, at))
        if outcome is None:
            raise UnknownReservation(reservation_id)
        return outcome

    async def balance(self, subscriber: Subscriber) -> Balance | None:
        account_id = subscriber.account_id or subscriber.msisdn
        account = await self._db.read(
            lambda conn: conn.execute(sa.select(accounts).where(accounts.c.id == account_id))
            .mappings()
            .first()
        )
        if account is None:
            return None
        return Balance(_available(account), account["currency"], bool(account["postpaid"]))

    # -- rating ------------------------------------------------------------------------------------

    async def _rate(self, context: ChargingContext) -> tuple[Rate, Rate]:
        """Leg A of a roamer's own phone is priced by where the roamer is, not by the home number."""
        if self._rates is None:
            await self.reload_rates()
        assert self._rates is not None
        subscriber = context.subscriber
        a_digits = context.leg_a_number.lstrip("+")
        if subscriber.msisdn == context.leg_a_number and subscriber.visited_region:
            code = phonenumbers.country_code_for_region(subscriber.visited_region.upper())
            if code == 0:
                raise ChargingRefused(
                    RefusalReason.NO_RATE, f"unknown visited region {subscriber.visited_region!r}"
                )
            a_digits = str(code)
        rate_a = longest_prefix(self._rates[Leg.A], a_digits)
        if rate_a is None:
            raise ChargingRefused(RefusalReason.NO_RATE, f"no leg A rate for {a_digits}")
        b_digits = context.leg_b_number.lstrip("+")
        rate_b = longest_prefix(self._rates[Leg.B], b_digits)
        if rate_b is None:
            raise ChargingRefused(RefusalReason.NO_RATE, f"no leg B rate for {b_digits}")
        return rate_a, rate_b

    # -- units of work (writer thread) -------------------------------------------------------------

    def _reserve_unit(self, conn: Connection, ask: _Ask) -> Grant | _Refusal:
        for _attempt in range(_GUARD_ATTEMPTS):
            account = _lock_account(conn, ask.account_id)
            if account is None:
                return _Refusal(RefusalReason.NO_CREDIT, "no account")
            if account["currency"] != self._currency:
                return _Refusal(
                    RefusalReason.CHARGING_DENIED,
                    f"account in {account['currency']}, rates in {self._currency}",
                )
            available = _available(account)
            talk = max_talk_seconds(ask.rate_a, ask.rate_b, available, ask.allowance, ask.cap)
            if talk < self._min_talk:
                return _Refusal(RefusalReason.NO_CREDIT, f"{available} available buys {talk}s")
            amount = call_cost_minor(ask.rate_a, ask.rate_b, talk, ask.allowance)
            taken = _TAKE.run(conn, {"w_id": ask.account_id, "w_amount": amount, "updated_at": ask.at})
            if taken == 1:
                snapshot = {
                    "A": ask.rate_a.to_json(), "B": ask.rate_b.to_json(), "talk": talk,
                    "allowance": ask.allowance, "currency": self._currency, "balance": available,
                }
                _INSERT_RESERVATION.run_later(conn, {
                    "id": ask.reservation_id, "account_id": ask.account_id, "request_id": ask.request_id,
                    "amount_minor": amount, "state": "open", "rating": json.dumps(snapshot),
                    "created_at": ask.at,
                })
                return _grant(ask.reservation_id, snapshot)
            log.info("account {account} changed under reservation, re-reading", account=ask.account_id)
        return _Refusal(RefusalReason.CHARGING_UNAVAILABLE, "account kept changing; try again")

    def _terminate_unit(
        self, conn: Connection, reservation_id: str, used: dict[Leg, int], at: datetime
    ) -> Settlement | None:
        row = _LOCK_RESERVATION.first(conn, {"w_id": reservation_id})
        if row is None:
            return None
        snapshot = json.loads(row["rating"])
        amount = int(row["amount_minor"])
        if row["state"] == "settled":  # crash recovery asks again: same answer, today's balance
            billed = {Leg.A: int(row["billed_a"]), Leg.B: int(row["billed_b"])}
            leg_costs, _ = _price(snapshot, billed, amount)
            account = _READ_ACCOUNT.first(conn, {"w_id": row["account_id"]})
            assert account is not None, "a reservation always belongs to an existing account"
            return _settlement(snapshot, billed, leg_costs, account)
        billed = {leg: billed_seconds(Rate.from_json(snapshot[leg.value]), max(0, used.get(leg, 0)))
                  for leg in Leg}
        leg_costs, overran = _price(snapshot, billed, amount)
        if overran:
            log.warn(
                "AUDIT: reservation {reservation} overran its limits (billed A {billed_a}s, B {billed_b}s; "
                "reserved {amount}); charging the reserved amount only",
                reservation=reservation_id, billed_a=billed[Leg.A], billed_b=billed[Leg.B], amount=amount,
            )
        account = _settle(conn, row, sum(leg_costs.values()), billed, at)
        return _settlement(snapshot, billed, leg_costs, account)


def _price(snapshot: Mapping[str, Any], billed: dict[Leg, int], amount: int) -> tuple[dict[Leg, int], bool]:
    """Per-leg cost of billed seconds, capped so the total never exceeds what was reserved.

    Billed seconds are whole blocks, so pricing them again gives the same cost as pricing the usage,
    which lets a replayed terminate rebuild the per-leg split from the stored row. When capping, leg A
    keeps its cost and leg B absorbs the difference: the per-leg CDR costs still add up to the charge.
    """
    cost_a = cost_minor(Rate.from_json(snapshot["A"]), billed[Leg.A])
    cost_b = cost_minor(Rate.from_json(snapshot["B"]), billed[Leg.B])
    if cost_a + cost_b <= amount:
        return {Leg.A: cost_a, Leg.B: cost_b}, False
    capped_a = min(cost_a, amount)
    return {Leg.A: capped_a, Leg.B: amount - capped_a}, True


def _settle(conn: Connection, row: Row, cost: int, billed: dict[Leg, int], at: datetime) -> Row:
    """Charge the cost, release the whole reservation and close it; returns the account afterwards."""
    account_id = row["account_id"]
    charge = {"w_id": account_id, "w_cost": cost, "w_amount": int(row["amount_minor"]), "updated_at": at}
    if conn.dialect.name in _RETURNING_DIALECTS:
        account = _CHARGE_RETURNING.first(conn, charge)
    else:
        _CHARGE.run(conn, charge)
        account = _lock_account(conn, account_id)
    assert account is not None, "a reservation always belongs to an existing account"
    if cost:  # the ledger records movements; an unanswered call moved nothing
        _INSERT_ENTRY.run_later(conn, {
            "account_id": account_id, "at": at, "kind": "charge", "amount_minor": -cost,
            "balance_after_minor": account["balance_minor"], "request_id": row["request_id"],
            "note": f"reservation {row['id']}",
        })
    _CLOSE_RESERVATION.run_later(conn, {
        "w_id": row["id"], "state": "settled", "cost_minor": cost, "billed_a": billed[Leg.A],
        "billed_b": billed[Leg.B], "settled_at": at,
    })
    return account


def _settlement(
    snapshot: Mapping[str, Any], billed: dict[Leg, int], leg_costs: dict[Leg, int], account: Row
) -> Settlement:
    return Settlement(
        billed_seconds=dict(billed), cost_minor=sum(leg_costs.values()), currency=snapshot["currency"],
        balance_minor=_available(account), leg_cost_minor=leg_costs,
    )
