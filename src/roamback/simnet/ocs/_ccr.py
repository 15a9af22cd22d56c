"""Reading a Credit-Control-Request (RFC 4006 3.1, TS 32.299 6.4.2) into what the OCS decides on.

Everything is checked before anything is charged: a missing mandatory AVP is 5005 with an example of it,
a value of the wrong size 5014, an unknown CC-Request-Type 5004, each naming the AVP in Failed-AVP.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...diameter.codec import Avp, DecodeError, Message, find
from ...diameter.dictionary import CcRequestType, ResultCode, SubscriptionIdType, avp
from ._answers import Rejected, invalid, missing

_MANDATORY = ("Origin-Host", "Origin-Realm", "Destination-Realm", "Auth-Application-Id", "Service-Context-Id")


@dataclass(frozen=True, slots=True)
class ServiceRequest:
    """One Multiple-Services-Credit-Control: a service's keys, the seconds it asks for and reports."""

    rating_group: int | None
    service_identifier: int | None
    requested_seconds: int | None
    used_seconds: int


@dataclass(frozen=True, slots=True)
class CreditRequest:
    session_id: str
    kind: CcRequestType
    number: int
    msisdn: str | None  # the END_USER_E164 Subscription-Id-Data, digits only
    called_digits: str  # from Called-Party-Address, '' when the client did not say
    services: tuple[ServiceRequest, ...]


def read_ccr(message: Message) -> CreditRequest:
    """The request, or ``Rejected`` saying what is wrong with it."""
    try:
        return _read(message)
    except DecodeError as exc:  # a grouped AVP whose children do not parse
        raise Rejected(exc.result_code, str(exc)) from None


def _read(message: Message) -> CreditRequest:
    session = _required(message.avps, "Session-Id")
    for name in _MANDATORY:
        _required(message.avps, name)
    kind_avp = _required(message.avps, "CC-Request-Type")
    try:
        kind = CcRequestType(_u32(kind_avp))
    except ValueError:
        raise invalid(kind_avp, ResultCode.INVALID_AVP_VALUE, f"CC-Request-Type {kind_avp.u32()}") from None
    return CreditRequest(
        session_id=session.data.decode("utf-8", "replace"), kind=kind,
        number=_u32(_required(message.avps, "CC-Request-Number")), msisdn=_msisdn(message),
        called_digits=_called(message), services=tuple(_service(group) for group in message.find_all(456)),
    )


def _required(avps: list[Avp], name: str) -> Avp:
    definition = avp(name)
    found = find(avps, definition.code, definition.vendor)
    if found is None:
        raise missing(name)
    return found


def _u32(item: Avp) -> int:
    if len(item.data) != 4:
        raise invalid(item, ResultCode.INVALID_AVP_LENGTH, f"AVP {item.code} is {len(item.data)} octets, not 4")
    return item.u32()


def _optional_u32(avps: list[Avp], name: str) -> int | None:
    definition = avp(name)
    found = find(avps, definition.code, definition.vendor)
    return _u32(found) if found is not None else None


def _msisdn(message: Message) -> str | None:
    for group in message.find_all(avp("Subscription-Id").code):
        children = group.children()
        if _optional_u32(children, "Subscription-Id-Type") == SubscriptionIdType.END_USER_E164:
            data = _required(children, "Subscription-Id-Data").data.decode("utf-8", "replace")
            return data.lstrip("+")
    return None


def _called(message: Message) -> str:
    """Digits of IMS-Information's Called-Party-Address (``tel:+33...`` or a SIP URI's user part)."""
    service_information = message.find(873, 10415)
    ims = find(service_information.children(), 876, 10415) if service_information is not None else None
    called = find(ims.children(), 832, 10415) if ims is not None else None
    if called is None:
        return ""
    address = called.data.decode("utf-8", "replace").removeprefix("tel:").removeprefix("sip:").split("@")[0]
    return "".join(ch for ch in address if ch.isdigit())


def _cc_time(group: Avp | None) -> int | None:
    return _optional_u32(group.children(), "CC-Time") if group is not None else None


def _service(group: Avp) -> ServiceRequest:
    children = group.children()
    used = [_cc_time(usu) for usu in children if usu.code == avp("Used-Service-Unit").code]
    return ServiceRequest(
        rating_group=_optional_u32(children, "Rating-Group"),
        service_identifier=_optional_u32(children, "Service-Identifier"),
        requested_seconds=_cc_time(find(children, avp("Requested-Service-Unit").code)),
        used_seconds=sum(seconds or 0 for seconds in used),
    )
