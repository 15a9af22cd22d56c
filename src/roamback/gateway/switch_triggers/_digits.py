"""Collecting one DTMF entry: digits until '#', a pause, or the length limit. No I/O, time passed in.

The adapter feeds it ``press(digit, now)`` and, when ``deadline`` passes, ``expire(now)``; both return the
finished ``Entry`` or None while the entry goes on. '*' starts the entry again, the usual telephone habit
for "I mistyped". A pause after at least one digit ends the entry as '#' would: callers often forget the
'#', and a number that is then invalid is re-asked anyway.
"""

from __future__ import annotations

from dataclasses import dataclass

TERMINATOR = "#"
CLEAR = "*"
DIGITS = frozenset("0123456789")


@dataclass(frozen=True, slots=True)
class Entry:
    """What the caller keyed in. ``digits`` is "" for a bare '#'; ``silent``: the time ran out with no digit."""

    digits: str
    silent: bool = False


@dataclass(frozen=True, slots=True)
class EntryRules:
    max_digits: int
    first_digit_seconds: float
    inter_digit_seconds: float


class DigitCollector:
    def __init__(self, rules: EntryRules, now: float) -> None:
        self._rules = rules
        self._digits = ""
        self.deadline = now + rules.first_digit_seconds

    def press(self, digit: str, now: float) -> Entry | None:
        self.deadline = now + self._rules.inter_digit_seconds
        if digit == TERMINATOR:
            return Entry(self._digits)
        if digit == CLEAR:
            self._digits = ""
        elif digit in DIGITS:  # A-D carry no meaning here: ignored rather than refused
            self._digits += digit
            if len(self._digits) >= self._rules.max_digits:
                return Entry(self._digits)
        return None

    def expire(self, now: float) -> Entry | None:
        if now < self.deadline:
            return None
        return Entry(self._digits, silent=not self._digits)
