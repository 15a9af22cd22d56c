"""What an OCS's Result-Code means for a callback request (RFC 6733 7.1, RFC 4006 9, TS 32.299)."""

from __future__ import annotations

from twisted.logger import Logger

from ..core.reasons import RefusalReason
from .dictionary import ResultCode

log = Logger()

_REFUSALS = {
    ResultCode.CREDIT_LIMIT_REACHED: RefusalReason.NO_CREDIT,
    ResultCode.USER_UNKNOWN: RefusalReason.UNKNOWN_SUBSCRIBER,
    ResultCode.RATING_FAILED: RefusalReason.NO_RATE,
    ResultCode.END_USER_SERVICE_DENIED: RefusalReason.CHARGING_DENIED,
    ResultCode.AUTHORIZATION_REJECTED: RefusalReason.CHARGING_DENIED,
}
# Codes that say our request was malformed: the subscriber cannot fix them, the operator must.
OUR_FAULT = frozenset({
    ResultCode.INVALID_AVP_VALUE, ResultCode.MISSING_AVP, 5009, ResultCode.INVALID_AVP_BITS,
    ResultCode.INVALID_HDR_BITS, ResultCode.UNKNOWN_PEER, ResultCode.APPLICATION_UNSUPPORTED,
    ResultCode.INVALID_AVP_LENGTH, ResultCode.INVALID_MESSAGE_LENGTH, ResultCode.UNKNOWN_SESSION_ID,
})


def is_success(code: int | None) -> bool:
    return code is not None and 2000 <= code < 3000


def refusal_for(code: int | None) -> RefusalReason:
    """The subscriber-facing reason for a failed answer; anything unrecognised is 'charging unavailable'."""
    if code in _REFUSALS:
        return _REFUSALS[code]  # type: ignore[index]
    if code in OUR_FAULT:
        log.error("ALERT: the OCS rejected our request with {code}: a configuration or roamback bug", code=code)
    return RefusalReason.CHARGING_UNAVAILABLE
