"""Keeping a live call inside its charging grant: interim updates, re-authorisation and abort.

When to ask again is the backend's call. A ``Grant`` with ``validity_seconds`` is not final: RoCharging
sets it when a leg's quota is smaller than the call could use (a partial grant) and when the OCS sent a
Validity-Time. A grant without it is final; the ledger's always is, because it reserves the longest call
the account can pay for up front, so asking again could not buy more. The engine does not try to spot a
partial grant by comparing it with the longest call allowed: a shorter grant may be all the money there is.

Once a leg has answered, the update is due at the earliest of the grant's validity (counted from when the
grant arrived) and each answered leg's limit (counted from that leg's answer), less ``margin_seconds``.
The margin is capped at half of the span, so a short grant is not asked again at once. The new grant
replaces the old one whatever its size. A larger grant moves the guard and the switch's limits. A smaller
one (the OCS refused more credit) brings the end forward. A grant without validity ends the renewals.
When the update fails (ChargingRefused, PortUnavailable) there is no new grant: the call runs to the limit
it has, which the switch and the guard already enforce.

Nothing new is persisted. The grant only bounds the live call: CDRs record what the legs used, and
recovery after a crash bills what the stored leg events prove, not the limits. After a restart a call has
no grant in memory and is not renewed (RoCharging has lost its sessions by then too).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from .calls import CallTracker, LiveCall
from .model import Grant, Leg
from .ports import ChargingBackend, ChargingRefused, PortUnavailable, Runtime, SwitchAdapter

log = logging.getLogger(__name__)


def renewal_delay(
    grant: Grant, granted_at: datetime, answered: dict[Leg, datetime], margin: float, now: datetime
) -> float | None:
    """Seconds from ``now`` until charging should be asked again; None for a final grant or before any answer."""
    if grant.validity_seconds is None or not answered:
        return None
    limits = {Leg.A: grant.leg_a_limit, Leg.B: grant.leg_b_limit}
    spans = [(granted_at, grant.validity_seconds), *((at, limits[leg]) for leg, at in answered.items())]
    due = min(start + timedelta(seconds=span - min(margin, span / 2)) for start, span in spans)
    return max(0.0, (due - now).total_seconds())


class GrantKeeper:
    """Renews the grants of live calls, keeps the engine's guard on the limit, answers the charging system.

    It is the engine's ``RoSessionListener``: ``current_usage`` for the CCR-U a RAR asks for,
    ``grant_changed`` for its answer (handled like a renewal of our own), ``abort_requested`` for an ASR.
    """

    def __init__(
        self, *, runtime: Runtime, charging: ChargingBackend, switch: SwitchAdapter, calls: CallTracker,
        margin_seconds: float, guard_seconds: int, abort: Callable[[LiveCall], None],
    ) -> None:
        self._runtime = runtime
        self._charging = charging
        self._switch = switch
        self._calls = calls
        self._margin = margin_seconds
        self._guard_seconds = guard_seconds
        self._abort = abort

    def start(self, live: LiveCall, grant: Grant) -> None:
        """Remember the grant a fresh reservation gave; its validity counts from now."""
        live.grant, live.granted_at = grant, self._runtime.now()

    @staticmethod
    def limits(live: LiveCall) -> tuple[int, int, int]:
        """(max talk, leg A limit, leg B limit) in force: the live grant, else what the request stored."""
        if live.grant is not None:
            return live.grant.max_talk_seconds, live.grant.leg_a_limit, live.grant.leg_b_limit
        request = live.request
        return request.max_talk_seconds or 0, request.leg_a_limit or 0, request.leg_b_limit or 0

    def leg_answered(self, live: LiveCall) -> None:
        """A leg's clock started: its limit may now be the first deadline."""
        self._schedule(live)

    def arm_guard(self, live: LiveCall) -> None:
        """The engine's own limit: if the switch overruns leg A's limit, hang up a little after it."""
        if live.guard is not None:
            live.guard.cancel()
        now = self._runtime.now()
        a = live.legs.get(Leg.A)
        start = a.answered_at if a is not None and a.answered_at is not None else now
        delay = (start - now).total_seconds() + self.limits(live)[1] + self._guard_seconds
        call_id = live.call_id

        def fire() -> None:
            live.guard = None
            if call_id is not None and self._calls.by_call(call_id) is live:
                self._runtime.spawn(self._switch.hangup(call_id))

        live.guard = self._runtime.call_later(max(0.0, delay), fire)

    # -- RoSessionListener -------------------------------------------------------------------------

    def current_usage(self, reservation_id: str) -> dict[Leg, int] | None:
        live = self._calls.by_reservation(reservation_id)
        return live.used_seconds(self._runtime.now()) if live is not None else None

    def grant_changed(self, reservation_id: str, grant: Grant) -> None:
        live = self._calls.by_reservation(reservation_id)
        if live is not None:
            self._apply(live, grant)

    def abort_requested(self, reservation_id: str) -> None:
        live = self._calls.by_reservation(reservation_id)
        if live is None:
            log.warning("charging aborted %s, which no live call holds", reservation_id)
            return
        self._abort(live)

    # -- renewal -----------------------------------------------------------------------------------

    def _schedule(self, live: LiveCall) -> None:
        if live.renewal is not None:
            live.renewal.cancel()
            live.renewal = None
        if live.grant is None or live.granted_at is None:
            return
        answered = {leg.leg: leg.answered_at for leg in live.legs.values()
                    if leg.answered_at is not None and leg.ended_at is None}
        delay = renewal_delay(live.grant, live.granted_at, answered, self._margin, self._runtime.now())
        if delay is None:
            return

        def fire() -> None:
            live.renewal = None
            self._runtime.spawn(self._renew(live))

        live.renewal = self._runtime.call_later(delay, fire)

    async def _renew(self, live: LiveCall) -> None:
        grant = live.grant
        if grant is None or not self._calls.on_switch(live):
            return
        used = live.used_seconds(self._runtime.now())
        try:
            renewed = await self._charging.update(grant.reservation_id, used)
        except (ChargingRefused, PortUnavailable) as exc:
            log.warning("update of %s failed (%s): request %s ends at its current limit",
                        grant.reservation_id, exc, live.request.id)
            return
        self._apply(live, renewed)

    def _apply(self, live: LiveCall, grant: Grant) -> None:
        """Put a new grant in force: guard, switch limits and the next renewal follow it."""
        if self._calls.by_request(live.request.id) is not live:
            return  # settled meanwhile
        before = self.limits(live)[1:]
        live.grant, live.granted_at = grant, self._runtime.now()
        if (grant.leg_a_limit, grant.leg_b_limit) != before:
            log.info("request %s: limits now A %ss B %ss", live.request.id, grant.leg_a_limit, grant.leg_b_limit)
            if live.guard is not None:
                self.arm_guard(live)
            if live.call_id is not None and self._calls.on_switch(live):
                self._runtime.spawn(self._switch.set_limits(live.call_id, grant.leg_a_limit, grant.leg_b_limit))
        self._schedule(live)
