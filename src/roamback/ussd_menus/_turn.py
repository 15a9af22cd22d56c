"""One answer's worth of work on one dialogue: navigation, inputs, lists, actions and rendering.

Split from ``engine`` so the engine module holds the door-facing API and this one the menu semantics.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..core.model import Subscriber
from ._checks import error_header
from .bindings import ACTIONS, ActionContext, Kind
from .definition import MenuDefinition, ScreenDef, Then
from .inputs import SECRET_KINDS, InputContext, Invalid, check
from .lists import SOURCES, Item
from .render import Nav, fit_text, paginate
from .session import Screen
from .state import DialogueState

if TYPE_CHECKING:
    from .engine import MenuEngine

log = logging.getLogger(__name__)


class Params(dict[str, str]):
    """Placeholders of a text: the dialogue's values, the service code, and "" for a value not typed yet."""

    def __init__(self, values: dict[str, str], *, dial: str) -> None:
        super().__init__(values)
        self["dial"] = dial

    def __missing__(self, key: str) -> str:
        return ""


class Turn:
    """One answer's worth of work on one dialogue; the subscriber is looked up only if an action needs it."""

    def __init__(self, engine: MenuEngine, menu: MenuDefinition, state: DialogueState,
                 subscriber: Subscriber | None) -> None:
        self.engine = engine
        self.menu = menu
        self.state = state
        self._subscriber = subscriber
        self._items: list[Item] | None = None

    async def handle(self, screen: ScreenDef, answer: str) -> Screen:
        state, menu = self.state, self.menu
        if answer == menu.more_key and await self._has_more(screen):
            state.page += 1
            return await self.render(screen)
        if answer == menu.back_key and (state.page > 0 or screen.id != menu.start):
            return await self._back(screen)
        if screen.options:
            option = screen.option(answer)
            return await self.follow(option.then) if option else await self.retry(screen, "input.invalid_choice")
        assert screen.then is not None
        if screen.field is not None:
            value = check(screen.field.kind, answer, InputContext(
                state.region, self.menu.languages, self.engine.settings.max_phonebook_entries))
            if isinstance(value, Invalid):
                return await self.retry(screen, value.text_key)
            state.values[screen.field.save] = value
            return await self.follow(screen.then)
        assert screen.listing is not None
        item = next((item for item in await self._list(screen) if item.key == answer), None)
        if item is None:
            return await self.retry(screen, "input.invalid_choice")
        state.values[screen.listing.save] = item.value
        return await self.follow(screen.then)

    async def _back(self, screen: ScreenDef) -> Screen:
        state = self.state
        if state.page > 0:
            state.page -= 1
            return await self.render(screen)
        previous = state.stack.pop() if state.stack else self.menu.start
        state.screen, state.page = previous, 0
        return await self.render(self.menu.screens.get(previous, self.menu.screens[self.menu.start]))

    async def follow(self, then: Then) -> Screen:
        if then.goto is not None:
            return await self.goto(then.goto)
        return await self.run(then)

    async def goto(self, target: str) -> Screen:
        screen = self.menu.screens[target]
        self._items = None
        if screen.listing is not None:
            items = await self._list(screen)
            if not items and screen.listing.empty:
                return Screen(self._fitted(screen.listing.empty, {}), close=True)
            if screen.listing.auto_single and len(items) == 1 and screen.then is not None:
                self.state.values[screen.listing.save] = items[0].value
                return await self.follow(screen.then)
        self.state.push(self.state.screen)
        self.state.screen, self.state.page = target, 0
        return await self.render(screen)

    async def run(self, then: Then, *, one_shot: bool = False) -> Screen:
        """Run the action and turn its outcome into a closing text, a re-prompt, or the routed screen."""
        assert then.action is not None
        action = ACTIONS[then.action]
        state = self.state
        try:
            ctx = ActionContext(await self.subscriber(), state.language, dict(state.values), then.args,
                                self.engine.actions, self.engine.catalog, self.engine.settings.max_phonebook_entries)
            outcome = await action.run(ctx)
        except Exception:
            log.exception("USSD %s: action %s failed", state.session_id, then.action)
            return Screen(self.engine.text(self.menu, state.language, "session.unavailable", {}), close=True)
        finally:
            for name in self._secrets():  # a PIN lives only until the action that reads it
                state.values.pop(name, None)
        state.values.update(outcome.values)
        if outcome.language is not None:
            state.language = outcome.language
        spec = action.outcomes[outcome.name]
        route = then.on.get(outcome.name)
        if route is not None and not one_shot:
            return await self.goto(route)
        if spec.key is None:
            return Screen(fit_text(outcome.text or "", self.engine.settings.limits), close=True)
        if spec.kind is Kind.RETRY and not one_shot:
            current = self.menu.screens.get(state.screen, self.menu.screens[self.menu.start])
            return await self.retry(current, spec.key, outcome.params)
        return Screen(self._fitted(spec.key, outcome.params), close=True)

    async def retry(self, screen: ScreenDef, key: str, params: dict[str, str] | None = None) -> Screen:
        self.state.errors += 1
        if self.state.errors > self.engine.settings.max_errors:
            return Screen(self._fitted("session.too_many_errors", {}), close=True)
        return await self.render(screen, self.engine.text(self.menu, self.state.language, key, params or {}))

    async def render(self, screen: ScreenDef, error: str | None = None) -> Screen:
        state, menu = self.state, self.menu
        pages = menu.pages.get((screen.id, state.language)) if error is None else None
        if pages is None:
            pages = tuple(await self._pages(screen, error))
        state.page = min(state.page, len(pages) - 1)
        return Screen(pages[state.page], close=False)

    async def _pages(self, screen: ScreenDef, error: str | None) -> list[str]:
        state, texts = self.state, self.menu.texts[self.state.language]
        key = screen.prompt or screen.title
        header = self.engine.text(self.menu, state.language, key, state.values) if key else None
        if error is not None:
            header = error_header(error, header, screen)
        if screen.listing is not None:
            lines = [f"{item.key} {item.label}" for item in await self._list(screen)]
        else:
            lines = [f"{o.key} {o.text if o.text is not None else texts[o.label or '']}" for o in screen.options]
        nav = Nav(self.menu.more_key, texts["nav.more"], self.menu.back_key, texts["nav.back"])
        return paginate(header, lines, nav, self.engine.settings.limits, back=screen.id != self.menu.start)

    async def _has_more(self, screen: ScreenDef) -> bool:
        if screen.field is not None:
            return False
        pages = self.menu.pages.get((screen.id, self.state.language)) or await self._pages(screen, None)
        return self.state.page + 1 < len(pages)

    async def _list(self, screen: ScreenDef) -> list[Item]:
        if self._items is None:
            assert screen.listing is not None
            texts = self.menu.texts[self.state.language]
            source = SOURCES[screen.listing.source]
            self._items = await source.fetch(self.engine.actions, await self.subscriber(), texts.__getitem__)
        return self._items

    async def subscriber(self) -> Subscriber:
        if self._subscriber is None:
            found = await self.engine.actions.subscriber(self.state.msisdn)
            if found is None:
                raise LookupError(f"subscriber {self.state.msisdn} vanished during the dialogue")
            self._subscriber = found
        return self._subscriber

    def _fitted(self, key: str, params: dict[str, str]) -> str:
        return fit_text(self.engine.text(self.menu, self.state.language, key, params), self.engine.settings.limits)

    def _secrets(self) -> set[str]:
        return {s.field.save for s in self.menu.screens.values() if s.field and s.field.kind in SECRET_KINDS}
