"""How an ARI leg ended, from ChannelDestroyed's Q.850 cause or, when that says nothing, the Dial status.

A Local channel is destroyed with cause 0 whatever happened behind it; the last ``Dial`` event's
``dialstatus`` is then the only witness, so both are kept per leg and read here together.
"""

from __future__ import annotations

from ...core.reasons import HangupCause

_Q850: dict[int, HangupCause] = {
    1: HangupCause.UNALLOCATED,
    3: HangupCause.UNREACHABLE,
    16: HangupCause.NORMAL,
    17: HangupCause.BUSY,
    18: HangupCause.NO_ANSWER,
    19: HangupCause.NO_ANSWER,
    20: HangupCause.UNREACHABLE,
    21: HangupCause.REJECTED,
    22: HangupCause.UNALLOCATED,
    27: HangupCause.UNREACHABLE,
    28: HangupCause.UNALLOCATED,
    34: HangupCause.CONGESTION,
    38: HangupCause.UNREACHABLE,
    41: HangupCause.CONGESTION,
    42: HangupCause.CONGESTION,
    44: HangupCause.CONGESTION,
}

_DIAL_STATUS: dict[str, HangupCause] = {
    "BUSY": HangupCause.BUSY,
    "NOANSWER": HangupCause.NO_ANSWER,
    "CONGESTION": HangupCause.CONGESTION,
    "CHANUNAVAIL": HangupCause.UNREACHABLE,
    "CANCEL": HangupCause.CANCELLED,
    "ANSWER": HangupCause.NORMAL,
}


def unanswered_cause(q850: int, dial_status: str | None) -> HangupCause:
    """Why a leg that never answered ended.

    A known Q.850 cause wins (it is specific: 1 unallocated vs 17 busy); a Normal Clearing (16) or no
    cause (0, Local channels) defers to the Dial status, which may know "busy" behind a Local channel.
    """
    known = _Q850.get(q850)
    if known is not None and known is not HangupCause.NORMAL:
        return known
    by_status = _DIAL_STATUS.get((dial_status or "").upper())
    if by_status is not None and by_status is not HangupCause.NORMAL:
        return by_status
    # Normal clearing of a leg that never answered: the far end gave up ringing without saying why.
    return HangupCause.NO_ANSWER if known is HangupCause.NORMAL else HangupCause.SWITCH_ERROR
