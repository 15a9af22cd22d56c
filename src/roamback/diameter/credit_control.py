"""Credit-Control-Request building and Credit-Control-Answer reading (RFC 4006 3.1/3.2, TS 32.299 6.4).

The fast path of the codec: everything that is the same for every request (our identity, the realm,
the application, the service context) is encoded once per backend, everything that is the same for
every request of a session (Session-Id, Subscription-Id, Service-Information) once per session, and a
request is a handful of byte concatenations. Answers are read for the few AVPs a client acts on.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from .codec import Avp, Message, encode, encode_message, find
from .dictionary import (
    APP_CREDIT_CONTROL,
    HEADER_FLAG_PROXIABLE,
    HEADER_FLAG_REQUEST,
    CcRequestType,
    Command,
    FinalUnitAction,
    ReportingReason,
    SubscriptionIdType,
    avp,
)

_NODE_FUNCTIONALITY_AS = 6
_ROLE_B2BUA = 3
_TERMINATION_LOGOUT = 1  # DIAMETER_LOGOUT: the call ended normally
_MULTIPLE_SERVICES_SUPPORTED = 1


@dataclass(frozen=True, slots=True)
class ServiceUsage:
    """One Multiple-Services-Credit-Control of a request: a leg's rating keys, what it asks, what it used."""

    rating_group: int
    service_identifier: int
    requested_seconds: int | None = None
    used_seconds: int | None = None
    reporting_reason: ReportingReason | None = None


@dataclass(frozen=True, slots=True)
class SessionFacts:
    session_id: str
    msisdn: str  # E.164 with '+'
    imsi: str | None
    calling: str  # E.164 of the party charged (the subscriber)
    called: str  # E.164 of the destination


class CcrEncoder:
    """Builds CCRs for one origin/destination; identifiers are stamped later, per peer, by the router."""

    def __init__(self, *, origin_host: str, origin_realm: str, destination_realm: str, service_context_id: str):
        self._fixed = b"".join((
            encode(avp("Origin-Host"), origin_host), encode(avp("Origin-Realm"), origin_realm),
            encode(avp("Destination-Realm"), destination_realm),
            encode(avp("Auth-Application-Id"), APP_CREDIT_CONTROL),
            encode(avp("Service-Context-Id"), service_context_id),
        ))
        self._msi = encode(avp("Multiple-Services-Indicator"), _MULTIPLE_SERVICES_SUPPORTED)
        self._types = {kind: encode(avp("CC-Request-Type"), kind) for kind in CcRequestType}
        self._termination = encode(avp("Termination-Cause"), _TERMINATION_LOGOUT)

    def session_parts(self, facts: SessionFacts) -> tuple[bytes, bytes]:
        """The Session-Id AVP, and the Subscription-Id and Service-Information AVPs, encoded once."""
        subscriptions = [_subscription(SubscriptionIdType.END_USER_E164, facts.msisdn.lstrip("+"))]
        if facts.imsi:
            subscriptions.append(_subscription(SubscriptionIdType.END_USER_IMSI, facts.imsi))
        ims = encode(avp("IMS-Information"), (
            encode(avp("Node-Functionality"), _NODE_FUNCTIONALITY_AS), encode(avp("Role-Of-Node"), _ROLE_B2BUA),
            encode(avp("Calling-Party-Address"), f"tel:{facts.calling}"),
            encode(avp("Called-Party-Address"), f"tel:{facts.called}"),
        ))
        tail = b"".join(subscriptions) + encode(avp("Service-Information"), (ims,))
        return encode(avp("Session-Id"), facts.session_id), tail

    def bare_session(self, session_id: str) -> tuple[bytes, bytes]:
        """Session parts when only the Session-Id is known (a CCR-T for a session from before a restart)."""
        return encode(avp("Session-Id"), session_id), b""

    def build(
        self, session: tuple[bytes, bytes], kind: CcRequestType, number: int, usages: list[ServiceUsage],
        destination_host: str | None,
    ) -> bytes:
        session_id, tail = session
        parts = [session_id]
        if destination_host is not None:
            parts.append(encode(avp("Destination-Host"), destination_host))
        parts += (self._fixed, self._types[kind], encode(avp("CC-Request-Number"), number))
        if kind is CcRequestType.TERMINATION:
            parts.append(self._termination)
        parts += (tail, self._msi, *(_mscc(usage) for usage in usages))
        return encode_message(
            Command.CREDIT_CONTROL, HEADER_FLAG_REQUEST | HEADER_FLAG_PROXIABLE, APP_CREDIT_CONTROL, 0, 0, parts
        )


def _subscription(kind: SubscriptionIdType, data: str) -> bytes:
    return encode(avp("Subscription-Id"), (encode(avp("Subscription-Id-Type"), kind),
                                           encode(avp("Subscription-Id-Data"), data)))


def _mscc(usage: ServiceUsage) -> bytes:
    parts = [encode(avp("Service-Identifier"), usage.service_identifier),
             encode(avp("Rating-Group"), usage.rating_group)]
    if usage.requested_seconds is not None:
        parts.append(encode(avp("Requested-Service-Unit"), (encode(avp("CC-Time"), usage.requested_seconds),)))
    if usage.used_seconds is not None:
        inner = [encode(avp("CC-Time"), usage.used_seconds)]
        if usage.reporting_reason is not None:
            inner.append(encode(avp("3GPP-Reporting-Reason"), usage.reporting_reason))
        parts.append(encode(avp("Used-Service-Unit"), inner))
    return encode(avp("Multiple-Services-Credit-Control"), parts)


# -- answers ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServiceGrant:
    """One Multiple-Services-Credit-Control of an answer."""

    rating_group: int | None
    service_identifier: int | None
    result_code: int | None
    granted_seconds: int | None
    validity_seconds: int | None
    final: bool  # Final-Unit-Indication TERMINATE: hang up when this quota is used


@dataclass(frozen=True, slots=True)
class Cost:
    """Cost-Information (RFC 4006 8.7) in minor units of its currency, as a Settlement carries money."""

    minor: int
    currency: str | None  # ISO 4217 letters; None for a numeric code not in the table below


@dataclass(frozen=True, slots=True)
class CreditAnswer:
    result_code: int | None
    origin_host: str | None
    services: tuple[ServiceGrant, ...]
    granted_seconds: int | None  # top-level Granted-Service-Unit (an OCS ignoring MSCC)
    validity_seconds: int | None
    final: bool
    failure_handling: int | None
    cost: Cost | None = None  # what the session cost, when the OCS says (usually on the CCA-T)

    def service(self, rating_group: int, service_identifier: int) -> ServiceGrant | None:
        """The MSCC answering for one leg: matched on Rating-Group, then Service-Identifier."""
        for grant in self.services:
            if grant.rating_group == rating_group and grant.service_identifier in (None, service_identifier):
                return grant
        for grant in self.services:
            if grant.rating_group is None and grant.service_identifier == service_identifier:
                return grant
        return None


def _u32(avps: list[Avp], name: str) -> int | None:
    definition = avp(name)
    found = find(avps, definition.code, definition.vendor)
    return found.u32() if found is not None else None


def _cc_time(group: Avp | None) -> int | None:
    return _u32(group.children(), "CC-Time") if group is not None else None


def _final(group: Avp | None) -> bool:
    if group is None:
        return False
    return _u32(group.children(), "Final-Unit-Action") == FinalUnitAction.TERMINATE


def _service(group: Avp) -> ServiceGrant:
    children = group.children()
    return ServiceGrant(
        rating_group=_u32(children, "Rating-Group"), service_identifier=_u32(children, "Service-Identifier"),
        result_code=_u32(children, "Result-Code"), granted_seconds=_cc_time(find(children, 431)),
        validity_seconds=_u32(children, "Validity-Time"), final=_final(find(children, 430)),
    )


# Cost-Information and its children are read by code: the client never sends them, so they are not in the
# dictionary (whose rows say how to encode). Value-Digits is Integer64, Exponent Integer32.
_COST_INFORMATION, _UNIT_VALUE, _VALUE_DIGITS, _EXPONENT, _CURRENCY_CODE = 423, 445, 447, 429, 425
# ISO 4217 numeric code -> (letters, minor-unit digits), for the currencies a home network bills in.
_CURRENCIES: dict[int, tuple[str, int]] = {
    12: ("DZD", 2), 36: ("AUD", 2), 124: ("CAD", 2), 156: ("CNY", 2), 203: ("CZK", 2), 208: ("DKK", 2),
    348: ("HUF", 2), 356: ("INR", 2), 376: ("ILS", 2), 392: ("JPY", 0), 410: ("KRW", 0), 414: ("KWD", 3),
    484: ("MXN", 2), 504: ("MAD", 2), 566: ("NGN", 2), 578: ("NOK", 2), 634: ("QAR", 2), 643: ("RUB", 2),
    682: ("SAR", 2), 710: ("ZAR", 2), 752: ("SEK", 2), 756: ("CHF", 2), 784: ("AED", 2), 788: ("TND", 3),
    818: ("EGP", 2), 826: ("GBP", 2), 840: ("USD", 2), 946: ("RON", 2), 949: ("TRY", 2), 950: ("XAF", 0),
    952: ("XOF", 0), 978: ("EUR", 2), 985: ("PLN", 2), 986: ("BRL", 2),
}


def _cost(group: Avp | None) -> Cost | None:
    """Value-Digits x 10^Exponent units of the currency, rounded to its minor unit (half up)."""
    unit_value = find(group.children(), _UNIT_VALUE) if group is not None else None
    parts = unit_value.children() if unit_value is not None else []
    digits = find(parts, _VALUE_DIGITS)
    if group is None or digits is None:
        return None
    exponent = find(parts, _EXPONENT)
    code = find(group.children(), _CURRENCY_CODE)
    currency, minor_digits = _CURRENCIES.get(code.u32(), (None, 2)) if code is not None else (None, 2)
    value = int.from_bytes(digits.data, "big", signed=True)
    amount = Decimal(value).scaleb((exponent.i32() if exponent is not None else 0) + minor_digits)
    return Cost(minor=int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP)), currency=currency)


def read_answer(message: Message) -> CreditAnswer:
    return CreditAnswer(
        result_code=message.result_code(), origin_host=message.text(264),
        services=tuple(_service(group) for group in message.find_all(456)),
        granted_seconds=_cc_time(message.find(431)), validity_seconds=message.u32(448),
        final=_final(message.find(430)), failure_handling=message.u32(427),
        cost=_cost(message.find(_COST_INFORMATION)),
    )
