"""The OCS's account model: balances, reservations and per-session rating. Pure arithmetic, no Diameter.

Prices come from the ledger's own functions (``cost_minor``, ``longest_prefix``), and a session's rates are
fixed when it opens, as the ledger fixes them in its reservation. Usage is kept cumulative per leg and each
report debits ``cost(total after) - cost(total before)``, so an initial block or connect fee is charged once
per leg however many CCR-U the call takes.

All legs of one request are granted together: the OCS takes the same number of seconds off every leg's
request until the lot fits the available credit. For the service's request (leg A = talk + setup allowance,
leg B = talk) that is exactly the ledger's ``max_talk_seconds``, which is what makes a demo subscriber
behave the same with either backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...core.model import Leg
from ...ledger.rating import Rate, cost_minor, longest_prefix
from .settings import OcsSettings


class NoRate(LookupError):
    """No tariff line matches the number a leg is rated by (5031 RATING_FAILED)."""


@dataclass(slots=True)
class Account:
    msisdn: str  # E.164 with '+'
    balance_minor: int
    leg_a_digits: str
    reserved_minor: int = 0

    @property
    def available_minor(self) -> int:
        return self.balance_minor - self.reserved_minor


@dataclass(slots=True)
class _LegUsage:
    rate: Rate
    used_seconds: int = 0
    reserved_minor: int = 0

    @property
    def charged_minor(self) -> int:
        return cost_minor(self.rate, self.used_seconds)

    def extra_cost(self, seconds: int) -> int:
        """What ``seconds`` more would add to this leg's charge."""
        return cost_minor(self.rate, self.used_seconds + seconds) - self.charged_minor


@dataclass(slots=True)
class Session:
    account: Account
    legs: dict[Leg, _LegUsage] = field(default_factory=dict)

    @property
    def charged_minor(self) -> int:
        return sum(leg.charged_minor for leg in self.legs.values())


class Book:
    """Accounts keyed by E.164 number, and the rate tables of both legs."""

    def __init__(self, settings: OcsSettings) -> None:
        self.accounts = {
            msisdn: Account(msisdn, account.balance_minor, account.leg_a_digits(msisdn))
            for msisdn, account in settings.accounts.items()
        }
        self._rates = {Leg.A: {r.prefix: r.rate() for r in settings.rates_a},
                       Leg.B: {r.prefix: r.rate() for r in settings.rates_b}}

    def account(self, msisdn: str) -> Account | None:
        return self.accounts.get(msisdn if msisdn.startswith("+") else f"+{msisdn}")

    def open(self, account: Account, called_digits: str) -> Session:
        """A session with both legs' rates fixed now; raises NoRate when a leg cannot be priced."""
        digits = {Leg.A: account.leg_a_digits, Leg.B: called_digits}
        legs = {}
        for leg, number in digits.items():
            rate = longest_prefix(self._rates[leg], number)
            if rate is None:
                raise NoRate(f"no leg {leg.value} rate for {number or '(no number)'}")
            legs[leg] = _LegUsage(rate)
        return Session(account, legs)

    def report(self, session: Session, leg: Leg, seconds: int) -> int:
        """Debit ``seconds`` more of usage on ``leg``; returns the amount debited."""
        usage = session.legs[leg]
        amount = usage.extra_cost(max(0, seconds))
        usage.used_seconds += max(0, seconds)
        session.account.balance_minor -= amount
        return amount

    def grant(self, session: Session, requested: dict[Leg, int]) -> dict[Leg, int]:
        """Replace the reservations of the requested legs with new grants, as large as the credit allows."""
        account = session.account
        for leg in requested:
            self._release(session, leg)
        available = max(0, account.available_minor)
        legs = {leg: session.legs[leg] for leg in requested}

        def cost(cut: int) -> int:
            return sum(usage.extra_cost(max(0, requested[leg] - cut)) for leg, usage in legs.items())

        low, high = 0, max(requested.values(), default=0)  # invariant: cost(high) fits (cost(max) is 0)
        while low < high:
            middle = (low + high) // 2
            if cost(middle) <= available:
                high = middle
            else:
                low = middle + 1
        granted = {leg: max(0, seconds - high) for leg, seconds in requested.items()}
        for leg, seconds in granted.items():
            amount = legs[leg].extra_cost(seconds)
            legs[leg].reserved_minor = amount
            account.reserved_minor += amount
        return granted

    def close(self, session: Session) -> int:
        """Give back every reservation of the session; returns what the session cost in all."""
        for leg in session.legs:
            self._release(session, leg)
        return session.charged_minor

    @staticmethod
    def _release(session: Session, leg: Leg) -> None:
        usage = session.legs[leg]
        session.account.reserved_minor -= usage.reserved_minor
        usage.reserved_minor = 0
