"""Deciding whether a request may go ahead: directory, numbers, fraud rules, then charging.

Split from the engine because it is the part operators tune and auditors read: one linear method per
stage, each refusal named by a reason the subscriber is told in their language.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from . import numbers, policies
from .model import CallbackRequest, ChargingContext, Grant, Leg, Subscriber
from .ports import ChargingBackend, ChargingRefused, PortUnavailable, RequestStore, SubscriberDirectory
from .reasons import RefusalReason

if TYPE_CHECKING:
    from .engine import DiallingSettings

R = RefusalReason


class Decision:
    @dataclass(frozen=True, slots=True)
    class Refused:
        reason: RefusalReason
        detail: str | None = None
        release_claim: bool = False
        changes: dict[str, object] = field(default_factory=dict)

    @dataclass(frozen=True, slots=True)
    class Accepted:
        subscriber: Subscriber
        accepted_changes: dict[str, object]
        claim_active: bool  # the store takes the one-active slot with the acceptance, or refuses it


class Decider:
    def __init__(
        self,
        *,
        store: RequestStore,
        directory: SubscriberDirectory,
        charging: ChargingBackend,
        policy: policies.PolicySettings,
        dialling: DiallingSettings,
        home_region: str,
        now: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.directory = directory
        self.charging = charging
        self.policy = policy
        self.dialling = dialling
        self.home_region = home_region
        self.now = now

    async def decide(
        self, request: CallbackRequest, explicit_language: str | None
    ) -> Decision.Refused | Decision.Accepted:
        try:
            subscriber = await self.directory.lookup(request.requester)
        except PortUnavailable as exc:
            return Decision.Refused(R.DIRECTORY_UNAVAILABLE, str(exc)[:200])
        changes: dict[str, object] = {}
        if subscriber is not None and not explicit_language and subscriber.language != request.language:
            request.language = subscriber.language
            changes["language"] = subscriber.language
        refusal = policies.eligibility(subscriber, self.policy)
        if refusal is not None or subscriber is None:
            return Decision.Refused(refusal or R.UNKNOWN_SUBSCRIBER, changes=changes)
        numbers_or_refusal = await self._numbers(request, subscriber)
        if isinstance(numbers_or_refusal, Decision.Refused):
            return Decision.Refused(numbers_or_refusal.reason, numbers_or_refusal.detail, changes=changes)
        destination, callback = numbers_or_refusal
        if self.policy.daily_cap or self.policy.cooldown_seconds:
            activity = await self.store.recent_activity(
                subscriber.msisdn, policies.activity_window_start(self.now())
            )
            refusal = policies.activity_refusal(activity, self.now(), self.policy)
            if refusal is not None:
                return Decision.Refused(refusal, changes=changes)
        changes.update(destination=destination, callback_number=callback, account_id=subscriber.account_id)
        return Decision.Accepted(subscriber, changes, claim_active=self.policy.one_active_per_subscriber)

    async def _numbers(
        self, request: CallbackRequest, subscriber: Subscriber
    ) -> tuple[str, str] | Decision.Refused:
        try:
            destination = numbers.normalise(request.destination_raw, subscriber.home_region)
        except numbers.InvalidNumber:
            return Decision.Refused(R.INVALID_NUMBER, "destination")
        if policies.blocked_destination(destination, self.policy):
            return Decision.Refused(R.BLOCKED_DESTINATION, destination)
        if not request.callback_raw:
            return destination, subscriber.msisdn
        try:
            callback = numbers.normalise(request.callback_raw, subscriber.home_region)
        except numbers.InvalidNumber:
            return Decision.Refused(R.INVALID_NUMBER, "callback_number")
        if policies.blocked_destination(callback, self.policy):
            return Decision.Refused(R.BLOCKED_DESTINATION, callback)
        if callback != subscriber.msisdn:
            confirmed = await self.store.confirmed_numbers(subscriber.msisdn)
            if not policies.leg_a_allowed(callback, subscriber.msisdn, confirmed, self.policy):
                return Decision.Refused(R.CALLBACK_NUMBER_NOT_REGISTERED, callback)
        return destination, callback

    async def reserve(self, request: CallbackRequest, subscriber: Subscriber) -> Grant | Decision.Refused:
        assert request.callback_number is not None and request.destination is not None
        context = ChargingContext(
            request_id=request.id, subscriber=subscriber, leg_a_number=request.callback_number,
            leg_b_number=request.destination, max_call_seconds=self.policy.max_call_seconds,
            setup_allowance_seconds=self.dialling.setup_allowance_seconds,
        )
        try:
            grant = await self.charging.reserve(context)
        except ChargingRefused as exc:
            return Decision.Refused(exc.reason, exc.detail[:200] or None, release_claim=True)
        except PortUnavailable as exc:
            return Decision.Refused(R.CHARGING_UNAVAILABLE, str(exc)[:200], release_claim=True)
        if grant.max_talk_seconds < self.policy.min_talk_seconds:
            await self.charging.terminate(grant.reservation_id, {Leg.A: 0, Leg.B: 0})
            return Decision.Refused(R.NO_CREDIT, f"grant {grant.max_talk_seconds}s", release_claim=True)
        return grant

