"""Eligibility and fraud rules, one at a time, with their defaults on."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from roamback.core import policies
from roamback.core.model import RecentActivity, Subscriber
from roamback.core.policies import PolicySettings
from roamback.core.reasons import RefusalReason as R

ROAMER = Subscriber(msisdn="+33612345678", home_region="FR", roaming=True, visited_region="ES")
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("subscriber", "settings", "expected"),
    [
        (ROAMER, PolicySettings(), None),
        (None, PolicySettings(), R.UNKNOWN_SUBSCRIBER),
        (replace(ROAMER, active=False), PolicySettings(), R.INACTIVE),
        (replace(ROAMER, service_allowed=False), PolicySettings(), R.SERVICE_NOT_ALLOWED),
        (replace(ROAMER, roaming=False, visited_region=None), PolicySettings(), R.NOT_ROAMING),
        (replace(ROAMER, roaming=False, visited_region=None), PolicySettings(require_roaming=False), None),
        (ROAMER, PolicySettings(banned_visited_regions=frozenset({"ES"})), R.COUNTRY_BANNED),
        (replace(ROAMER, visited_region="es"), PolicySettings(banned_visited_regions=frozenset({"ES"})),
         R.COUNTRY_BANNED),
    ],
)
def test_eligibility(subscriber: Subscriber | None, settings: PolicySettings, expected: R | None) -> None:
    assert policies.eligibility(subscriber, settings) == expected


def test_blocked_destination_by_prefix() -> None:
    settings = PolicySettings(blocked_prefixes=("+881", "+4490"))
    assert policies.blocked_destination("+881612345678", settings)
    assert policies.blocked_destination("+449012345678", settings)
    assert not policies.blocked_destination("+447911123456", settings)


def test_leg_a_only_to_own_or_confirmed_numbers() -> None:
    settings = PolicySettings()
    own, other = "+33612345678", "+34600123456"
    assert policies.leg_a_allowed(own, own, frozenset(), settings)
    assert not policies.leg_a_allowed(other, own, frozenset(), settings)
    assert policies.leg_a_allowed(other, own, frozenset({other}), settings)
    assert policies.leg_a_allowed(other, own, frozenset(), PolicySettings(leg_a_registered_only=False))


@pytest.mark.parametrize(
    ("activity", "settings", "expected"),
    [
        (RecentActivity(0, None), PolicySettings(), None),
        (RecentActivity(4, NOW - timedelta(hours=1)), PolicySettings(daily_cap=5), None),
        (RecentActivity(5, NOW - timedelta(hours=1)), PolicySettings(daily_cap=5), R.DAILY_CAP),
        (RecentActivity(50, NOW - timedelta(hours=1)), PolicySettings(daily_cap=0), None),
        (RecentActivity(1, NOW - timedelta(seconds=10)), PolicySettings(cooldown_seconds=30), R.COOLDOWN),
        (RecentActivity(1, NOW - timedelta(seconds=30)), PolicySettings(cooldown_seconds=30), None),
        (RecentActivity(1, NOW - timedelta(seconds=1)), PolicySettings(cooldown_seconds=0), None),
    ],
)
def test_activity_rules(activity: RecentActivity, settings: PolicySettings, expected: R | None) -> None:
    assert policies.activity_refusal(activity, NOW, settings) == expected


def test_activity_window_is_a_rolling_day() -> None:
    assert policies.activity_window_start(NOW) == NOW - timedelta(days=1)
