"""Open USSD dialogues, keyed as the centre's dialect says, with their two timeouts.

A dialogue ends at the first of two deadlines: the screen deadline (the subscriber must answer each menu
within it, so it moves on with every step) and the dialogue deadline (fixed at the Begin). The table keeps
one heap entry per dialogue with the deadline it was queued at; a screen deadline that moved later is
noticed when the entry surfaces and is queued again, and entries of dialogues that have gone are skipped
then (lazy deletion), so no step costs more than O(log n). Time is a float passed in by the caller.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Hashable
from dataclasses import dataclass
from enum import StrEnum

from .messages import UssdIndication

_COMPACT_MIN = 1024  # below this many heap entries stale ones are not worth a rebuild


class Dialogue:
    """One open dialogue. ``state`` belongs to the menu engine; the table never looks inside it."""

    __slots__ = ("_queued", "dialogue_deadline", "its_session_info", "key", "language", "msisdn",
                 "opened_at", "screen_deadline", "service_code", "state", "steps", "user_message_reference")

    def __init__(self, key: Hashable, indication: UssdIndication, now: float, screen_deadline: float,
                 dialogue_deadline: float, language: str | None) -> None:
        self.key = key
        self.msisdn = indication.msisdn
        self.service_code = indication.service_code
        self.its_session_info = indication.its_session_info
        self.user_message_reference = indication.user_message_reference
        self.language = language
        self.state: object = None
        self.opened_at = now
        self.screen_deadline = screen_deadline
        self.dialogue_deadline = dialogue_deadline
        self.steps = 1
        self._queued = min(screen_deadline, dialogue_deadline)

    @property
    def deadline(self) -> float:
        # min()'s own choice, spelled out: the table reads this several times per step
        screen, dialogue = self.screen_deadline, self.dialogue_deadline
        return dialogue if dialogue < screen else screen

    def __repr__(self) -> str:
        return f"<Dialogue {self.key!r} steps={self.steps} deadline={self.deadline}>"


@dataclass(frozen=True, slots=True)
class Opened:
    """``replaced`` is the live dialogue a Begin with the same key pushed out (the centre forgot it)."""

    dialogue: Dialogue
    replaced: Dialogue | None = None


@dataclass(frozen=True, slots=True)
class NoDialogue:
    """No live dialogue under this key (never opened, closed, or timed out): answer "session expired".

    ``expired`` is the dialogue found past its deadline before ``expire`` collected it (now removed), so the
    caller can log the timeout and use its language; None when there was nothing under the key.
    """

    key: Hashable
    expired: Dialogue | None = None


class Timeout(StrEnum):
    SCREEN = "screen"
    DIALOGUE = "dialogue"


@dataclass(frozen=True, slots=True)
class Expired:
    dialogue: Dialogue
    timeout: Timeout


@dataclass(slots=True)
class DialogueCounts:
    """Totals since start, for metrics; ``live`` is ``len(table)``."""

    opened: int = 0
    replaced: int = 0
    closed: int = 0
    aborted: int = 0
    expired: int = 0
    unknown: int = 0


class DialogueTable:
    def __init__(self, *, screen_timeout: float, dialogue_timeout: float) -> None:
        if not 0 < screen_timeout <= dialogue_timeout:
            raise ValueError("need 0 < screen_timeout <= dialogue_timeout")
        self._screen = screen_timeout
        self._lifetime = dialogue_timeout
        self._live: dict[Hashable, Dialogue] = {}
        self._heap: list[tuple[float, int, Dialogue]] = []
        self._order = itertools.count()
        self.counts = DialogueCounts()

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._live

    def get(self, key: Hashable) -> Dialogue | None:
        return self._live.get(key)

    def open(self, key: Hashable, indication: UssdIndication, now: float, *, language: str | None = None) -> Opened:
        dialogue = Dialogue(key, indication, now, now + self._screen, now + self._lifetime, language)
        replaced = self._live.get(key)
        self._live[key] = dialogue
        heapq.heappush(self._heap, (dialogue._queued, next(self._order), dialogue))
        self.counts.opened += 1
        if replaced is not None:
            self.counts.replaced += 1
            self._maybe_compact()
        return Opened(dialogue, replaced)

    def resume(self, key: Hashable, indication: UssdIndication, now: float) -> Dialogue | NoDialogue:
        """The dialogue a Continue belongs to, its screen deadline restarted and its session info updated.

        A dialogue past its deadline that ``expire`` has not collected yet is removed here: the subscriber
        must not be served after the timeout the operator configured just because the timer fired late.
        """
        dialogue = self._live.get(key)
        if dialogue is None:
            self.counts.unknown += 1
            return NoDialogue(key)
        if dialogue.deadline <= now:
            self._remove(key)
            self.counts.expired += 1
            return NoDialogue(key, dialogue)
        dialogue.its_session_info = indication.its_session_info
        dialogue.user_message_reference = indication.user_message_reference
        dialogue.steps += 1
        self.touch(dialogue, now)
        return dialogue

    def touch(self, dialogue: Dialogue, now: float) -> None:
        """Restart the screen timer: call when a reply that waits for the subscriber goes out."""
        dialogue.screen_deadline = now + self._screen
        deadline = dialogue.deadline
        if deadline < dialogue._queued:  # only if the clock went back: later deadlines are re-queued lazily
            dialogue._queued = deadline
            heapq.heappush(self._heap, (deadline, next(self._order), dialogue))

    def close(self, key: Hashable) -> Dialogue | None:
        """End a dialogue we closed (final reply sent); None if it was not live."""
        dialogue = self._remove(key)
        if dialogue is not None:
            self.counts.closed += 1
        return dialogue

    def abort(self, key: Hashable) -> Dialogue | None:
        """End a dialogue the centre or the subscriber ended; None if it was not live."""
        dialogue = self._remove(key)
        if dialogue is not None:
            self.counts.aborted += 1
        return dialogue

    def expire(self, now: float) -> list[Expired]:
        """Remove and return the dialogues whose deadline is at or before ``now``, earliest first."""
        expired: list[Expired] = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            queued, order, dialogue = heap[0]
            if not self._is_current(queued, dialogue):
                heapq.heappop(heap)
            elif dialogue.deadline > now:
                dialogue._queued = dialogue.deadline
                heapq.heapreplace(heap, (dialogue._queued, order, dialogue))
            else:
                heapq.heappop(heap)
                del self._live[dialogue.key]
                timeout = Timeout.DIALOGUE if dialogue.dialogue_deadline <= now else Timeout.SCREEN
                expired.append(Expired(dialogue, timeout))
        self.counts.expired += len(expired)
        return expired

    def next_deadline(self) -> float | None:
        """When ``expire`` next has work: the one timer the glue keeps. None when no dialogue is open."""
        heap = self._heap
        while heap:
            queued, order, dialogue = heap[0]
            if not self._is_current(queued, dialogue):
                heapq.heappop(heap)
            elif dialogue.deadline > queued:
                dialogue._queued = dialogue.deadline
                heapq.heapreplace(heap, (dialogue._queued, order, dialogue))
            else:
                return queued
        return None

    def _is_current(self, queued: float, dialogue: Dialogue) -> bool:
        return self._live.get(dialogue.key) is dialogue and dialogue._queued == queued

    def _remove(self, key: Hashable) -> Dialogue | None:
        dialogue = self._live.pop(key, None)
        if dialogue is not None:
            self._maybe_compact()
        return dialogue

    def _maybe_compact(self) -> None:
        """Drop entries of gone dialogues once they outnumber the live ones, so memory follows live load."""
        heap = self._heap
        if len(heap) > _COMPACT_MIN and len(heap) > 2 * len(self._live):
            self._heap = [entry for entry in heap if self._is_current(entry[0], entry[2])]
            heapq.heapify(self._heap)
