"""How a FreeSWITCH leg ended, from the Hangup-Cause name of CHANNEL_HANGUP_COMPLETE or of a failed
originate's BACKGROUND_JOB (``-ERR USER_BUSY``).

FreeSWITCH names the Q.850 causes itself, so unlike Asterisk's Local channels there is no second witness
to consult; the groups match the ARI adapter's Q.850 table, so the core sees one outcome per cause
whichever switch placed the call.
"""

from __future__ import annotations

from ...core.reasons import HangupCause

_NAMES: dict[str, HangupCause] = {
    "NORMAL_CLEARING": HangupCause.NORMAL,
    "USER_BUSY": HangupCause.BUSY,
    "NO_ANSWER": HangupCause.NO_ANSWER,
    "NO_USER_RESPONSE": HangupCause.NO_ANSWER,
    "PROGRESS_TIMEOUT": HangupCause.NO_ANSWER,
    "UNALLOCATED_NUMBER": HangupCause.UNALLOCATED,
    "NUMBER_CHANGED": HangupCause.UNALLOCATED,
    "INVALID_NUMBER_FORMAT": HangupCause.UNALLOCATED,
    "CALL_REJECTED": HangupCause.REJECTED,
    "ORIGINATOR_CANCEL": HangupCause.CANCELLED,
    "LOSE_RACE": HangupCause.CANCELLED,
    "ALLOTTED_TIMEOUT": HangupCause.TIME_LIMIT,
    "NO_ROUTE_DESTINATION": HangupCause.UNREACHABLE,
    "NO_ROUTE_TRANSIT_NET": HangupCause.UNREACHABLE,
    "SUBSCRIBER_ABSENT": HangupCause.UNREACHABLE,
    "DESTINATION_OUT_OF_ORDER": HangupCause.UNREACHABLE,
    "NETWORK_OUT_OF_ORDER": HangupCause.UNREACHABLE,
    "GATEWAY_DOWN": HangupCause.UNREACHABLE,
    "NORMAL_TEMPORARY_FAILURE": HangupCause.CONGESTION,
    "NORMAL_CIRCUIT_CONGESTION": HangupCause.CONGESTION,
    "SWITCH_CONGESTION": HangupCause.CONGESTION,
    "REQUESTED_CHAN_UNAVAIL": HangupCause.CONGESTION,
    "RECOVERY_ON_TIMER_EXPIRE": HangupCause.CONGESTION,
}


def leg_cause(name: str | None, *, answered: bool) -> HangupCause:
    """The outcome of a leg that ended with Hangup-Cause ``name`` (None: the cause was never seen).

    A Normal Clearing of a leg that never answered means the far end gave up ringing without saying why:
    no answer, as in the ARI adapter. ALLOTTED_TIMEOUT is the cause our sched_hangup backstop uses.
    """
    cause = _NAMES.get((name or "").strip().upper())
    if cause is None:
        return HangupCause.NORMAL if answered else HangupCause.SWITCH_ERROR
    if cause is HangupCause.NORMAL and not answered:
        return HangupCause.NO_ANSWER
    return cause
