"""The JSON shapes of the callback API: a strict reader for submissions and a writer for requests.

The reader only checks shape (types, lengths, unknown fields); whether a number is a number the service
will call is the core's business, so that every front door refuses the same things for the same reasons.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from ..core.model import CallbackRequest, CallbackTrigger, Channel, LegRecord

# Field -> (required, maximum length). Numbers are raw text as typed ("00 44 7700 900123"), hence the room.
_FIELDS: dict[str, tuple[bool, int]] = {
    "requester": (True, 40),
    "destination": (True, 40),
    "callback_number": (False, 40),
    "language": (False, 16),
    "reference": (False, 100),
}


class InvalidInput(Exception):
    """The client's fault; ``field`` is None when the body as a whole is wrong."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def parse_trigger(body: bytes) -> CallbackTrigger:
    """Read a submission; unknown fields are refused so that a client's typo never goes unnoticed."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise InvalidInput("body must be a UTF-8 JSON object") from None
    if not isinstance(data, dict):
        raise InvalidInput("body must be a JSON object")
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise InvalidInput(f"unknown field {unknown[0]!r}", unknown[0])
    values = {name: _text(name, data.get(name), *spec) for name, spec in _FIELDS.items()}
    return CallbackTrigger(channel=Channel.API, **values)


def _text(name: str, value: Any, required: bool, max_length: int) -> str | None:
    if value is None or value == "":
        if required:
            raise InvalidInput(f"{name} is required", name)
        return None  # web forms send "" for a field left blank: same as leaving it out
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string", name)
    if len(value) > max_length:
        raise InvalidInput(f"{name} must be at most {max_length} characters", name)
    if not value.strip() or not value.isprintable():
        raise InvalidInput(f"{name} must be non-blank printable text", name)
    return value


def request_json(request: CallbackRequest, message: str) -> dict[str, Any]:
    """What an API client may see of a request: no operator-only detail, no account or reservation."""
    return {
        "id": request.id,
        "state": request.state.value,
        "reason": request.reason,
        "channel": request.channel.value,
        "requester": request.requester,
        # E.164 once the core validated it; until then (or if it never could) what the client sent.
        "destination": request.destination or request.destination_raw,
        "callback_number": request.callback_number or request.callback_raw,
        "language": request.language,
        "reference": request.reference,
        "max_talk_seconds": request.max_talk_seconds,
        "created_at": _iso(request.created_at),
        "updated_at": _iso(request.updated_at),
        "message": message,
        "legs": [_leg_json(leg) for leg in request.legs],
    }


def _leg_json(leg: LegRecord) -> dict[str, Any]:
    return {
        "leg": leg.leg.value,
        "attempt": leg.attempt,
        "number": leg.number,
        "caller_id": leg.caller_id,
        "started_at": _iso(leg.started_at),
        "answered_at": _iso(leg.answered_at),
        "bridged_at": _iso(leg.bridged_at),
        "ended_at": _iso(leg.ended_at),
        "cause": leg.cause.value if leg.cause is not None else None,
        "billed_seconds": leg.billed_seconds,
    }


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
