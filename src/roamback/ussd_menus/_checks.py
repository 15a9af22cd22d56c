"""Everything a menu must satisfy before it serves anyone, each failure with its file and line.

References: every ``goto`` and outcome route names a screen, every action and list source exists, every
value an action reads is collected by some screen, routed-only outcomes are routed. Texts: every key the
menu (or the engine) uses exists in every language, with no placeholder the engine cannot fill. Sizes: every
page of every screen in every language fits one USSD message with the longest values it can hold, its error
line included, so ``PageOverflow`` can only ever be raised here, at start-up.
"""

from __future__ import annotations

import string
from collections.abc import Iterator

from ._yaml import MenuProblem
from .bindings import ACTIONS, PROVIDED_VALUES, Kind
from .definition import MenuDefinition, ScreenDef, Then
from .inputs import ERROR_KEYS, INPUT_KINDS
from .lists import SOURCES
from .render import Nav, PageLimits, PageOverflow, paginate


def error_header(error: str, header: str | None, screen: ScreenDef) -> str:
    """The header of a screen shown again after a wrong answer: the error replaces a title (the choices
    speak for themselves) but goes above a prompt (which says what to type)."""
    return f"{error}\n{header}" if screen.field is not None and header else error

# Texts the engine itself shows, whatever the menu.
ENGINE_KEYS = ("nav.more", "nav.back", "input.invalid_choice", "session.expired", "session.timeout",
               "session.too_many_errors", "session.unknown_dial", "session.unavailable")
# The longest value each placeholder can take: a number is at most 15 digits after the '+'.
SAMPLES = {"number": "+" + "9" * 15, "pending_number": "+" + "9" * 15, "position": "99", "dial": "*999*99#"}
INPUT_ERRORS = {"phone_number": "input.invalid_number", "pin": "input.invalid_pin", "code": "input.invalid_code",
                "language": "input.invalid_language", "phonebook_index": "input.invalid_index",
                "name": "input.invalid_name"}
assert set(INPUT_ERRORS) == set(INPUT_KINDS) and set(INPUT_ERRORS.values()) == set(ERROR_KEYS)


class Checker:
    def __init__(self, menu: MenuDefinition, limits: PageLimits) -> None:
        self.menu = menu
        self.limits = limits
        self.problems: list[MenuProblem] = []
        self.pages: dict[tuple[str, str], tuple[str, ...]] = {}

    def problem(self, line: int, message: str, source: str | None = None) -> None:
        self.problems.append(MenuProblem(source or self.menu.source, line, message))

    def run(self) -> None:
        if self.menu.start not in self.menu.screens:
            self.problem(1, f"start screen {self.menu.start!r} is not defined")
        saved = {screen.field.save for screen in self.menu.screens.values() if screen.field}
        saved |= {screen.listing.save for screen in self.menu.screens.values() if screen.listing}
        for screen in self.menu.screens.values():
            self._screen_refs(screen, saved | PROVIDED_VALUES)
        if self.problems:
            return  # sizes are only meaningful for a menu whose references hold
        self._placeholders()
        for language in self.menu.languages:
            missing = [(key, line) for key, line in self._text_keys() if key not in self.menu.texts[language]]
            for key, line in missing:
                self.problem(line, f"text {key!r} is missing from {self.menu.text_files[language].source}")
            if not missing:
                self._sizes(language)

    # -- references --------------------------------------------------------------------------------

    def _screen_refs(self, screen: ScreenDef, saved: set[str]) -> None:
        nav = {self.menu.more_key, *([] if screen.id == self.menu.start else [self.menu.back_key])}
        for option in screen.options:
            if option.key in nav:
                self.problem(option.line, f"screen {screen.id!r}: option key {option.key!r} is a navigation key")
            self._then_refs(option.then, saved, f"option {option.key!r} of screen {screen.id!r}")
        if screen.field is not None and screen.field.kind not in INPUT_KINDS:
            self.problem(screen.line, f"screen {screen.id!r}: unknown input kind {screen.field.kind!r} "
                         f"(known: {', '.join(sorted(INPUT_KINDS))})")
        if screen.listing is not None and screen.listing.source not in SOURCES:
            self.problem(screen.line, f"screen {screen.id!r}: unknown list source {screen.listing.source!r} "
                         f"(known: {', '.join(sorted(SOURCES))})")
        if screen.then is not None:
            self._then_refs(screen.then, saved, f"screen {screen.id!r}")

    def _then_refs(self, then: Then, saved: set[str], what: str) -> None:
        if then.goto is not None and then.goto not in self.menu.screens:
            self.problem(then.line, f"{what}: goto {then.goto!r}, but there is no such screen")
        if then.action is None:
            return
        action = ACTIONS.get(then.action)
        if action is None:
            self.problem(then.line, f"{what}: unknown action {then.action!r} (known: {', '.join(sorted(ACTIONS))})")
            return
        for name in action.args:
            if name not in then.args:
                self.problem(then.line, f"{what}: action {then.action!r} needs argument {name!r}")
        if then.action == "choose_language" and then.args.get("language") not in (*self.menu.languages, None):
            self.problem(then.line, f"{what}: language {then.args['language']!r} is not in 'languages'")
        for name in action.needs:
            if name not in saved:
                self.problem(then.line, f"{what}: action {then.action!r} reads {name!r}, which no screen saves")
        for outcome, target in then.on.items():
            if outcome not in action.outcomes:
                self.problem(then.line, f"{what}: action {then.action!r} has no outcome {outcome!r} "
                             f"(it has: {', '.join(action.outcomes)})")
            elif target not in self.menu.screens:
                self.problem(then.line, f"{what}: outcome {outcome!r} goes to {target!r}, but there is no such screen")
        for outcome, spec in action.outcomes.items():
            if spec.kind is Kind.ROUTE and outcome not in then.on:
                self.problem(then.line, f"{what}: outcome {outcome!r} of {then.action!r} must be routed with 'on'")

    # -- texts -------------------------------------------------------------------------------------

    def _text_keys(self) -> Iterator[tuple[str, int]]:
        yield from ((key, 1) for key in ENGINE_KEYS)
        for screen in self.menu.screens.values():
            for key in (screen.title, screen.prompt, screen.listing.empty if screen.listing else None):
                if key is not None:
                    yield key, screen.line
            yield from ((option.label, option.line) for option in screen.options if option.label)
            if screen.field is not None:
                yield INPUT_ERRORS[screen.field.kind], screen.line
            if screen.listing is not None:
                yield from ((key, screen.line) for key in SOURCES[screen.listing.source].text_keys)
            for then in self._thens(screen):
                yield from ((spec.key, then.line) for spec in ACTIONS[then.action].outcomes.values() if spec.key)

    def _thens(self, screen: ScreenDef) -> Iterator[Then]:
        for then in (screen.then, *(option.then for option in screen.options)):
            if then is not None and then.action is not None:
                yield then

    def _placeholders(self) -> None:
        for language, file in self.menu.text_files.items():
            for key, text in self.menu.texts[language].items():
                try:
                    names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
                except ValueError as exc:
                    self.problem(file.lines[key], f"text {key!r}: bad braces: {exc}", file.source)
                    continue
                for name in sorted(names - SAMPLES.keys()):
                    self.problem(file.lines[key], f"text {key!r}: unknown placeholder {{{name}}} "
                                 f"(known: {', '.join(sorted(SAMPLES))})", file.source)

    # -- sizes -------------------------------------------------------------------------------------

    def _sizes(self, language: str) -> None:
        file = self.menu.text_files[language]
        texts = self.menu.texts[language]

        def sample(key: str) -> str:
            return texts[key].format_map(SAMPLES)

        nav = Nav(self.menu.more_key, texts["nav.more"], self.menu.back_key, texts["nav.back"])
        for screen in self.menu.screens.values():
            back = screen.id != self.menu.start
            lines = [f"{o.key} {o.text if o.text is not None else texts[o.label or '']}" for o in screen.options]
            if screen.listing is not None:
                item = SOURCES[screen.listing.source].longest(lambda key: texts[key])
                lines, back = [f"{item.key} {item.label}"], True
            header = sample(screen.prompt or screen.title or "") if (screen.prompt or screen.title) else None
            errors = [sample(key) for key in self._error_keys(screen)]
            try:
                for first in (header, *(error_header(error, header, screen) for error in errors)):
                    pages = paginate(first, lines, nav, self.limits, back=back)
                    if first is header and screen.options:
                        self.pages[(screen.id, language)] = tuple(pages)
                        self._start_is_one_page(screen, language, len(pages))
            except PageOverflow as exc:
                self.problem(screen.line, f"screen {screen.id!r} cannot fit one page in {language!r} "
                             f"({file.source}): {exc}")
        for key in self._closing_keys():
            used, allowed = self.limits.units(sample(key))
            if used > allowed:
                self.problem(file.lines[key], f"text {key!r} is {used} characters with its longest values; "
                             f"one page holds {allowed}", file.source)

    def _start_is_one_page(self, screen: ScreenDef, language: str, pages: int) -> None:
        """The start screen may use the back key as an option (``0 Help``) only while it has no later page,
        whose "back" would mean the same answer."""
        if screen.id == self.menu.start and pages > 1 and screen.option(self.menu.back_key) is not None:
            self.problem(screen.line, f"screen {screen.id!r} needs {pages} pages in {language!r}, so its option "
                         f"{self.menu.back_key!r} would clash with 'back': shorten its texts or change the key")

    def _error_keys(self, screen: ScreenDef) -> list[str]:
        keys = ["input.invalid_choice"]
        if screen.field is not None:
            keys.append(INPUT_ERRORS[screen.field.kind])
        for then in self._thens(screen):
            outcomes = ACTIONS[then.action].outcomes.values()
            keys += [spec.key for spec in outcomes if spec.kind is Kind.RETRY and spec.key]
        return keys

    def _closing_keys(self) -> set[str]:
        keys = {"session.expired", "session.timeout", "session.too_many_errors", "session.unknown_dial",
                "session.unavailable"}
        for screen in self.menu.screens.values():
            if screen.listing is not None and screen.listing.empty:
                keys.add(screen.listing.empty)
            for then in self._thens(screen):
                keys |= {spec.key for spec in ACTIONS[then.action].outcomes.values()
                         if spec.kind is Kind.END and spec.key}
        return keys
