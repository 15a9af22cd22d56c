"""The Diameter Ro ChargingBackend: session charging with unit reservation against the operator's OCS.

One credit-control session per callback, one Multiple-Services-Credit-Control per leg (Rating-Group and
Service-Identifier from configuration). ``reserve`` is the CCR-I before leg A is dialled, ``update`` a
CCR-U, ``terminate`` the CCR-T with the seconds each leg used (zero when the call never connected, which
releases the reservation). The reservation id is the Session-Id.

Seconds are counted from each leg's answer, cumulatively, on both sides of this class: ``update`` and
``terminate`` take the total used so far, the class reports the difference since the last report as
Used-Service-Unit (what Ro wants), and every Grant it returns states the total each leg may reach, so the
engine only moves its hang-up timers. Leg A's quota also pays for the prompt and for ringing leg B, hence
``max_talk = min(B, A - setup allowance)``.

The Settlement's cost is the CCA-T's Cost-Information when the OCS sends one (in minor units of its
currency), else 0 with no currency: the OCS, not this class, prices the call.

Server-initiated requests: a RAR is answered and followed at once by a CCR-U; an ASR is answered and passed
to the listener, whose job is to hang up (and then terminate, which sends the CCR-T).
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from twisted.internet.defer import Deferred, DeferredLock
from twisted.logger import Logger

from ..core.model import Balance, ChargingContext, Grant, Leg, Settlement, Subscriber
from ..core.ports import ChargingRefused, PortUnavailable
from ..core.reasons import RefusalReason
from .codec import DecodeError, Message
from .credit_control import CcrEncoder, CreditAnswer, ServiceUsage, SessionFacts, read_answer
from .dictionary import CcRequestType, FailureHandling, ReportingReason, ResultCode
from .node_factory import build_node
from .results import is_success, refusal_for
from .routing import OutgoingRequest
from .server_requests import ServerRequests
from .settings import RoSettings
from .twisted_peer import RequestNotAnswered

log = Logger()
_SETTLED_KEPT = 10_000
_FAILURE_HANDLING_VALUES = frozenset(handling.value for handling in FailureHandling)
INITIAL, UPDATE, TERMINATION = CcRequestType.INITIAL, CcRequestType.UPDATE, CcRequestType.TERMINATION


class Requester(Protocol):
    """What the backend needs of the Diameter node (a ``DiameterNode``, or a fake in unit tests)."""

    def request(self, request: OutgoingRequest) -> Deferred[Message]: ...

    def set_request_handler(self, handler: Callable[[str, Message], bytes]) -> None: ...


class RoSessionListener(Protocol):
    """The engine's side of server-initiated requests."""

    def current_usage(self, reservation_id: str) -> dict[Leg, int] | None:
        """Seconds used so far per leg (from each answer), for the CCR-U a RAR asks for; None if unknown."""
        ...

    def grant_changed(self, reservation_id: str, grant: Grant) -> None:
        """A RAR-triggered CCR-U changed the limits."""
        ...

    def abort_requested(self, reservation_id: str) -> None:
        """The OCS sent ASR: hang up now, then terminate as usual."""
        ...


@dataclass(slots=True)
class _Session:
    id: str
    parts: tuple[bytes, bytes]
    requested: dict[Leg, int]
    allowance: int
    max_call: int
    failure_handling: FailureHandling
    destination_host: str | None = None
    number: int = 0
    used: dict[Leg, int] = field(default_factory=lambda: {Leg.A: 0, Leg.B: 0})
    limits: dict[Leg, int] = field(default_factory=lambda: {Leg.A: 0, Leg.B: 0})
    final: bool = False
    validity: int | None = None  # Validity-Time of the last answer
    quota: int | None = None  # the smallest quota the last answer granted a leg
    controlled: bool = True  # False after 4011 or a CCFH CONTINUE: no more CCRs for this session
    termination_number: int | None = None
    settlement: Settlement | None = None
    lock: DeferredLock = field(default_factory=DeferredLock)


class RoCharging:
    """ChargingBackend over Diameter Ro. Build with ``RoCharging.from_settings(settings, reactor)``."""

    def __init__(
        self, node: Requester, settings: RoSettings, *, session_prefix: str,
        schedule: Callable[[Callable[[], None]], object],
    ) -> None:
        self._node = node
        self.service = node  # what to start and stop: a DiameterNode is a Twisted service
        self._settings = settings
        self._encoder = CcrEncoder(
            origin_host=settings.origin_host, origin_realm=settings.origin_realm,
            destination_realm=settings.destination_realm, service_context_id=settings.service_context_id,
        )
        self._keys = {Leg.A: settings.leg_a, Leg.B: settings.leg_b}
        self._prefix = session_prefix
        self._counter = itertools.count(1)
        self._sessions: dict[str, _Session] = {}
        self._settled: OrderedDict[str, Settlement] = OrderedDict()  # recent ones, for a repeated terminate
        self._failure_observers: list[Callable[[str], None]] = []
        self.server_requests = ServerRequests(settings, self._sessions.__contains__, self._reauthorise, schedule)
        node.set_request_handler(self.server_requests.handle)

    @classmethod
    def from_settings(cls, settings: RoSettings, reactor: Any) -> RoCharging:
        """The backend and its Diameter node; add ``backend.service`` to the application's service tree."""
        return cls(build_node(settings, reactor), settings,
                   session_prefix=f"{settings.origin_host};{int(reactor.seconds())}",
                   schedule=lambda fn: reactor.callLater(0, fn))

    def set_listener(self, listener: RoSessionListener) -> None:
        self.server_requests.listener = listener

    def observe_failure_handling(self, observer: Callable[[str], None]) -> None:
        """Be told each time an unanswered request engages Credit-Control-Failure-Handling (an alarm)."""
        self._failure_observers.append(observer)

    def _failure_handling_engaged(self, detail: str) -> None:
        for observer in self._failure_observers:
            observer(detail)

    # -- ChargingBackend ---------------------------------------------------------------------------

    async def reserve(self, context: ChargingContext) -> Grant:
        session = self._open(context)
        usages = [self._usage(session, leg, requested=session.requested[leg]) for leg in Leg]
        refusal: ChargingRefused | None = None
        try:
            async with session.lock:  # a RAR racing the CCA-I waits until the grant is known
                answer = await self._exchange(session, INITIAL, usages)
                if is_success(answer.result_code):
                    try:
                        self._apply(session, answer)
                    except ChargingRefused as exc:  # one leg refused: the other's reservation must go back
                        refusal = exc
        except RequestNotAnswered as exc:
            del self._sessions[session.id]
            self._failure_handling_engaged(f"CCR-I {exc.reason}: {session.failure_handling.name}")
            if session.failure_handling is FailureHandling.CONTINUE:
                log.warn("AUDIT: OCS unreachable ({why}); CONTINUE grants {id} without credit control",
                         why=exc.reason, id=session.id)
                return self._uncontrolled(session)
            raise ChargingRefused(RefusalReason.CHARGING_UNAVAILABLE, f"CCR-I {exc.reason}") from exc
        except PortUnavailable:
            del self._sessions[session.id]
            raise
        if answer.result_code == ResultCode.CREDIT_CONTROL_NOT_APPLICABLE:
            return self._uncontrolled(session)
        if not is_success(answer.result_code):
            del self._sessions[session.id]
            raise ChargingRefused(refusal_for(answer.result_code), f"CCA-I result {answer.result_code}")
        grant = self._grant(session)
        if refusal is None and grant.max_talk_seconds <= 0:
            refusal = ChargingRefused(RefusalReason.NO_CREDIT,
                                      f"granted A {session.limits[Leg.A]}s B {session.limits[Leg.B]}s")
        if refusal is not None:
            await self._release(session)
            raise refusal
        return grant

    async def update(self, reservation_id: str, used: dict[Leg, int]) -> Grant:
        session = self._session(reservation_id)
        async with session.lock:
            return await self._update(session, used, ReportingReason.VALIDITY_TIME)

    async def terminate(self, reservation_id: str, used: dict[Leg, int]) -> Settlement:
        settled = self._settled.get(reservation_id)
        if settled is not None:
            return settled
        session = self._sessions.get(reservation_id) or self._orphan(reservation_id)
        async with session.lock:
            if session.settlement is not None:  # settled while we waited for the lock
                return session.settlement
            billed = {leg: max(0, used.get(leg, 0)) for leg in Leg}
            cost = None
            if session.controlled:
                usages = [self._usage(session, leg, used=billed[leg], reason=ReportingReason.FINAL) for leg in Leg]
                try:
                    answer = await self._exchange(session, TERMINATION, usages)
                except RequestNotAnswered as exc:
                    self._failure_handling_engaged(f"CCR-T {exc.reason}")
                    raise PortUnavailable(f"CCR-T for {reservation_id}: {exc.reason}") from exc
                if not is_success(answer.result_code):
                    log.warn("CCR-T for {id} answered {code}; usage stands as reported",
                             id=reservation_id, code=answer.result_code)
                cost = answer.cost
            session.settlement = Settlement(billed_seconds=billed, cost_minor=cost.minor if cost else 0,
                                            currency=cost.currency if cost else None)
            self._forget(session)
            return session.settlement

    async def balance(self, subscriber: Subscriber) -> Balance | None:
        """Ro has no amount to give: CHECK_BALANCE answers only enough/not enough (RFC 4006 5.6.3)."""
        return None

    # -- sessions ----------------------------------------------------------------------------------

    def _open(self, context: ChargingContext) -> _Session:
        session_id = f"{self._prefix};{next(self._counter)}"
        facts = SessionFacts(session_id, context.subscriber.msisdn, context.subscriber.imsi,
                             calling=context.subscriber.msisdn, called=context.leg_b_number)
        allowance = context.setup_allowance_seconds
        session = _Session(
            id=session_id, parts=self._encoder.session_parts(facts), allowance=allowance,
            requested={Leg.A: context.max_call_seconds + allowance, Leg.B: context.max_call_seconds},
            max_call=context.max_call_seconds, failure_handling=self._settings.failure_handling_code,
        )
        self._sessions[session_id] = session
        return session

    def _orphan(self, reservation_id: str) -> _Session:
        """A session from before a restart: send its CCR-T anyway, so the OCS releases the reservation
        now instead of at its own session timeout. The request number is a guess (1): it is lost."""
        log.warn("CCR-T for {id}, unknown since a restart: request number guessed", id=reservation_id)
        session = _Session(id=reservation_id, parts=self._encoder.bare_session(reservation_id),
                           requested={Leg.A: 0, Leg.B: 0}, allowance=0, max_call=0,
                           failure_handling=self._settings.failure_handling_code, number=1)
        self._sessions[reservation_id] = session
        return session

    def _forget(self, session: _Session) -> None:
        """Drop a settled session, remembering its settlement for a while: recovery may ask again."""
        self._sessions.pop(session.id, None)
        assert session.settlement is not None
        self._settled[session.id] = session.settlement
        while len(self._settled) > _SETTLED_KEPT:
            self._settled.popitem(last=False)

    def _session(self, reservation_id: str) -> _Session:
        session = self._sessions.get(reservation_id)
        if session is None:
            raise PortUnavailable(f"unknown Ro session {reservation_id}")
        return session

    def _usage(self, session: _Session, leg: Leg, *, requested: int | None = None, used: int | None = None,
               reason: ReportingReason | None = None) -> ServiceUsage:
        keys = self._keys[leg]
        delta = None if used is None else max(0, used - session.used[leg])
        return ServiceUsage(keys.rating_group, keys.service_identifier, requested, delta, reason)

    async def _exchange(self, session: _Session, kind: CcRequestType, usages: list[ServiceUsage]) -> CreditAnswer:
        if kind is TERMINATION:
            if session.termination_number is None:
                session.termination_number = session.number
                session.number += 1
            number = session.termination_number
        else:
            number = session.number
            session.number += 1
        parts, encoder = session.parts, self._encoder
        request = OutgoingRequest(
            build=lambda host: encoder.build(parts, kind, number, usages, host),
            realm=self._settings.destination_realm,
            destination_host=None if kind is INITIAL else session.destination_host,
            retry_on_timeout=session.failure_handling is not FailureHandling.TERMINATE,
        )
        message = await self._node.request(request)
        try:
            answer = read_answer(message)
        except DecodeError as exc:  # the OCS's broken answer: charging is unavailable, not our crash
            raise PortUnavailable(f"CC answer {kind.name} for {session.id} undecodable: {exc}") from exc
        if is_success(answer.result_code):
            if kind is INITIAL and answer.origin_host:
                session.destination_host = answer.origin_host
            if answer.failure_handling in _FAILURE_HANDLING_VALUES:  # an unknown value changes nothing
                session.failure_handling = FailureHandling(answer.failure_handling)
        return answer

    async def _update(self, session: _Session, used: dict[Leg, int], reason: ReportingReason) -> Grant:
        if not session.controlled or session.final or session.settlement is not None:
            return self._grant(session)
        totals = {leg: max(session.used[leg], used.get(leg, 0)) for leg in Leg}
        usages = [self._usage(session, leg, requested=max(0, session.requested[leg] - totals[leg]),
                              used=totals[leg], reason=reason) for leg in Leg]
        try:
            answer = await self._exchange(session, UPDATE, usages)
        except RequestNotAnswered as exc:
            self._failure_handling_engaged(f"CCR-U {exc.reason}: {session.failure_handling.name}")
            if session.failure_handling is FailureHandling.CONTINUE:
                log.warn("AUDIT: CCR-U for {id} unanswered ({why}); CONTINUE keeps the call up", id=session.id,
                         why=exc.reason)
                session.used = totals
                return self._uncontrolled(session)
            raise PortUnavailable(f"CCR-U for {session.id}: {exc.reason}") from exc
        session.used = totals
        if not is_success(answer.result_code):
            log.info("CCR-U for {id} refused ({code}): the call ends now", id=session.id, code=answer.result_code)
            session.limits, session.final = dict(totals), True
            return self._grant(session)
        try:
            self._apply(session, answer)
        except ChargingRefused as exc:  # one leg refused more credit: it ends with what it used
            log.info("CCR-U for {id}: {why}; the call ends now", id=session.id, why=exc)
            session.limits, session.final = dict(totals), True
        return self._grant(session)

    async def _reauthorise(self, reservation_id: str, used: dict[Leg, int] | None) -> Grant | None:
        session = self._sessions.get(reservation_id)
        if session is None:
            return None
        async with session.lock:
            return await self._update(session, used or session.used, ReportingReason.FORCED_REAUTHORISATION)

    async def _release(self, session: _Session) -> None:
        """Give back what a CCR-I reserved when the callback will not go ahead after all."""
        try:
            await self.terminate(session.id, {Leg.A: 0, Leg.B: 0})
        except PortUnavailable as exc:
            log.warn("could not release {id}: {why}; the OCS will time it out", id=session.id, why=exc)

    # -- grants ------------------------------------------------------------------------------------

    def _apply(self, session: _Session, answer: CreditAnswer) -> None:
        """Read each leg's quota from the answer into the session; raise if a leg was refused."""
        for leg in Leg:
            keys = self._keys[leg]
            service = answer.service(keys.rating_group, keys.service_identifier)
            code = service.result_code if service is not None else None
            if code is not None and not is_success(code):
                raise ChargingRefused(refusal_for(code), f"leg {leg.value}: result {code}")
            granted = service.granted_seconds if service is not None else answer.granted_seconds
            session.limits[leg] = session.used[leg] + (granted or 0)
            if (service is not None and service.final) or answer.final:
                session.final = True
        session.validity = min((s.validity_seconds for s in answer.services if s.validity_seconds is not None),
                               default=answer.validity_seconds)
        session.quota = min(session.limits[leg] - session.used[leg] for leg in Leg)

    def _grant(self, session: _Session) -> Grant:
        talk = max(0, min(session.limits[Leg.B], session.limits[Leg.A] - session.allowance, session.max_call))
        validity = None
        if session.controlled and not session.final:
            covered = all(session.limits[leg] >= session.requested[leg] for leg in Leg)
            horizon = [v for v in (session.validity, None if covered else session.quota) if v is not None]
            if horizon:
                margin = self._settings.tx_seconds + self._settings.update_margin_seconds
                validity = max(1, int(min(horizon) - margin))
        return Grant(reservation_id=session.id, max_talk_seconds=talk,
                     leg_a_limit=min(session.limits[Leg.A], talk + session.allowance), leg_b_limit=talk,
                     validity_seconds=validity)

    def _uncontrolled(self, session: _Session) -> Grant:
        session.controlled = False
        session.limits = {leg: max(session.limits[leg], session.requested[leg]) for leg in Leg}
        self._sessions[session.id] = session
        return self._grant(session)
