"""The switch bus's JSON messages (``schemas/*.schema.json`` are the contract for the switch side).

Encoding is plain dict building; decoding checks by hand what the service relies on and raises
``BadMessage`` for anything else, so a malformed event from a faulty switch is rejected, not half-read.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from importlib.resources import files
from typing import Any

from ...core.model import CallPlan, Leg, LegEvent, LegEventKind
from ...core.reasons import HangupCause

VERSION = 1
_LEGGED = {LegEventKind.DIALLING, LegEventKind.ANSWERED, LegEventKind.ENDED}


class BadMessage(ValueError):
    """An event that does not follow leg_event.schema.json."""


def schema(name: str) -> dict[str, Any]:
    """``command`` or ``leg_event``: the JSON Schema shipped with the package."""
    text = files(__package__).joinpath("schemas", f"{name}.schema.json").read_text()
    result: dict[str, Any] = json.loads(text)
    return result


def originate_command(plan: CallPlan, sent_at: datetime) -> dict[str, Any]:
    prompt = plan.prompt
    return {
        "version": VERSION, "type": "originate", "command_id": uuid.uuid4().hex, "sent_at": sent_at.isoformat(),
        "call_id": plan.call_id,
        "plan": {
            "request_id": plan.request_id, "attempt": plan.attempt,
            "leg_a_number": plan.leg_a_number, "leg_a_caller_id": plan.leg_a_caller_id,
            "leg_b_number": plan.leg_b_number, "leg_b_caller_id": plan.leg_b_caller_id,
            "leg_a_limit": plan.leg_a_limit, "leg_b_limit": plan.leg_b_limit, "ring_timeout": plan.ring_timeout,
            "mode": plan.mode.value,
            "prompt": {"language": prompt.language, "max_seconds": prompt.max_seconds,
                       "balance_minor": prompt.balance_minor, "currency": prompt.currency},
        },
    }


def hangup_command(call_id: str, sent_at: datetime) -> dict[str, Any]:
    return {"version": VERSION, "type": "hangup", "command_id": uuid.uuid4().hex, "sent_at": sent_at.isoformat(),
            "call_id": call_id}


def set_limits_command(call_id: str, leg_a_limit: int, leg_b_limit: int, sent_at: datetime) -> dict[str, Any]:
    """Charging moved the limits of a live call; they count from each leg's answer, like the plan's."""
    return {"version": VERSION, "type": "set_limits", "command_id": uuid.uuid4().hex,
            "sent_at": sent_at.isoformat(), "call_id": call_id,
            "limits": {"leg_a_limit": leg_a_limit, "leg_b_limit": leg_b_limit}}


def encode_event(event: LegEvent, event_id: str) -> dict[str, Any]:
    """The wire form of an event: what a switch publishes (used by test switches and bridges)."""
    return {"version": VERSION, "event_id": event_id, "call_id": event.call_id, "kind": event.kind.value,
            "at": event.at.isoformat(), "leg": event.leg.value if event.leg else None,
            "cause": event.cause.value if event.cause else None}


def decode_event(body: bytes) -> tuple[str, LegEvent]:
    """(event_id, event) from a message body; BadMessage if it breaks the schema's rules."""
    try:
        data = json.loads(body)
        if not isinstance(data, dict) or data.get("version") != VERSION:
            raise BadMessage("not a version 1 leg event")
        kind = LegEventKind(data["kind"])
        at = datetime.fromisoformat(data["at"])
        leg = Leg(data["leg"]) if data["leg"] is not None else None
        cause = HangupCause(data["cause"]) if data["cause"] is not None else None
        event_id, call_id = data["event_id"], data["call_id"]
    except (KeyError, TypeError, ValueError) as exc:
        raise BadMessage(f"malformed leg event: {exc}") from exc
    if at.tzinfo is None:
        raise BadMessage("'at' has no time zone")
    if (kind in _LEGGED) != (leg is not None) or (kind is LegEventKind.ENDED) != (cause is not None):
        raise BadMessage(f"{kind.value} event with leg={leg} cause={cause}")
    if not (isinstance(event_id, str) and event_id and isinstance(call_id, str) and call_id):
        raise BadMessage("event_id and call_id must be non-empty strings")
    return event_id, LegEvent(call_id=call_id, kind=kind, at=at, leg=leg, cause=cause)
