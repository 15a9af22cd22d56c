"""In-memory tracking of requests whose call is in progress: leg facts as the switch reports them.

This is the only per-request memory the engine keeps between transitions, so it is slotted and small
(the load figures count bytes per in-flight request). Everything here is rebuilt from the database by
recovery if the process dies; nothing here is the record of truth.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime

from .model import CallbackRequest, CallPlan, Grant, Leg, LegEvent, LegEventKind, LegRecord
from .ports import Cancellable
from .reasons import CancelReason, FailureReason
from .states import RequestState

S = RequestState


class LiveCall:
    __slots__ = (
        "balance_minor", "call_id", "cancel_reason", "currency", "draining", "events", "failure", "grant",
        "granted_at", "guard", "legs", "plan", "renewal", "request", "settle_failures",
    )

    def __init__(self, request: CallbackRequest, balance_minor: int | None, currency: str | None) -> None:
        self.request = request
        self.balance_minor = balance_minor
        self.currency = currency
        self.plan: CallPlan | None = None
        self.call_id: str | None = None
        self.legs: dict[Leg, LegRecord] = {}
        self.events: deque[LegEvent] = deque()
        self.draining = False
        self.cancel_reason: CancelReason | None = None
        self.failure: FailureReason | None = None  # charging ended the call: this, whatever the legs say
        self.guard: Cancellable | None = None
        # The grant in force and when it arrived; None after a restart (its validity is unknown then).
        self.grant: Grant | None = None
        self.granted_at: datetime | None = None
        self.renewal: Cancellable | None = None  # the next interim update of the grant
        self.settle_failures = 0

    def start_attempt(self, plan: CallPlan) -> None:
        self.plan = plan
        self.call_id = plan.call_id
        self.legs = {}

    def reset_attempt(self) -> None:
        self.legs = {}

    def observe(self, event: LegEvent) -> None:
        """Fold one switch event into the leg records of the current attempt."""
        plan = self.plan
        if plan is None or event.call_id != plan.call_id:
            return
        if event.kind is LegEventKind.DIALLING and event.leg is not None:
            number, caller_id = (
                (plan.leg_a_number, plan.leg_a_caller_id) if event.leg is Leg.A
                else (plan.leg_b_number, plan.leg_b_caller_id)
            )
            self.legs[event.leg] = LegRecord(
                request_id=plan.request_id, call_id=plan.call_id, leg=event.leg, attempt=plan.attempt,
                number=number, caller_id=caller_id, started_at=event.at,
            )
            return
        if event.kind is LegEventKind.BRIDGED:
            for leg in self.legs.values():
                if leg.answered_at is not None and leg.ended_at is None:
                    leg.bridged_at = event.at
            return
        leg = self.legs.get(event.leg) if event.leg is not None else None
        if leg is None:
            return
        if event.kind is LegEventKind.ANSWERED:
            leg.answered_at = event.at
        elif event.kind is LegEventKind.ENDED and leg.ended_at is None:
            leg.ended_at = event.at
            leg.cause = event.cause

    def pending_states(self) -> list[RequestState]:
        """The forward states the leg facts justify, in table order (several at once in simultaneous mode)."""
        a, b = self.legs.get(Leg.A), self.legs.get(Leg.B)
        state = self.request.state
        path: list[RequestState] = []
        if state is S.DIALLING_A and a is not None and a.answered_at is not None:
            state = S.A_ANSWERED
            path.append(state)
        if state is S.A_ANSWERED and b is not None:
            state = S.DIALLING_B
            path.append(state)
        if state is S.DIALLING_B and b is not None and b.bridged_at is not None:
            path.append(S.BRIDGED)
        return path

    def leg_snapshot(self) -> tuple[LegRecord, ...]:
        return tuple(self.legs[leg].copy() for leg in (Leg.A, Leg.B) if leg in self.legs)

    def used_seconds(self, now: datetime) -> dict[Leg, int]:
        """Seconds each leg of the current attempt has used since its answer: what charging is told."""
        used = {Leg.A: 0, Leg.B: 0}
        for leg in self.legs.values():
            used[leg.leg] = leg.used_seconds(now)
        return used

    def disarm(self) -> None:
        for timer in (self.guard, self.renewal):
            if timer is not None:
                timer.cancel()
        self.guard = self.renewal = None


class CallTracker:
    """Finds a live request by its id or by the switch's call id."""

    __slots__ = ("_by_call", "_by_request", "_by_reservation")

    def __init__(self) -> None:
        self._by_request: dict[str, LiveCall] = {}
        self._by_call: dict[str, LiveCall] = {}
        self._by_reservation: dict[str, LiveCall] = {}  # for the charging system's own requests (RAR, ASR)

    def track(
        self, request: CallbackRequest, balance_minor: int | None, currency: str | None,
        reservation_id: str | None = None,
    ) -> LiveCall:
        live = LiveCall(request, balance_minor, currency)
        self._by_request[request.id] = live
        if reservation_id is not None:
            self._by_reservation[reservation_id] = live
        return live

    def bind(self, call_id: str, live: LiveCall) -> None:
        self._by_call[call_id] = live

    def unbind(self, call_id: str) -> None:
        self._by_call.pop(call_id, None)

    def forget(self, request_id: str) -> None:
        live = self._by_request.pop(request_id, None)
        if live is not None:
            live.disarm()
            if live.call_id is not None:
                self._by_call.pop(live.call_id, None)
            if live.request.reservation_id is not None:
                self._by_reservation.pop(live.request.reservation_id, None)

    def by_request(self, request_id: str) -> LiveCall | None:
        return self._by_request.get(request_id)

    def by_call(self, call_id: str) -> LiveCall | None:
        return self._by_call.get(call_id)

    def by_reservation(self, reservation_id: str) -> LiveCall | None:
        return self._by_reservation.get(reservation_id)

    def on_switch(self, live: LiveCall) -> bool:
        """Whether ``live`` has a call on the switch that has not ended yet."""
        return live.call_id is not None and self._by_call.get(live.call_id) is live

    def __len__(self) -> int:
        return len(self._by_request)
