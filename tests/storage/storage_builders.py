"""Builders shared by the storage tests; the databases themselves come from tests/conftest.py."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

from roamback.core.model import CallbackRequest, Channel, Leg, LegRecord

# Microseconds and a non-UTC offset, so a test notices a backend that drops either.
T0 = datetime(2025, 3, 1, 13, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))


def at(seconds: float) -> datetime:
    return (T0 + timedelta(seconds=seconds)).astimezone(UTC)


def new_request(requester: str = "+491701234567", created: float = 0, **kw: object) -> CallbackRequest:
    values: dict[str, object] = {
        "id": str(uuid.uuid4()),
        "channel": Channel.USSD,
        "requester": requester,
        "destination_raw": "0301234567",
        "callback_raw": None,
        "language": "de",
        "created_at": T0 + timedelta(seconds=created),
    }
    values.update(kw)
    return CallbackRequest(**values)  # type: ignore[arg-type]


def new_leg(request_id: str, call_id: str, which: Leg, started: float, **kw: object) -> LegRecord:
    return LegRecord(
        request_id=request_id,
        call_id=call_id,
        leg=which,
        attempt=1,
        number="+491701234567" if which is Leg.A else "+4930123456",
        caller_id="+4980012345",
        started_at=at(started),
        **kw,  # type: ignore[arg-type]
    )
