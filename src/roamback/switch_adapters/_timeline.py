"""What every switch adapter's call does with time: report leg events in order, and drop a leg's timers.

Switch timestamps come from several sources (event times, our clock when the switch gives none), and a
late or skewed one must never put an event before the one already reported: the engine bills from them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime

from twisted.internet.error import AlreadyCalled, AlreadyCancelled

from ..core.model import Leg, LegEvent, LegEventKind
from ..core.ports import Cancellable
from ..core.reasons import HangupCause


class Timeline:
    __slots__ = ("_call_id", "_last_at", "_now", "_report")

    def __init__(self, call_id: str, now: Callable[[], datetime], report: Callable[[LegEvent], None]) -> None:
        self._call_id = call_id
        self._now = now
        self._report = report
        self._last_at: datetime | None = None

    def clamp(self, at: datetime | None) -> datetime:
        """``at`` (the switch's time) or now, never before the call's previous event."""
        at = at or self._now()
        return self._last_at if self._last_at is not None and at < self._last_at else at

    def emit(self, kind: LegEventKind, leg: Leg | None, cause: HangupCause | None = None, *,
             at: datetime | None = None) -> datetime:
        at = self.clamp(at)
        self._last_at = at
        self._report(LegEvent(call_id=self._call_id, kind=kind, at=at, leg=leg, cause=cause))
        return at


def cancel_timers(timers: list[Cancellable]) -> None:
    for timer in timers:
        with contextlib.suppress(AlreadyCalled, AlreadyCancelled):  # the limit fired: why we are here
            timer.cancel()
    timers.clear()
