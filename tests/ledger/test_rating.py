"""Rating arithmetic: billing increments, rounding up, prefix choice and the exact talk-time search."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roamback.ledger.rating import (
    Rate,
    billed_seconds,
    call_cost_minor,
    cost_minor,
    longest_prefix,
    max_talk_seconds,
)


def rate(
    per_minute: str = "60", fee: int = 0, initial: int = 60, increment: int = 60, prefix: str = ""
) -> Rate:
    return Rate(prefix, Decimal(per_minute), fee, initial, increment)


@pytest.mark.parametrize(
    ("initial", "increment", "used", "billed"),
    [
        (60, 60, 0, 0), (60, 60, 1, 60), (60, 60, 60, 60), (60, 60, 61, 120), (60, 60, 121, 180),
        (30, 6, 0, 0), (30, 6, 1, 30), (30, 6, 30, 30), (30, 6, 31, 36), (30, 6, 36, 36), (30, 6, 37, 42),
        (1, 1, 0, 0), (1, 1, 1, 1), (1, 1, 59, 59), (1, 1, 3601, 3601),
        (0, 10, 1, 10), (0, 10, 10, 10), (0, 10, 11, 20),
    ],
)
def test_billed_seconds(initial: int, increment: int, used: int, billed: int) -> None:
    assert billed_seconds(rate(initial=initial, increment=increment), used) == billed


@pytest.mark.parametrize(
    ("per_minute", "fee", "initial", "increment", "used", "cost"),
    [
        ("60", 0, 60, 60, 61, 120),  # two whole minutes
        ("10", 0, 30, 6, 31, 6),  # 36 s at 10/min = 6 exactly
        ("10", 0, 30, 6, 37, 7),  # 42 s at 10/min = 7 exactly
        ("10", 0, 1, 1, 7, 2),  # 7 s at 10/min = 1.166.. -> rounds up to 2
        ("0.1", 0, 1, 1, 1, 1),  # a fraction of a cent still costs a cent
        ("12.5", 0, 60, 60, 60, 13),  # 12.5 -> 13
        ("12.5", 15, 60, 60, 60, 28),  # connect fee on top of the rounded time
        ("12.5", 15, 60, 60, 0, 0),  # unanswered: no connect fee either
        ("0", 20, 60, 60, 5, 20),  # free minutes still pay the connect fee
    ],
)
def test_cost_minor(per_minute: str, fee: int, initial: int, increment: int, used: int, cost: int) -> None:
    assert cost_minor(rate(per_minute, fee, initial, increment), used) == cost


def test_rounding_happens_once_per_leg_not_per_block() -> None:
    # 1/3 cent per second: 3 s cost exactly 1, not 3 separately rounded thirds.
    assert cost_minor(rate("20", initial=1, increment=1), 3) == 1
    assert cost_minor(rate("20", initial=1, increment=1), 4) == 2


def test_negative_usage_is_a_bug_not_a_free_call() -> None:
    with pytest.raises(ValueError, match="negative"):
        billed_seconds(rate(), -1)


@pytest.mark.parametrize(
    "kwargs",
    [{"prefix": "+33"}, {"per_minute": "-1"}, {"fee": -1}, {"increment": 0}, {"initial": -1}],
)
def test_rate_rejects_nonsense(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        rate(**kwargs)  # type: ignore[arg-type]


def test_rate_json_round_trip_keeps_exact_decimal() -> None:
    original = rate("0.0125", 7, 30, 6, "351")
    restored = Rate.from_json(original.to_json())
    assert restored == original
    assert str(restored.per_minute_minor) == "0.0125"


def test_longest_prefix_prefers_most_specific_and_falls_back_to_catch_all() -> None:
    table = {r.prefix: r for r in (rate(prefix="44"), rate(prefix="447"), rate(prefix="1"), rate("99"))}
    assert longest_prefix(table, "447911123456").prefix == "447"  # type: ignore[union-attr]
    assert longest_prefix(table, "442071234567").prefix == "44"  # type: ignore[union-attr]
    assert longest_prefix(table, "33123").prefix == ""  # type: ignore[union-attr]
    del table[""]
    assert longest_prefix(table, "33123") is None


def test_max_talk_charges_leg_a_for_the_setup_allowance() -> None:
    per_second = rate("60", initial=1, increment=1)
    # (T + 20) + T <= 200  ->  T = 90
    assert max_talk_seconds(per_second, per_second, 200, 20, 3600) == 90
    assert call_cost_minor(per_second, per_second, 90, 20) == 200


def test_max_talk_respects_cap_and_refuses_when_setup_alone_is_unaffordable() -> None:
    per_second = rate("60", initial=1, increment=1)
    assert max_talk_seconds(per_second, per_second, 10_000, 20, 600) == 600
    assert max_talk_seconds(per_second, per_second, 19, 20, 600) == 0
    assert max_talk_seconds(per_second, per_second, 10_000, 20, 0) == 0


def test_max_talk_with_minute_blocks_and_connect_fees() -> None:
    a = rate("10", fee=0, initial=60, increment=60)
    b = rate("30", fee=20, initial=60, increment=60)
    # T=60: A bills 120 s (60 talk + 45 setup) = 20, B = 20 + 30 = 50 -> 70 fits; T=61 needs 20+20+60=100
    assert max_talk_seconds(a, b, 70, 45, 3600) == 60
    assert max_talk_seconds(a, b, 99, 45, 3600) == 60
    assert max_talk_seconds(a, b, 100, 45, 3600) == 75  # A stays at 2 minutes until T + 45 > 120


rates = st.builds(
    Rate,
    prefix=st.just(""),
    per_minute_minor=st.decimals(min_value=0, max_value=500, places=4),
    connect_fee_minor=st.integers(0, 100),
    initial_seconds=st.integers(0, 120),
    increment_seconds=st.integers(1, 120),
)


@settings(max_examples=400, deadline=None)
@given(
    rate_a=rates,
    rate_b=rates,
    available=st.integers(0, 20_000),
    allowance=st.integers(0, 90),
    cap=st.integers(0, 7200),
)
def test_max_talk_is_exact(rate_a: Rate, rate_b: Rate, available: int, allowance: int, cap: int) -> None:
    talk = max_talk_seconds(rate_a, rate_b, available, allowance, cap)
    assert 0 <= talk <= cap
    if call_cost_minor(rate_a, rate_b, 0, allowance) > available:
        assert talk == 0
        return
    assert call_cost_minor(rate_a, rate_b, talk, allowance) <= available
    assert talk == cap or call_cost_minor(rate_a, rate_b, talk + 1, allowance) > available


@settings(max_examples=200, deadline=None)
@given(rate_a=rates, rate_b=rates, talk=st.integers(0, 3600), allowance=st.integers(0, 90),
       short_a=st.integers(0, 3690), short_b=st.integers(0, 3600))
def test_no_call_within_the_limits_costs_more_than_the_reservation(
    rate_a: Rate, rate_b: Rate, talk: int, allowance: int, short_a: int, short_b: int
) -> None:
    used_a, used_b = min(short_a, talk + allowance), min(short_b, talk)
    reserved = call_cost_minor(rate_a, rate_b, talk, allowance)
    assert cost_minor(rate_a, used_a) + cost_minor(rate_b, used_b) <= reserved
