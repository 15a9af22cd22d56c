"""Rating arithmetic for the built-in ledger: pure functions, no I/O, so every rule is testable alone.

Money is integer minor units and rates are ``Decimal`` minor units per minute; the per-second price of
a rate like 0.1 cents/minute is not a finite decimal, so the arithmetic runs on ``Fraction`` and rounds
up exactly once per leg: the subscriber is never charged for a rounding error twice, and a reservation
computed here is never a cent short of what the same usage costs at settlement.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any


@dataclass(frozen=True, slots=True)
class Rate:
    """One tariff line: a connect fee once the leg is answered, then an initial block and increments.

    ``initial_seconds`` may be 0 (pure per-increment billing); ``increment_seconds`` must be at least 1
    or the billed time of a long call would be undefined.
    """

    prefix: str
    per_minute_minor: Decimal
    connect_fee_minor: int = 0
    initial_seconds: int = 60
    increment_seconds: int = 60

    def __post_init__(self) -> None:
        if not (self.prefix == "" or self.prefix.isdigit()):
            raise ValueError(f"prefix {self.prefix!r} must be digits (or empty for the catch-all)")
        if not isinstance(self.per_minute_minor, Decimal) or not self.per_minute_minor.is_finite():
            raise ValueError(f"per_minute_minor {self.per_minute_minor!r} must be a finite Decimal")
        if self.per_minute_minor < 0 or self.connect_fee_minor < 0:
            raise ValueError("prices cannot be negative")
        if self.initial_seconds < 0 or self.increment_seconds < 1:
            raise ValueError("initial_seconds must be >= 0 and increment_seconds >= 1")

    def to_json(self) -> dict[str, Any]:
        """Decimal as text so a snapshot restores the exact rate, not a float approximation."""
        return {
            "prefix": self.prefix,
            "per_minute_minor": str(self.per_minute_minor),
            "connect_fee_minor": self.connect_fee_minor,
            "initial_seconds": self.initial_seconds,
            "increment_seconds": self.increment_seconds,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Rate:
        return cls(
            prefix=str(data["prefix"]),
            per_minute_minor=Decimal(str(data["per_minute_minor"])),
            connect_fee_minor=int(data["connect_fee_minor"]),
            initial_seconds=int(data["initial_seconds"]),
            increment_seconds=int(data["increment_seconds"]),
        )


def billed_seconds(rate: Rate, used_seconds: int) -> int:
    """Seconds the subscriber pays for: nothing for an unanswered leg, else whole blocks rounded up."""
    if used_seconds < 0:
        raise ValueError(f"used_seconds {used_seconds} is negative")
    if used_seconds == 0:
        return 0
    if used_seconds <= rate.initial_seconds:
        return rate.initial_seconds
    beyond = used_seconds - rate.initial_seconds
    return rate.initial_seconds + -(-beyond // rate.increment_seconds) * rate.increment_seconds


def cost_minor(rate: Rate, used_seconds: int) -> int:
    """Connect fee plus billed time, rounded up to a whole minor unit; an unanswered leg costs nothing."""
    billed = billed_seconds(rate, used_seconds)
    if billed == 0:
        return 0
    numerator, denominator = _per_second(rate.per_minute_minor)
    return rate.connect_fee_minor + -(-billed * numerator // denominator)


@functools.lru_cache(maxsize=4096)
def _per_second(per_minute_minor: Decimal) -> tuple[int, int]:
    """The exact per-second price as an integer ratio: ceil(a * n / d) in integers is exact and cheap."""
    price = Fraction(per_minute_minor) / 60
    return price.numerator, price.denominator


def longest_prefix(rates: Mapping[str, Rate], digits: str) -> Rate | None:
    """The most specific rate for ``digits``; ``rates`` maps prefix -> Rate so each probe is a dict hit.

    At most ``len(digits) + 1`` lookups whatever the table size; the empty prefix is the catch-all.
    """
    for length in range(len(digits), -1, -1):
        rate = rates.get(digits[:length])
        if rate is not None:
            return rate
    return None


def call_cost_minor(rate_a: Rate, rate_b: Rate, talk_seconds: int, setup_allowance_seconds: int) -> int:
    """What a callback with ``talk_seconds`` of conversation costs at most.

    Leg A is billed from its own answer, so it runs ``setup_allowance_seconds`` longer than the talk
    (the prompt and leg B's ringing); leg B is billed from its answer, i.e. for the talk alone.
    """
    return cost_minor(rate_a, talk_seconds + setup_allowance_seconds) + cost_minor(rate_b, talk_seconds)


def max_talk_seconds(
    rate_a: Rate, rate_b: Rate, available_minor: int, setup_allowance_seconds: int, cap_seconds: int
) -> int:
    """The largest talk time T in 0..cap whose worst-case cost fits in ``available_minor``.

    The cost is non-decreasing in T, so a binary search gives the exact answer (no per-second
    approximation that could grant a second the subscriber cannot pay for). Returns 0 when not even
    the setup fits; callers must treat a 0 as "no credit", since leg A alone may already cost money.
    """
    def fits(talk: int) -> bool:
        return call_cost_minor(rate_a, rate_b, talk, setup_allowance_seconds) <= available_minor

    if cap_seconds <= 0 or not fits(0):
        return 0
    low, high = 0, cap_seconds  # invariant: fits(low); answer in [low, high]
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low
