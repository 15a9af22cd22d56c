"""The OCS application: Credit-Control-Requests in, Credit-Control-Answers out, rated through the ``Book``.

One CC session per call with one Multiple-Services-Credit-Control per leg, matched to a leg by the
configured Rating-Group (then Service-Identifier), as the service's Ro client sends them. CCR-I opens the
session and reserves, CCR-U debits the reported usage and reserves again, CCR-T debits, releases the rest
and says what the call cost (Cost-Information). A repeated request (same Session-Id and CC-Request-Number,
as a client re-sends after failover) gets the answer already given, not a second charge (RFC 4006 5.1).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from twisted.logger import Logger

from ...core.model import Leg
from ...diameter.codec import Message, encode, encode_answer, with_ids
from ...diameter.dictionary import APP_CREDIT_CONTROL, CcRequestType, Command, ResultCode, avp
from ._answers import Rejected, cost_information, error_answer, missing, mscc
from ._ccr import CreditRequest, ServiceRequest, read_ccr
from .book import Book, NoRate, Session
from .settings import OcsSettings

log = Logger()
_ANSWERS_KEPT = 10_000
_LETTER = {CcRequestType.INITIAL: "I", CcRequestType.UPDATE: "U", CcRequestType.TERMINATION: "T",
           CcRequestType.EVENT: "E"}


class CreditControlServer:
    """Answers every request the responder does not handle itself; one instance serves all connections."""

    def __init__(self, settings: OcsSettings, book: Book, origin: bytes) -> None:
        self._settings = settings
        self._book = book
        self._origin = origin
        self._keys = {Leg.A: settings.leg_a, Leg.B: settings.leg_b}
        self.sessions: dict[str, Session] = {}
        self._answered: OrderedDict[tuple[str, CcRequestType, int], bytes] = OrderedDict()

    def handle(self, request: Message) -> bytes:
        if request.application != APP_CREDIT_CONTROL:
            rejected = Rejected(ResultCode.APPLICATION_UNSUPPORTED, f"application {request.application}")
            return error_answer(request, self._origin, rejected)
        if request.command != Command.CREDIT_CONTROL:
            return error_answer(request, self._origin, Rejected(ResultCode.COMMAND_UNSUPPORTED,
                                                                f"command {request.command}"))
        try:
            ccr = read_ccr(request)
        except Rejected as exc:
            return error_answer(request, self._origin, exc)
        key = (ccr.session_id, ccr.kind, ccr.number)
        repeated = self._answered.get(key)
        if repeated is not None:
            return with_ids(repeated, request.hop_by_hop, request.end_to_end)
        try:
            answer = self._serve(request, ccr)
        except Rejected as exc:
            log.info("OCS CCR-{kind} {session}: {code} ({why})", kind=_LETTER[ccr.kind], session=ccr.session_id,
                     code=exc.result_code, why=exc)
            answer = self._cca(request, ccr, exc.result_code, _refusal_avps(exc))
        self._answered[key] = answer
        while len(self._answered) > _ANSWERS_KEPT:
            self._answered.popitem(last=False)
        return answer

    # -- the three requests ------------------------------------------------------------------------

    def _serve(self, request: Message, ccr: CreditRequest) -> bytes:
        if ccr.kind is CcRequestType.INITIAL:
            return self._initial(request, ccr)
        if ccr.kind is CcRequestType.EVENT:
            raise Rejected(ResultCode.UNABLE_TO_COMPLY, "event charging is not offered: use session charging")
        session = self.sessions.get(ccr.session_id)
        if session is None:
            raise Rejected(ResultCode.UNKNOWN_SESSION_ID, "no such credit-control session")
        for service, leg in self._legs(ccr.services):
            if leg is not None:
                self._book.report(session, leg, service.used_seconds)
        if ccr.kind is CcRequestType.UPDATE:
            return self._cca(request, ccr, ResultCode.SUCCESS, self._grant(ccr, session)[0])
        cost = self._book.close(session)
        del self.sessions[ccr.session_id]
        log.info("OCS CCR-T {session}: charged {cost}, balance {balance}", session=ccr.session_id, cost=cost,
                 balance=session.account.balance_minor)
        settings = self._settings
        return self._cca(request, ccr, ResultCode.SUCCESS,
                         [cost_information(cost, settings.currency_code, settings.currency_digits)])

    def _initial(self, request: Message, ccr: CreditRequest) -> bytes:
        if ccr.session_id in self.sessions:
            raise Rejected(ResultCode.UNABLE_TO_COMPLY, "session already open")
        if ccr.msisdn is None:
            raise missing("Subscription-Id")
        account = self._book.account(ccr.msisdn)
        if account is None:
            raise Rejected(ResultCode.USER_UNKNOWN, f"no account for {ccr.msisdn}")
        try:
            session = self._book.open(account, ccr.called_digits)
        except NoRate as exc:
            raise Rejected(ResultCode.RATING_FAILED, str(exc)) from None
        services, refused = self._grant(ccr, session)
        if refused:
            self._book.close(session)
            raise Rejected(ResultCode.CREDIT_LIMIT_REACHED, f"available {account.available_minor}")
        self.sessions[ccr.session_id] = session
        return self._cca(request, ccr, ResultCode.SUCCESS, services)

    # -- pieces ------------------------------------------------------------------------------------

    def _grant(self, ccr: CreditRequest, session: Session) -> tuple[list[bytes], bool]:
        """Reserve for every leg that asks: one answer MSCC per request MSCC, and whether every second
        asked for was refused (no credit at all)."""
        pairs = self._legs(ccr.services)
        requested = {leg: service.requested_seconds for service, leg in pairs
                     if leg is not None and service.requested_seconds is not None}
        granted = self._book.grant(session, requested) if requested else {}
        log.info("OCS CCR-{kind} {session} {msisdn}: asked {asked}, granted {granted}, balance {balance}",
                 kind=_LETTER[ccr.kind], session=ccr.session_id, msisdn=session.account.msisdn,
                 asked=_seconds(requested), granted=_seconds(granted), balance=session.account.balance_minor)
        answers = []
        for service, leg in pairs:
            keys = (service.rating_group, service.service_identifier)
            if leg is None:
                answers.append(mscc(*keys, ResultCode.RATING_FAILED))
            elif leg not in granted:  # a report without a request: acknowledged
                answers.append(mscc(*keys, ResultCode.SUCCESS))
            elif granted[leg] == 0 and requested[leg] > 0:
                answers.append(mscc(*keys, ResultCode.CREDIT_LIMIT_REACHED))
            else:
                final = granted[leg] < requested[leg]
                answers.append(mscc(*keys, ResultCode.SUCCESS, granted_seconds=granted[leg], final=final,
                                    validity_seconds=None if final else self._settings.validity_seconds))
        return answers, any(requested.values()) and not any(granted.values())

    def _legs(self, services: Iterable[ServiceRequest]) -> list[tuple[ServiceRequest, Leg | None]]:
        return [(service, self._leg(service)) for service in services]

    def _leg(self, service: ServiceRequest) -> Leg | None:
        """Matched on Rating-Group first, then Service-Identifier alone (what the client's reader does)."""
        for leg, keys in self._keys.items():
            if service.rating_group == keys.rating_group and service.service_identifier in (
                None, keys.service_identifier
            ):
                return leg
        for leg, keys in self._keys.items():
            if service.rating_group is None and service.service_identifier == keys.service_identifier:
                return leg
        return None

    def _cca(self, request: Message, ccr: CreditRequest, result: int, avps: Iterable[bytes]) -> bytes:
        return encode_answer(request, (
            encode(avp("Session-Id"), ccr.session_id), encode(avp("Result-Code"), result), self._origin,
            encode(avp("Auth-Application-Id"), APP_CREDIT_CONTROL), encode(avp("CC-Request-Type"), ccr.kind),
            encode(avp("CC-Request-Number"), ccr.number), *avps,
        ))


def _refusal_avps(rejected: Rejected) -> list[bytes]:
    avps = [encode(avp("Error-Message"), str(rejected)[:200])]
    if rejected.failed_avp is not None:
        avps.append(encode(avp("Failed-AVP"), (rejected.failed_avp,)))
    return avps


def _seconds(per_leg: dict[Leg, int]) -> str:
    return " ".join(f"{leg.value}={seconds}s" for leg, seconds in per_leg.items()) or "nothing"
