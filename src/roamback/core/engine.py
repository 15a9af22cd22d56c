"""The callback engine: takes a trigger through decision, charging, dialling and settlement.

It owns the request lifecycle and nothing else: front doors hand it ``CallbackTrigger``s, adapters behind
the ports do the I/O. Every step is a ``Transition`` persisted before the engine acts on it, so a crash at
any line leaves a stored state that ``recovery`` can resume or end cleanly.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from . import numbers
from .calls import CallTracker, LiveCall
from .decision import Decider, Decision
from .messages import MessageCatalog, format_duration, format_money
from .model import (
    CallbackRequest,
    CallbackTrigger,
    CallMode,
    CallPlan,
    Leg,
    LegEvent,
    LegEventKind,
    LegRecord,
    Notice,
    Prompt,
    Settlement,
    Subscriber,
    Transition,
)
from .policies import PolicySettings
from .ports import (
    ActiveClaimTaken,
    Cancellable,
    ChargingBackend,
    RequestStore,
    Runtime,
    SubscriberDirectory,
    SwitchAdapter,
)
from .reasons import CancelReason, FailureReason, HangupCause, RefusalReason
from .reauthorisation import GrantKeeper
from .states import RequestState, check_transition

S = RequestState
log = logging.getLogger(__name__)
TransitionListener = Callable[[CallbackRequest, Transition], None]


@dataclass(frozen=True, slots=True)
class DiallingSettings:
    service_caller_id: str
    mode: CallMode = CallMode.A_FIRST
    ring_timeout_seconds: int = 30
    setup_allowance_seconds: int = 45
    a_max_attempts: int = 3
    a_retry_delays_seconds: tuple[float, ...] = (20.0, 60.0)
    a_retry_causes: frozenset[HangupCause] = frozenset({HangupCause.BUSY, HangupCause.NO_ANSWER})
    leg_b_caller_id_is_requester: bool = True
    guard_seconds: int = 5  # the engine's own time limit fires this long after the switch's
    # Ask charging to extend a grant this long before its validity or a leg's limit runs out (at most half
    # of that span): room for the answer (Diameter Tx) to arrive before the switch cuts the call.
    reauthorise_margin_seconds: int = 10


_A_FAILURES = {
    HangupCause.BUSY: FailureReason.A_BUSY,
    HangupCause.NO_ANSWER: FailureReason.A_NO_ANSWER,
    HangupCause.REJECTED: FailureReason.A_REJECTED,
    HangupCause.SWITCH_ERROR: FailureReason.SWITCH_ERROR,
}
_B_FAILURES = {
    HangupCause.BUSY: FailureReason.B_BUSY,
    HangupCause.NO_ANSWER: FailureReason.B_NO_ANSWER,
    HangupCause.REJECTED: FailureReason.B_REJECTED,
    HangupCause.SWITCH_ERROR: FailureReason.SWITCH_ERROR,
}


class CallbackEngine:
    def __init__(
        self,
        *,
        runtime: Runtime,
        store: RequestStore,
        directory: SubscriberDirectory,
        charging: ChargingBackend,
        switch: SwitchAdapter,
        catalog: MessageCatalog,
        policy: PolicySettings,
        dialling: DiallingSettings,
        home_region: str,
        default_language: str,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self.runtime = runtime
        self.store = store
        self.charging = charging
        self.switch = switch
        self.catalog = catalog
        self.policy = policy
        self.dialling = dialling
        self.default_language = default_language
        self.home_region = home_region
        self._new_id = new_id
        self._decider = Decider(
            store=store, directory=directory, charging=charging, policy=policy,
            dialling=dialling, home_region=home_region, now=runtime.now,
        )
        self._calls = CallTracker()
        self._keeper = GrantKeeper(
            runtime=runtime, charging=charging, switch=switch, calls=self._calls,
            margin_seconds=dialling.reauthorise_margin_seconds, guard_seconds=dialling.guard_seconds,
            abort=self._charging_aborted,
        )
        self._timers: dict[str, Cancellable] = {}
        self._listeners: list[TransitionListener] = []
        switch.subscribe(self._on_leg_event)

    # -- front doors -------------------------------------------------------------------------------

    def add_listener(self, listener: TransitionListener) -> None:
        """Observe every persisted transition (logs, metrics, the demo's live printout)."""
        self._listeners.append(listener)

    @property
    def charging_listener(self) -> GrantKeeper:
        """What a charging backend that speaks first (RoCharging.set_listener) reports RAR and ASR to."""
        return self._keeper

    async def submit(self, trigger: CallbackTrigger) -> CallbackRequest:
        """Decide, store the request with its decision in one transaction, and start dialling.

        The caller may acknowledge the trigger to the network as soon as this returns: the request is
        then durable. Deciding first (reads only) lets the trigger, its acceptance and the claim of the
        subscriber's active slot share one commit; if the process dies before it, nothing was stored
        and nothing was acknowledged, so the network sends the trigger again.
        """
        if trigger.reference:
            existing = await self.store.find_by_reference(trigger.channel.value, trigger.reference)
            if existing is not None:
                return existing
        now = self.runtime.now()
        request = CallbackRequest(
            id=self._new_id(), channel=trigger.channel, requester=self._identity(trigger.requester),
            destination_raw=trigger.destination, callback_raw=trigger.callback_number,
            language=trigger.language or self.default_language, created_at=now, updated_at=now,
            reference=trigger.reference,
        )
        await self._decide_and_dial(request, explicit_language=trigger.language, create=True)
        return request

    def _identity(self, requester: str) -> str:
        """The requester as E.164 when it parses, else as sent (the directory will not know it)."""
        try:
            return numbers.normalise(requester, self.home_region)
        except numbers.InvalidNumber:
            return requester.strip()[:32]

    async def get(self, request_id: str) -> CallbackRequest | None:
        live = self._calls.by_request(request_id)
        return live.request if live is not None else await self.store.get(request_id)

    def describe(self, request: CallbackRequest) -> str:
        """The subscriber-facing text for where the request stands now, in its language."""
        if request.state is S.REFUSED:
            return self.catalog.render(f"refusal.{request.reason}", request.language)
        if request.state is S.FAILED:
            return self.catalog.render(f"failure.{request.reason}", request.language)
        if request.state is S.CANCELLED:
            return self.catalog.render(f"cancelled.{request.reason}", request.language)
        minutes = max(1, (request.max_talk_seconds or 0) // 60)
        return self.catalog.render("accepted", request.language, max_minutes=minutes)

    async def cancel(self, request_id: str, reason: CancelReason) -> bool:
        live = self._calls.by_request(request_id)
        if live is None:
            return False
        live.cancel_reason = reason
        await self._stop(live, S.CANCELLED, reason.value)
        return True

    def _charging_aborted(self, live: LiveCall) -> None:
        """Charging withdrew the whole grant (Diameter ASR): hang up; the request fails on charging."""
        live.failure = FailureReason.CHARGING_ERROR
        self.runtime.spawn(self._stop(live, S.FAILED, live.failure.value))

    async def _stop(self, live: LiveCall, target: RequestState, reason: str) -> None:
        """End a request now: hang its call up (its end is then settled as usual), or finish it at once."""
        timer = self._timers.pop(live.request.id, None)
        if timer is not None:  # waiting to retry leg A: nothing is on the switch
            timer.cancel()
            await self._finish(live, target, reason)
        elif live.call_id is not None and self._calls.on_switch(live):
            await self.switch.hangup(live.call_id)

    @property
    def live_count(self) -> int:
        return len(self._calls)

    def is_live(self, request_id: str) -> bool:
        """Whether this process still has work to do for the request (a call, a retry, a settlement)."""
        return self._calls.by_request(request_id) is not None

    # -- decision and dialling ---------------------------------------------------------------------

    async def _decide_and_dial(self, request: CallbackRequest, explicit_language: str | None, create: bool) -> None:
        decision = await self._decider.decide(request, explicit_language)
        if isinstance(decision, Decision.Refused):
            await self._refuse(request, decision, create=create)
            return
        accepted = self._step(request, request.state, S.ACCEPTED, changes=decision.accepted_changes,
                              claim_active=decision.claim_active)
        try:
            await self._commit(request, accepted, create=create)
        except ActiveClaimTaken:
            await self._refuse(request, Decision.Refused(RefusalReason.ALREADY_ACTIVE), create=create)
            return
        await self._reserve_and_dial(request, decision.subscriber)

    async def _reserve_and_dial(self, request: CallbackRequest, subscriber: Subscriber) -> None:
        grant = await self._decider.reserve(request, subscriber)
        if isinstance(grant, Decision.Refused):
            await self._refuse(request, grant)
            return
        reserved = self._step(request, request.state, S.RESERVED, changes={
            "reservation_id": grant.reservation_id, "max_talk_seconds": grant.max_talk_seconds,
            "leg_a_limit": grant.leg_a_limit, "leg_b_limit": grant.leg_b_limit,
        })
        live = self._calls.track(request, balance_minor=grant.balance_minor, currency=grant.currency,
                                 reservation_id=grant.reservation_id)
        self._keeper.start(live, grant)
        await self._dial(live, reserved)

    # -- recovery entry points ---------------------------------------------------------------------

    async def resume_decision(self, request: CallbackRequest) -> None:
        """A request stored before a restart but not yet reserved: decide (or reserve) again."""
        if request.state is S.RECEIVED:
            await self._decide_and_dial(request, explicit_language=None, create=False)
            return
        subscriber = await self._decider.directory.lookup(request.requester)
        if subscriber is None:
            await self._refuse(request, Decision.Refused(RefusalReason.UNKNOWN_SUBSCRIBER, release_claim=True))
            return
        await self._reserve_and_dial(request, subscriber)

    async def resume_dialling(self, request: CallbackRequest) -> None:
        """A reserved request (or one waiting to retry) that nothing is dialling yet."""
        live = self._calls.track(request, balance_minor=None, currency=None, reservation_id=request.reservation_id)
        await self._dial(live)

    async def end_request(
        self, request: CallbackRequest, target: RequestState, reason: str | None, detail: str,
        until: datetime,
    ) -> None:
        """End a request this process is not tracking: settle on what is known, write CDRs and notice."""
        legs = tuple(leg for leg in request.legs if leg.call_id == request.call_id)
        for leg in legs:
            if leg.ended_at is None:
                leg.ended_at = max(until, leg.answered_at or leg.started_at)
        await self._write_end(request, legs, target, reason, detail, until)

    async def _dial(self, live: LiveCall, reserved: Transition | None = None) -> None:
        """Originate the next attempt; a fresh reservation is persisted in the same commit as the dialling."""
        request = live.request
        attempt = request.attempts + 1
        call_id = f"{request.id}.{attempt}"
        max_talk, leg_a_limit, leg_b_limit = self._keeper.limits(live)  # a re-authorised grant, on a retry
        assert request.callback_number and request.destination
        plan = CallPlan(
            call_id=call_id, request_id=request.id, attempt=attempt,
            leg_a_number=request.callback_number, leg_a_caller_id=self.dialling.service_caller_id,
            leg_b_number=request.destination,
            leg_b_caller_id=(request.requester if self.dialling.leg_b_caller_id_is_requester
                             else self.dialling.service_caller_id),
            leg_a_limit=leg_a_limit, leg_b_limit=leg_b_limit,
            ring_timeout=self.dialling.ring_timeout_seconds,
            prompt=Prompt(language=request.language, max_seconds=max_talk,
                          balance_minor=live.balance_minor, currency=live.currency),
            mode=self.dialling.mode,
        )
        live.start_attempt(plan)
        self._calls.bind(call_id, live)
        steps = (reserved,) if reserved is not None else ()
        source = reserved.target if reserved is not None else request.state
        dialling = self._step(request, source, S.DIALLING_A, changes={"call_id": call_id, "attempts": attempt})
        await self._commit(request, *steps, dialling)
        try:
            await self.switch.originate(plan)
        except Exception as exc:  # the switch refused the call outright: nothing rang
            self._calls.unbind(call_id)
            await self._finish(live, S.FAILED, FailureReason.SWITCH_ERROR.value, detail=str(exc)[:200])

    async def _refuse(self, request: CallbackRequest, refused: Decision.Refused, create: bool = False) -> None:
        for name, value in refused.changes.items():
            setattr(request, name, value)  # e.g. the subscriber's language, so the notice is in it
        notice = self._notice(request, f"refusal.{refused.reason.value}")
        step = self._step(request, request.state, S.REFUSED, reason=refused.reason.value, detail=refused.detail,
                          changes=refused.changes, notice=notice, release_active=refused.release_claim)
        await self._commit(request, step, create=create)

    # -- leg events --------------------------------------------------------------------------------

    def _on_leg_event(self, event: LegEvent) -> None:
        live = self._calls.by_call(event.call_id)
        if live is None:
            return  # a call this process no longer tracks (ended, or another node's): nothing to do
        if live.draining:
            live.events.append(event)
            return
        # Nothing is being persisted for this call, so the event can be folded in at once; most events
        # (a leg ringing, a leg released just before CALL_ENDED) move no state and need no coroutine.
        self._observe(live, event)
        if self._moves_state(live, event):
            live.draining = True
            self.runtime.spawn(self._drain(live, event))

    def _observe(self, live: LiveCall, event: LegEvent) -> None:
        live.observe(event)
        if event.kind is LegEventKind.ANSWERED:
            self._keeper.leg_answered(live)

    @staticmethod
    def _moves_state(live: LiveCall, event: LegEvent) -> bool:
        return event.kind is LegEventKind.CALL_ENDED or bool(live.pending_states())

    async def _drain(self, live: LiveCall, first: LegEvent) -> None:
        """Act on a call's events strictly one after another, each persisted before the next."""
        try:
            await self._act(live, first)
            while live.events:
                event = live.events.popleft()
                self._observe(live, event)
                await self._act(live, event)
        finally:
            live.draining = False

    async def _act(self, live: LiveCall, event: LegEvent) -> None:
        """Persist what an observed event implies: the end of the call, or the states it reached."""
        if event.kind is LegEventKind.CALL_ENDED:
            self._calls.unbind(event.call_id)
            await self._call_ended(live)
            return
        path = live.pending_states()
        if not path:
            return
        request = live.request
        legs = live.leg_snapshot()
        sources = (request.state, *path[:-1])
        last = path[-1]
        await self._commit(request, *(self._step(request, source, target, legs=legs if target is last else ())
                                      for source, target in zip(sources, path, strict=True)))
        if S.A_ANSWERED in path:
            self._keeper.arm_guard(live)

    async def _call_ended(self, live: LiveCall) -> None:
        live.disarm()
        a, b = live.legs.get(Leg.A), live.legs.get(Leg.B)
        if live.cancel_reason is not None:
            await self._finish(live, S.CANCELLED, live.cancel_reason.value)
        elif live.failure is not None:
            await self._finish(live, S.FAILED, live.failure.value)
        elif b is not None and b.bridged_at is not None:
            await self._finish(live, S.COMPLETED, None)
        elif a is None or a.answered_at is None:
            await self._leg_a_failed(live, a.cause if a else HangupCause.SWITCH_ERROR)
        elif b is None or b.answered_at is None:
            cause = b.cause if b is not None else None
            reason = (_B_FAILURES.get(cause, FailureReason.B_UNREACHABLE) if cause is not None
                      else FailureReason.A_HUNG_UP)
            if b is not None and cause is HangupCause.NORMAL:
                reason = FailureReason.A_HUNG_UP
            await self._finish(live, S.FAILED, reason.value)
        else:
            await self._finish(live, S.FAILED, FailureReason.A_HUNG_UP.value)

    async def _leg_a_failed(self, live: LiveCall, cause: HangupCause | None) -> None:
        request = live.request
        retryable = cause in self.dialling.a_retry_causes
        if retryable and request.attempts < self.dialling.a_max_attempts:
            delays = self.dialling.a_retry_delays_seconds
            delay = delays[min(request.attempts - 1, len(delays) - 1)] if delays else 0.0
            await self._record(request, S.A_RETRY_WAIT, reason=cause.value if cause else None,
                               legs=live.leg_snapshot())
            live.reset_attempt()
            self._timers[request.id] = self.runtime.call_later(delay, self._retry, live)
            return
        reason = _A_FAILURES.get(cause, FailureReason.A_UNREACHABLE) if cause else FailureReason.A_UNREACHABLE
        await self._finish(live, S.FAILED, reason.value)

    def _retry(self, live: LiveCall) -> None:
        self._timers.pop(live.request.id, None)
        self.runtime.spawn(self._dial(live))

    # -- settlement --------------------------------------------------------------------------------

    async def _finish(
        self, live: LiveCall, target: RequestState, reason: str | None, detail: str | None = None
    ) -> None:
        """Settle charging, then write the terminal state, every leg's CDR and the notice at once."""
        try:
            await self._write_end(live.request, live.leg_snapshot(), target, reason, detail, None)
        except Exception as exc:  # charging or the database is down: keep the call and try again
            delay = min(300.0, 5.0 * 2 ** live.settle_failures)
            live.settle_failures += 1
            log.error("settling request %s failed (%s); retrying in %.0fs", live.request.id, exc, delay)
            self.runtime.call_later(
                delay, lambda: self.runtime.spawn(self._finish(live, target, reason, detail))
            )
            return
        self._calls.forget(live.request.id)

    async def _write_end(
        self, request: CallbackRequest, legs: tuple[LegRecord, ...], target: RequestState,
        reason: str | None, detail: str | None, until: datetime | None,
    ) -> None:
        settlement = await self._settle(request, legs, until)
        if target is S.COMPLETED:
            notice = self._completion_notice(request, legs, settlement)
        else:
            notice = self._notice(request, f"{'failure' if target is S.FAILED else 'cancelled'}.{reason}")
        await self._record(request, target, reason=reason, detail=detail, legs=legs, notice=notice,
                           release_active=True)

    async def _settle(
        self, request: CallbackRequest, legs: tuple[LegRecord, ...], until: datetime | None
    ) -> Settlement | None:
        if request.reservation_id is None:
            return None
        used = {Leg.A: 0, Leg.B: 0}
        for leg in legs:
            used[leg.leg] += leg.used_seconds(until)
        if used[Leg.B] == 0 and not self.policy.bill_leg_a_when_b_fails:
            used[Leg.A] = 0
        settlement = await self.charging.terminate(request.reservation_id, used)
        for leg in legs:
            if leg.call_id == request.call_id:
                leg.billed_seconds = settlement.billed_seconds.get(leg.leg, 0)
                leg.cost_minor = settlement.leg_cost_minor.get(leg.leg, 0)
        return settlement

    def _completion_notice(
        self, request: CallbackRequest, legs: tuple[LegRecord, ...], settlement: Settlement | None
    ) -> Notice:
        talk = next((leg.used_seconds() for leg in legs
                     if leg.leg is Leg.B and leg.call_id == request.call_id), 0)
        currency = settlement.currency if settlement and settlement.currency else ""
        cost = format_money(settlement.cost_minor if settlement else 0, currency, request.language)
        if settlement is None or settlement.balance_minor is None:  # an OCS does not tell the balance
            return self._notice(request, "completed_no_balance", destination=request.destination or "",
                                duration=format_duration(talk), cost=cost)
        balance = format_money(settlement.balance_minor, currency, request.language)
        return self._notice(request, "completed", destination=request.destination or "",
                            duration=format_duration(talk), cost=cost, balance=balance)

    # -- persistence -------------------------------------------------------------------------------

    def _notice(self, request: CallbackRequest, key: str, **params: object) -> Notice:
        text = self.catalog.render(key, request.language, **params)
        return Notice(request_id=request.id, msisdn=request.requester, language=request.language,
                      key=key, text=text)

    async def _record(self, request: CallbackRequest, target: RequestState, **step: Any) -> None:
        await self._commit(request, self._step(request, request.state, target, **step))

    def _step(
        self,
        request: CallbackRequest,
        source: RequestState,
        target: RequestState,
        *,
        reason: str | None = None,
        detail: str | None = None,
        changes: dict[str, object] | None = None,
        legs: tuple[LegRecord, ...] = (),
        notice: Notice | None = None,
        release_active: bool = False,
        claim_active: bool = False,
    ) -> Transition:
        """``legs`` must be copies the engine no longer changes (``LiveCall.leg_snapshot``)."""
        check_transition(source, target)
        return Transition(
            request_id=request.id, source=source, target=target, at=self.runtime.now(), reason=reason,
            detail=detail, changes=dict(changes or {}), legs=legs,
            notice=notice, release_active=release_active, claim_active=claim_active,
        )

    async def _commit(self, request: CallbackRequest, *steps: Transition, create: bool = False) -> None:
        """Persist consecutive steps in one transaction, then apply them to the request in memory."""
        if create:
            await self.store.create(request, *steps)
            self._notify(request, Transition(request.id, S.RECEIVED, S.RECEIVED, request.created_at))
        else:
            await self.store.record(*steps)
        for transition in steps:
            request.state = transition.target
            request.updated_at = transition.at
            request.reason = transition.reason
            request.detail = transition.detail
            for name, value in transition.changes.items():
                setattr(request, name, value)
            self._notify(request, transition)

    def _notify(self, request: CallbackRequest, transition: Transition) -> None:
        for listener in self._listeners:
            listener(request, transition)
