"""Why a request was refused or a call failed.

The values are stable strings: they are stored in the database, shown in CDRs, used as keys of the
message catalog (``refusal.<value>`` / ``failure.<value>``) and later exported as SNMP/metric labels.
"""

from __future__ import annotations

from enum import StrEnum


class RefusalReason(StrEnum):
    """A request that never reached the switch."""

    UNKNOWN_SUBSCRIBER = "unknown_subscriber"
    INACTIVE = "inactive"
    NOT_ROAMING = "not_roaming"
    SERVICE_NOT_ALLOWED = "service_not_allowed"
    COUNTRY_BANNED = "country_banned"
    ALREADY_ACTIVE = "already_active"
    DAILY_CAP = "daily_cap"
    COOLDOWN = "cooldown"
    INVALID_NUMBER = "invalid_number"
    BLOCKED_DESTINATION = "blocked_destination"
    CALLBACK_NUMBER_NOT_REGISTERED = "callback_number_not_registered"
    NO_CREDIT = "no_credit"
    NO_RATE = "no_rate"
    CHARGING_DENIED = "charging_denied"
    CHARGING_UNAVAILABLE = "charging_unavailable"
    DIRECTORY_UNAVAILABLE = "directory_unavailable"


class FailureReason(StrEnum):
    """A request that was accepted and then ended without a completed call."""

    A_BUSY = "a_busy"
    A_NO_ANSWER = "a_no_answer"
    A_UNREACHABLE = "a_unreachable"
    A_REJECTED = "a_rejected"
    B_BUSY = "b_busy"
    B_NO_ANSWER = "b_no_answer"
    B_UNREACHABLE = "b_unreachable"
    B_REJECTED = "b_rejected"
    A_HUNG_UP = "a_hung_up"
    SWITCH_ERROR = "switch_error"
    CHARGING_ERROR = "charging_error"
    INTERRUPTED = "interrupted"


class CancelReason(StrEnum):
    """A request stopped on purpose before it completed."""

    BY_SUBSCRIBER = "by_subscriber"
    BY_OPERATOR = "by_operator"
    SHUTDOWN = "shutdown"


class HangupCause(StrEnum):
    """Switch-neutral outcome of one leg attempt; adapters map Q.850 causes / dial statuses onto these."""

    NORMAL = "normal"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    UNALLOCATED = "unallocated"
    REJECTED = "rejected"
    CONGESTION = "congestion"
    UNREACHABLE = "unreachable"
    TIME_LIMIT = "time_limit"
    CANCELLED = "cancelled"
    SWITCH_ERROR = "switch_error"
