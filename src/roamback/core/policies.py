"""Eligibility and fraud rules, on by default: pure decisions over facts the engine gathered.

Each check returns the refusal reason or None, so the engine stays a sequence of plain steps and every
rule can be tested on its own. Order matters only for which reason the subscriber hears first; the
cheapest, most definite checks come first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .model import RecentActivity, Subscriber
from .reasons import RefusalReason

DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class PolicySettings:
    require_roaming: bool = True
    banned_visited_regions: frozenset[str] = frozenset()
    one_active_per_subscriber: bool = True
    daily_cap: int = 5  # accepted requests per rolling 24 hours; 0 = no cap
    cooldown_seconds: int = 30  # between two accepted requests of one subscriber
    blocked_prefixes: tuple[str, ...] = ()  # '+digits'
    leg_a_registered_only: bool = True
    min_talk_seconds: int = 60
    max_call_seconds: int = 3600
    resume_window_seconds: int = 120
    bill_leg_a_when_b_fails: bool = False  # leg A's prompt and ringback are free unless B connected


def eligibility(subscriber: Subscriber | None, settings: PolicySettings) -> RefusalReason | None:
    if subscriber is None:
        return RefusalReason.UNKNOWN_SUBSCRIBER
    if not subscriber.active:
        return RefusalReason.INACTIVE
    if not subscriber.service_allowed:
        return RefusalReason.SERVICE_NOT_ALLOWED
    if settings.require_roaming and not subscriber.roaming:
        return RefusalReason.NOT_ROAMING
    if subscriber.visited_region and subscriber.visited_region.upper() in settings.banned_visited_regions:
        return RefusalReason.COUNTRY_BANNED
    return None


def blocked_destination(number: str, settings: PolicySettings) -> bool:
    return any(number.startswith(prefix) for prefix in settings.blocked_prefixes)


def leg_a_allowed(
    callback_number: str, requester: str, confirmed: frozenset[str], settings: PolicySettings
) -> bool:
    """Leg A may only ring the requester or a number they proved they own: no callback bombing."""
    if callback_number == requester or not settings.leg_a_registered_only:
        return True
    return callback_number in confirmed


def activity_window_start(now: datetime) -> datetime:
    return now - DAY


def activity_refusal(
    activity: RecentActivity, now: datetime, settings: PolicySettings
) -> RefusalReason | None:
    if settings.daily_cap and activity.accepted_since >= settings.daily_cap:
        return RefusalReason.DAILY_CAP
    if (
        settings.cooldown_seconds
        and activity.last_accepted_at is not None
        and (now - activity.last_accepted_at).total_seconds() < settings.cooldown_seconds
    ):
        return RefusalReason.COOLDOWN
    return None
