"""Where each open dialogue stands, and the stores that keep it between a subscriber's answers.

A dialogue's state is small and plain (screen id, page, a short back stack, the values typed so far), so it
serialises to a few hundred bytes of JSON: in-process by default, or in Redis so that any gateway node
(and a restarted one) can take the next answer. It names screens by id, not by object: after a menu reload
an open dialogue carries on at the screen of the same id in the new menu (or at the start screen if that
id is gone), so a reload never drops a dialogue.

Values typed at a PIN prompt stay here only until the next action consumes them; ``repr`` never shows
values, so a state logged by mistake leaks nothing.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

MAX_STACK = 8  # deeper menus lose their oldest "back" steps rather than grow the state


class DialogueState:
    __slots__ = ("dialogue_deadline", "errors", "language", "msisdn", "page", "position", "region", "screen",
                 "screen_deadline", "session_id", "stack", "values")

    def __init__(self, session_id: str, msisdn: str, language: str, region: str, screen: str, *,
                 screen_deadline: float, dialogue_deadline: float) -> None:
        self.session_id = session_id
        self.msisdn = msisdn
        self.language = language
        self.region = region  # the subscriber's home region, to read national-format numbers
        self.screen = screen
        self.page = 0
        self.stack: list[str] = []
        self.values: dict[str, str] = {}
        self.errors = 0
        self.position = 0  # answers consumed, counting the parts of a one-shot dial (HTTP aggregators)
        self.screen_deadline = screen_deadline
        self.dialogue_deadline = dialogue_deadline

    @property
    def deadline(self) -> float:
        return min(self.screen_deadline, self.dialogue_deadline)

    def push(self, screen: str) -> None:
        self.stack.append(screen)
        del self.stack[:-MAX_STACK]

    def to_json(self) -> str:
        return json.dumps({name: getattr(self, name) for name in self.__slots__}, ensure_ascii=False,
                          separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> DialogueState:
        data: dict[str, Any] = json.loads(text)
        state = cls(data["session_id"], data["msisdn"], data["language"], data["region"], data["screen"],
                    screen_deadline=data["screen_deadline"], dialogue_deadline=data["dialogue_deadline"])
        state.page, state.stack, state.values = data["page"], data["stack"], data["values"]
        state.errors, state.position = data["errors"], data["position"]
        return state

    def __repr__(self) -> str:
        return f"<DialogueState {self.session_id!r} screen={self.screen!r} page={self.page}>"


class StateStore(Protocol):
    async def get(self, session_id: str) -> DialogueState | None: ...

    async def put(self, state: DialogueState) -> None:
        """Keep ``state`` at least until its dialogue deadline."""
        ...

    async def delete(self, session_id: str) -> None: ...

    async def take_expired(self, now: float) -> list[DialogueState]:
        """Remove and return the dialogues past their deadline; each is returned to one caller only, so
        one node sends the timeout notice when several share the store."""
        ...


class MemoryStore:
    """One process's dialogues. ``take_expired`` scans them all: called every few seconds, that costs
    about a millisecond per ten thousand open dialogues, less than keeping a second index up to date
    on every answer."""

    def __init__(self) -> None:
        self._states: dict[str, DialogueState] = {}

    def __len__(self) -> int:
        return len(self._states)

    async def get(self, session_id: str) -> DialogueState | None:
        return self._states.get(session_id)

    async def put(self, state: DialogueState) -> None:
        self._states[state.session_id] = state

    async def delete(self, session_id: str) -> None:
        self._states.pop(session_id, None)

    async def take_expired(self, now: float) -> list[DialogueState]:
        expired = [state for state in self._states.values() if state.deadline <= now]
        for state in expired:
            del self._states[state.session_id]
        return expired
