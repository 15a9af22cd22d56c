"""Answers the OCS writes: protocol errors with Failed-AVP (RFC 6733 7), and the pieces of a CCA.

Cost-Information and its children are not in ``diameter/dictionary.py`` (the client never sends them, and
two are Integer32/Integer64, types the client's codec has no use for), so they are encoded here from their
RFC 4006 8.7-8.12 codes with the codec's raw ``encode_avp``.
"""

from __future__ import annotations

import struct

from ...diameter.codec import Avp, Message, encode, encode_answer, encode_avp
from ...diameter.dictionary import AVP_FLAG_MANDATORY, AvpType, FinalUnitAction, ResultCode, avp

_COST_INFORMATION, _UNIT_VALUE, _VALUE_DIGITS, _EXPONENT, _CURRENCY_CODE = 423, 445, 447, 429, 425


class Rejected(Exception):
    """A request we will not serve, with the Result-Code and the offending (or an example missing) AVP."""

    def __init__(self, result_code: int, detail: str, failed_avp: bytes | None = None) -> None:
        super().__init__(detail)
        self.result_code = result_code
        self.failed_avp = failed_avp


def origin_avps(host: str, realm: str) -> bytes:
    """Origin-Host and Origin-Realm, with the M bit (RFC 6733 6.3/6.4), encoded once per server."""
    return encode(avp("Origin-Host"), host) + encode(avp("Origin-Realm"), realm)


def missing(name: str) -> Rejected:
    """5005 with an example of the missing AVP: right code and flags, a zero value (RFC 6733 7.5)."""
    definition = avp(name)
    empty = b"\0\0\0\0" if definition.type in (AvpType.UNSIGNED32, AvpType.ENUMERATED) else b""
    example = encode_avp(definition.code, definition.flags, definition.vendor, empty)
    return Rejected(ResultCode.MISSING_AVP, f"{name} missing", example)


def invalid(item: Avp, result_code: int, detail: str) -> Rejected:
    return Rejected(result_code, detail, encode_avp(item.code, item.flags, item.vendor, item.data))


def error_answer(request: Message, origin: bytes, rejected: Rejected) -> bytes:
    """The answer to a request we refuse; the E bit only for protocol errors (3xxx), RFC 6733 7.1."""
    avps = []
    session = request.find(263)
    if session is not None:
        avps.append(encode_avp(session.code, session.flags, 0, session.data))
    avps += (encode(avp("Result-Code"), rejected.result_code), origin,
             encode(avp("Error-Message"), str(rejected)[:200]))
    if rejected.failed_avp is not None:
        avps.append(encode(avp("Failed-AVP"), (rejected.failed_avp,)))
    return encode_answer(request, avps, error=3000 <= rejected.result_code < 4000)


def mscc(rating_group: int | None, service_identifier: int | None, result_code: int, *,
         granted_seconds: int | None = None, final: bool = False, validity_seconds: int | None = None) -> bytes:
    parts = []
    if granted_seconds is not None:
        parts.append(encode(avp("Granted-Service-Unit"), (encode(avp("CC-Time"), granted_seconds),)))
    if service_identifier is not None:
        parts.append(encode(avp("Service-Identifier"), service_identifier))
    if rating_group is not None:
        parts.append(encode(avp("Rating-Group"), rating_group))
    if validity_seconds is not None:
        parts.append(encode(avp("Validity-Time"), validity_seconds))
    parts.append(encode(avp("Result-Code"), result_code))
    if final:
        parts.append(encode(avp("Final-Unit-Indication"), (encode(avp("Final-Unit-Action"),
                                                                  FinalUnitAction.TERMINATE),)))
    return encode(avp("Multiple-Services-Credit-Control"), parts)


def cost_information(cost_minor: int, currency_code: int, currency_digits: int) -> bytes:
    """Cost-Information: the amount as Value-Digits x 10^Exponent in the given ISO 4217 currency."""
    unit_value = encode_avp(_UNIT_VALUE, AVP_FLAG_MANDATORY, 0, b"".join((
        encode_avp(_VALUE_DIGITS, AVP_FLAG_MANDATORY, 0, struct.pack("!q", cost_minor)),
        encode_avp(_EXPONENT, AVP_FLAG_MANDATORY, 0, struct.pack("!i", -currency_digits)),
    )))
    currency = encode_avp(_CURRENCY_CODE, AVP_FLAG_MANDATORY, 0, struct.pack("!I", currency_code))
    return encode_avp(_COST_INFORMATION, AVP_FLAG_MANDATORY, 0, unit_value + currency)
