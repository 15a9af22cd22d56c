"""LiveCall folds switch events into per-leg records and the states they justify."""

from __future__ import annotations

from dataclasses import astuple, fields
from datetime import UTC, datetime, timedelta

from roamback.core.calls import CallTracker, LiveCall
from roamback.core.model import (
    CallbackRequest,
    CallPlan,
    Channel,
    Leg,
    LegEvent,
    LegEventKind,
    LegRecord,
    Prompt,
)
from roamback.core.reasons import HangupCause
from roamback.core.states import RequestState as S

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
K = LegEventKind


def _live() -> LiveCall:
    request = CallbackRequest(id="r1", channel=Channel.API, requester="+33612345678",
                              destination_raw="+4915112345678", callback_raw=None, language="en",
                              created_at=T0, state=S.DIALLING_A)
    live = LiveCall(request, balance_minor=1000, currency="EUR")
    live.start_attempt(CallPlan(
        call_id="r1.1", request_id="r1", attempt=1, leg_a_number="+33612345678",
        leg_a_caller_id="+33140000000", leg_b_number="+4915112345678", leg_b_caller_id="+33612345678",
        leg_a_limit=345, leg_b_limit=300, ring_timeout=30, prompt=Prompt("en", 300),
    ))
    return live


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_a_first_call_builds_both_legs_and_the_state_path() -> None:
    live = _live()
    live.observe(LegEvent("r1.1", K.DIALLING, at(0), Leg.A))
    assert live.pending_states() == []
    live.observe(LegEvent("r1.1", K.ANSWERED, at(5), Leg.A))
    assert live.pending_states() == [S.A_ANSWERED]
    live.request.state = S.A_ANSWERED
    live.observe(LegEvent("r1.1", K.DIALLING, at(9), Leg.B))
    live.observe(LegEvent("r1.1", K.ANSWERED, at(14), Leg.B))
    live.observe(LegEvent("r1.1", K.BRIDGED, at(14), None))
    assert live.pending_states() == [S.DIALLING_B, S.BRIDGED]
    live.observe(LegEvent("r1.1", K.ENDED, at(74), Leg.B, HangupCause.NORMAL))
    live.observe(LegEvent("r1.1", K.ENDED, at(74), Leg.A, HangupCause.NORMAL))
    a, b = live.leg_snapshot()
    assert (a.leg, a.number, a.caller_id) == (Leg.A, "+33612345678", "+33140000000")
    assert (b.leg, b.number, b.caller_id) == (Leg.B, "+4915112345678", "+33612345678")
    assert a.used_seconds() == 69  # leg A is billed from its own answer: prompt and ringback included
    assert b.used_seconds() == 60  # leg B only from its answer
    assert a.bridged_at == b.bridged_at == at(14)


def test_events_of_another_attempt_are_ignored() -> None:
    live = _live()
    live.observe(LegEvent("r1.0", K.DIALLING, at(0), Leg.A))
    assert live.leg_snapshot() == ()


def test_first_end_wins_and_snapshot_is_a_copy() -> None:
    live = _live()
    live.observe(LegEvent("r1.1", K.DIALLING, at(0), Leg.A))
    live.observe(LegEvent("r1.1", K.ENDED, at(3), Leg.A, HangupCause.BUSY))
    live.observe(LegEvent("r1.1", K.ENDED, at(9), Leg.A, HangupCause.NORMAL))
    (a,) = live.leg_snapshot()
    assert (a.ended_at, a.cause, a.used_seconds()) == (at(3), HangupCause.BUSY, 0)
    a.billed_seconds = 99
    assert live.legs[Leg.A].billed_seconds == 0


def test_tracker_finds_by_request_and_call_and_forgets() -> None:
    tracker = CallTracker()
    live = _live()
    tracker.bind("r1.1", tracker.track(live.request, None, None))
    assert tracker.by_request("r1") is tracker.by_call("r1.1")
    assert len(tracker) == 1
    tracker.forget("r1")
    assert tracker.by_request("r1") is None
    assert len(tracker) == 0


def test_a_leg_snapshot_copies_every_field_and_is_independent() -> None:
    leg = LegRecord("r1", "r1.1", Leg.B, 2, "+4915112345678", "+33612345678", at(1), at(2), at(3), at(4),
                    HangupCause.NORMAL, 60, 42)
    assert all(getattr(leg, f.name) != f.default for f in fields(LegRecord)), "every field set off its default"
    snapshot = leg.copy()
    assert astuple(snapshot) == astuple(leg) and snapshot is not leg
    leg.ended_at, leg.billed_seconds = at(9), 120
    assert (snapshot.ended_at, snapshot.billed_seconds) == (at(4), 60)
