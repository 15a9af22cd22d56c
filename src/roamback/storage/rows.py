"""Row <-> dataclass conversion, so the adapters share one notion of how core values look in SQL.

Times are the subtle part. PostgreSQL stores an instant and returns it aware; SQLite and MariaDB keep a
wall-clock value and return it naive, ignoring any tzinfo of a bound value. Binding every datetime as UTC
and reading every naive value back as UTC makes all backends agree on the instant (MariaDB and Oracle
also need their session time zone at UTC so that server-side conversions do not shift it).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from ..core.model import CallbackRequest, Channel, Leg, LegRecord, Notice, Subscriber
from ..core.reasons import HangupCause
from ..core.states import RequestState


def to_db(value: datetime) -> datetime:
    """Normalise a core datetime for binding; a naive one is a bug upstream, not something to guess."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r} reached the storage layer; the core uses aware UTC")
    return value.astimezone(UTC)


def to_db_opt(value: datetime | None) -> datetime | None:
    return None if value is None else to_db(value)


def from_db(value: datetime | None) -> datetime | None:
    """Read a stored time back as aware UTC whatever the backend returned."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def from_db_req(value: datetime | None) -> datetime:
    """``from_db`` for NOT NULL columns, so callers keep a non-optional type."""
    result = from_db(value)
    if result is None:
        raise ValueError("NULL in a NOT NULL time column")
    return result


def plain(value: Any) -> Any:
    """Enums become their stored string; drivers differ in how (or whether) they adapt Enum members."""
    return value.value if isinstance(value, Enum) else value


def truncate(text: str | None, length: int) -> str | None:
    return None if text is None else text[:length]


# The keys of the dicts below, for statements prepared once (storage.prepared).
REQUEST_COLUMNS = (
    "id", "channel", "requester", "destination_raw", "callback_raw", "language", "state", "reason",
    "detail", "destination", "callback_number", "account_id", "reservation_id", "max_talk_seconds",
    "leg_a_limit", "leg_b_limit", "call_id", "attempts", "reference", "created_at", "updated_at",
)
LEG_COLUMNS = (
    "request_id", "call_id", "leg", "attempt", "dialled", "caller_id", "started_at", "answered_at",
    "bridged_at", "ended_at", "cause", "billed_seconds", "cost_minor",
)
NOTICE_COLUMNS = (
    "request_id", "msisdn", "language", "msg_key", "body", "state", "attempts", "next_attempt_at",
    "created_at",
)


def request_values(request: CallbackRequest) -> dict[str, Any]:
    return {
        "id": request.id,
        "channel": plain(request.channel),
        "requester": request.requester,
        "destination_raw": request.destination_raw,
        "callback_raw": request.callback_raw,
        "language": request.language,
        "state": plain(request.state),
        "reason": request.reason,
        "detail": truncate(request.detail, 400),
        "destination": request.destination,
        "callback_number": request.callback_number,
        "account_id": request.account_id,
        "reservation_id": request.reservation_id,
        "max_talk_seconds": request.max_talk_seconds,
        "leg_a_limit": request.leg_a_limit,
        "leg_b_limit": request.leg_b_limit,
        "call_id": request.call_id,
        "attempts": request.attempts,
        "reference": request.reference,
        "created_at": to_db(request.created_at),
        "updated_at": to_db(request.updated_at or request.created_at),
    }


def request_from_row(row: Mapping[str, Any], legs: list[LegRecord]) -> CallbackRequest:
    return CallbackRequest(
        id=row["id"],
        channel=Channel(row["channel"]),
        requester=row["requester"],
        destination_raw=row["destination_raw"],
        callback_raw=row["callback_raw"],
        language=row["language"],
        created_at=from_db_req(row["created_at"]),
        state=RequestState(row["state"]),
        updated_at=from_db(row["updated_at"]),
        reason=row["reason"],
        detail=row["detail"],
        destination=row["destination"],
        callback_number=row["callback_number"],
        account_id=row["account_id"],
        reservation_id=row["reservation_id"],
        max_talk_seconds=row["max_talk_seconds"],
        leg_a_limit=row["leg_a_limit"],
        leg_b_limit=row["leg_b_limit"],
        call_id=row["call_id"],
        attempts=row["attempts"],
        reference=row["reference"],
        legs=legs,
    )


def leg_values(leg: LegRecord) -> dict[str, Any]:
    return {
        "request_id": leg.request_id,
        "call_id": leg.call_id,
        "leg": plain(leg.leg),
        "attempt": leg.attempt,
        "dialled": leg.number,
        "caller_id": leg.caller_id,
        "started_at": to_db(leg.started_at),
        "answered_at": to_db_opt(leg.answered_at),
        "bridged_at": to_db_opt(leg.bridged_at),
        "ended_at": to_db_opt(leg.ended_at),
        "cause": plain(leg.cause),
        "billed_seconds": leg.billed_seconds,
        "cost_minor": leg.cost_minor,
    }


def leg_from_row(row: Mapping[str, Any]) -> LegRecord:
    return LegRecord(
        request_id=row["request_id"],
        call_id=row["call_id"],
        leg=Leg(row["leg"]),
        attempt=row["attempt"],
        number=row["dialled"],
        caller_id=row["caller_id"],
        started_at=from_db_req(row["started_at"]),
        answered_at=from_db(row["answered_at"]),
        bridged_at=from_db(row["bridged_at"]),
        ended_at=from_db(row["ended_at"]),
        cause=HangupCause(row["cause"]) if row["cause"] is not None else None,
        billed_seconds=row["billed_seconds"],
        cost_minor=row["cost_minor"],
    )


def notice_values(notice: Notice, at: datetime) -> dict[str, Any]:
    """An outbox row ready to send at ``at``: the notice leaves with the state change that caused it."""
    return {
        "request_id": notice.request_id,
        "msisdn": notice.msisdn,
        "language": notice.language,
        "msg_key": notice.key,
        "body": notice.text,
        "state": "queued",
        "attempts": 0,
        "next_attempt_at": to_db(at),
        "created_at": to_db(at),
    }


def subscriber_values(subscriber: Subscriber) -> dict[str, Any]:
    return {
        "msisdn": subscriber.msisdn,
        "home_region": subscriber.home_region,
        "language": subscriber.language,
        "active": subscriber.active,
        "roaming": subscriber.roaming,
        "visited_region": subscriber.visited_region,
        "service_allowed": subscriber.service_allowed,
        "account_id": subscriber.account_id,
        "imsi": subscriber.imsi,
    }


def subscriber_from_row(row: Mapping[str, Any]) -> Subscriber:
    return Subscriber(
        msisdn=row["msisdn"],
        home_region=row["home_region"],
        language=row["language"],
        active=bool(row["active"]),
        roaming=bool(row["roaming"]),
        visited_region=row["visited_region"],
        service_allowed=bool(row["service_allowed"]),
        account_id=row["account_id"],
        imsi=row["imsi"],
    )
