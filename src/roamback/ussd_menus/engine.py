"""The menu engine: one subscriber answer in, one page (or the closing text) out.

Front doors (the SMPP USSD glue, the HTTP aggregator door) call ``begin`` when a dialogue opens and
``answer`` for each reply; both return a ``Screen`` whose ``close`` flag tells the door to end the dialogue.
The engine keeps no I/O of its own: time comes from the injected ``clock`` (seconds, as
``reactor.seconds``), dialogue state from a ``StateStore``, everything the subscriber asks for from the
``MenuActions`` port. A menu answer that changes nothing outside (a page turn, a move to a sub-menu) touches
only the store, which is why navigation runs at tens of thousands of steps per second.

Timeouts: each page must be answered within ``screen_timeout`` and the whole dialogue within
``dialogue_timeout``. The centre usually cuts first and tells the glue, which calls ``end``; for doors that
are never told (HTTP aggregators), ``expire`` collects what is past its deadline. An answer arriving late is
refused with "session ended" rather than served after the time the operator configured.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from ..core.messages import MessageCatalog
from ..gateway.ussd.oneshot import CallbackDial, NotRecognised, parse_dial
from ..gateway.ussd.settings import UssdSettings
from ._turn import Params, Turn
from .actions import MenuActions
from .definition import MenuDefinition, Then
from .inputs import ascii_digits
from .loader import load_menu
from .render import PageLimits, fit_text
from .session import MenuSession, Screen
from .state import DialogueState, StateStore

log = logging.getLogger(__name__)


class EndReason(StrEnum):
    ABORTED = "aborted"  # the subscriber or the centre ended it
    SCREEN_TIMEOUT = "screen_timeout"
    DIALOGUE_TIMEOUT = "dialogue_timeout"


@dataclass(frozen=True, slots=True)
class MenuSettings:
    service_codes: tuple[str, ...] = ("123",)
    screen_timeout: float = 30.0
    dialogue_timeout: float = 180.0
    limits: PageLimits = field(default_factory=PageLimits)
    default_language: str = "en"
    max_errors: int = 3  # wrong answers per dialogue before it is closed (bounds PIN guessing too)
    max_phonebook_entries: int = 20
    index_digits: int = 2  # *123*<n># with at most this many digits names a phone book position
    notify_on_timeout: bool = False  # send an SMS when a dialogue times out

    @classmethod
    def from_ussd(cls, ussd: UssdSettings, **others: object) -> MenuSettings:
        return cls(service_codes=ussd.service_codes, screen_timeout=ussd.screen_timeout_seconds,
                   dialogue_timeout=ussd.dialogue_timeout_seconds,
                   limits=PageLimits(ussd.max_page_chars_gsm, ussd.max_page_chars_ucs2), **others)  # type: ignore[arg-type]


class MenuEngine:
    def __init__(self, menu: MenuDefinition, *, actions: MenuActions, store: StateStore, catalog: MessageCatalog,
                 settings: MenuSettings, clock: Callable[[], float]) -> None:
        self.settings = settings
        self._check(menu)
        self.menu = menu
        self.actions = actions
        self.store = store
        self.catalog = catalog
        self.clock = clock
        self._dial = f"*{settings.service_codes[0]}#"

    def reload(self, path: Path | str | None = None) -> str:
        """Load and check a menu, then swap it in with one assignment; returns its version.

        Raises MenuError and keeps the running menu if the new one has any problem. Open dialogues go on
        at the screen of the same id in the new menu, or at its start screen if the id is gone.
        """
        return self.install(load_menu(path or self.menu.source, self.settings.limits))

    def install(self, menu: MenuDefinition) -> str:
        """Swap in a menu loaded elsewhere (the service loads on a thread: parsing takes ~0.1 s)."""
        self._check(menu)
        self.menu = menu
        return menu.version

    def _check(self, menu: MenuDefinition) -> None:
        """What only the settings and the menu together can get wrong."""
        if self.settings.default_language not in menu.languages:
            raise ValueError(f"default language {self.settings.default_language!r} is not one of the menu's "
                             f"languages {menu.languages}")
        positions = {str(n) for n in range(1, self.settings.max_phonebook_entries + 1)}
        if positions & {menu.more_key, menu.back_key}:
            raise ValueError(f"max_phonebook_entries {self.settings.max_phonebook_entries} makes a phone book "
                             f"position look like the 'more' ({menu.more_key}) or 'back' ({menu.back_key}) key")

    # -- the door's calls --------------------------------------------------------------------------

    async def begin(self, session: MenuSession, dialled: str) -> Screen:
        """A dialogue opens with ``dialled`` (``*123#``, ``*123*<number>#``, ``*123*<position>#``)."""
        menu = self.menu
        hint = self._language(menu, session.language)
        dial = parse_dial(dialled, self.settings.service_codes)
        if isinstance(dial, NotRecognised):
            return await self._close(session.id, self.text(menu, hint, "session.unknown_dial", {}))
        try:
            subscriber = await self.actions.subscriber(session.msisdn)
        except Exception:
            log.exception("USSD %s: subscriber lookup failed", session.id)
            return await self._close(session.id, self.text(menu, hint, "session.unavailable", {}))
        if subscriber is None:
            text = self.catalog.render("refusal.unknown_subscriber", hint)
            return await self._close(session.id, fit_text(text, self.settings.limits))
        now = self.clock()
        state = DialogueState(session.id, session.msisdn, self._language(menu, subscriber.language),
                              subscriber.home_region, menu.start, screen_deadline=now + self.settings.screen_timeout,
                              dialogue_deadline=now + self.settings.dialogue_timeout)
        turn = Turn(self, menu, state, subscriber)
        if isinstance(dial, CallbackDial):
            state.position = 1
            number = dial.number
            if number.isdigit() and len(number) <= self.settings.index_digits:
                state.values["position"] = number
                return await self._done(state, turn.run(Then(0, action="call_phonebook_entry"), one_shot=True))
            state.values["destination"] = number  # as typed: the core normalises it, or says why it cannot
            return await self._done(state, turn.run(Then(0, action="request_callback"), one_shot=True))
        return await self._done(state, turn.render(menu.screens[menu.start]))

    async def answer(self, session: MenuSession, text: str) -> Screen:
        state = await self.store.get(session.id)
        menu = self.menu
        if state is None or state.msisdn != session.msisdn:
            language = self._language(menu, session.language)
            return Screen(self.text(menu, language, "session.expired", {}), close=True)
        now = self.clock()
        if now >= state.deadline:
            await self.store.delete(session.id)
            await self._timed_out(state, self._reason(state, now))
            return Screen(self.text(menu, state.language, "session.expired", {}), close=True)
        state.position += 1
        screen = menu.screens.get(state.screen)
        turn = Turn(self, menu, state, None)
        if screen is None:  # the menu was reloaded without this screen: start again, nothing is lost
            state.screen, state.page, state.stack = menu.start, 0, []
            return await self._done(state, turn.render(menu.screens[menu.start]))
        return await self._done(state, turn.handle(screen, ascii_digits(text.strip())))

    async def current(self, session: MenuSession) -> Screen:
        """The page the dialogue is on, again (an HTTP aggregator resent a request we already answered)."""
        state = await self.store.get(session.id)
        if state is None or state.msisdn != session.msisdn or self.clock() >= state.deadline:
            return await self.answer(session, "")
        menu = self.menu
        screen = menu.screens.get(state.screen, menu.screens[menu.start])
        return await Turn(self, menu, state, None).render(screen)

    async def position(self, session_id: str) -> int | None:
        """Answers consumed so far in an open dialogue (with a one-shot dial's extra part), else None."""
        state = await self.store.get(session_id)
        return None if state is None else state.position

    async def end(self, session_id: str, reason: EndReason) -> None:
        """The door learnt the dialogue ended (abort, the centre's timeout): forget it, notify if asked."""
        state = await self.store.get(session_id)
        if state is None:
            return
        await self.store.delete(session_id)
        if reason is not EndReason.ABORTED:
            await self._timed_out(state, reason)

    async def expire(self) -> int:
        """End the dialogues past their deadline (call every few seconds); returns how many."""
        now = self.clock()
        expired = await self.store.take_expired(now)
        for state in expired:
            await self._timed_out(state, self._reason(state, now))
        return len(expired)

    # -- helpers shared with _Turn -----------------------------------------------------------------

    def _language(self, menu: MenuDefinition, language: str | None) -> str:
        return language if language in menu.languages else self.settings.default_language

    def text(self, menu: MenuDefinition, language: str, key: str, params: dict[str, str]) -> str:
        """A menu text with its placeholders filled; the loader proved every language has every key."""
        return menu.texts[language][key].format_map(Params(params, dial=self._dial))

    async def _close(self, session_id: str, text: str) -> Screen:
        await self.store.delete(session_id)
        return Screen(text, close=True)

    async def _done(self, state: DialogueState, step: Awaitable[Screen]) -> Screen:
        """Finish a step: keep the dialogue (its screen timer restarted) or forget it if it closed.

        A failure anywhere in the step (database down, a bug) closes the dialogue with "unavailable": the
        subscriber reads a sentence, never silence, and the next dial starts clean.
        """
        try:
            screen = await step
        except Exception:
            log.exception("USSD %s: step on screen %s failed", state.session_id, state.screen)
            screen = Screen(self.text(self.menu, state.language, "session.unavailable", {}), close=True)
        if screen.close:
            await self.store.delete(state.session_id)
        else:
            state.screen_deadline = self.clock() + self.settings.screen_timeout
            await self.store.put(state)
        return screen

    @staticmethod
    def _reason(state: DialogueState, now: float) -> EndReason:
        return EndReason.DIALOGUE_TIMEOUT if state.dialogue_deadline <= now else EndReason.SCREEN_TIMEOUT

    async def _timed_out(self, state: DialogueState, reason: EndReason) -> None:
        log.info("USSD %s: dialogue ended by %s on screen %s", state.session_id, reason.value, state.screen)
        if not self.settings.notify_on_timeout:
            return
        text = self.text(self.menu, self._language(self.menu, state.language), "session.timeout", {})
        try:
            await self.actions.notify(state.msisdn, state.language, "ussd.timeout", text)
        except Exception:
            log.exception("USSD %s: timeout notice could not be queued", state.session_id)
