"""A menu file read into screens: numbered options, a free-text answer, or a list from the database.

The file format (see ``default_menu.yaml``)::

    start: main                     # first screen of *123#
    languages: [en, fr, ...]        # each needs texts/<language>.yaml
    texts: texts                    # folder of text files, relative to this file
    keys: {more: "98", back: "0"}   # navigation answers
    screens:
      main:
        title: main.title           # text keys, looked up in the subscriber's language
        options:
          - {key: "1", label: main.call, goto: call_number}
          - {key: "4", label: main.balance, action: balance}
      call_number:
        prompt: call.prompt
        input: {kind: phone_number, save: destination}
        goto: call_on
      call_on:
        title: call.on
        list: {source: callback_numbers, save: callback, auto_single: true}
        action: request_callback

An option, an answer or a list choice leads either to another screen (``goto``) or to an action, whose
outcomes the file may route to screens (``on: {code_sent: number_code}``). Parsing collects every problem
with its line; ``_checks`` then checks references and page sizes.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._yaml import Located, MenuProblem, TextFile


@dataclass(frozen=True, slots=True)
class Then:
    """What follows a choice: a screen, or an action with its arguments and outcome routes."""

    line: int
    goto: str | None = None
    action: str | None = None
    args: Mapping[str, str] = field(default_factory=dict)
    on: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Option:
    key: str
    then: Then
    line: int
    label: str | None = None  # a text key
    text: str | None = None  # a literal label, the same in every language (a language's own name)


@dataclass(frozen=True, slots=True)
class Field:
    kind: str
    save: str


@dataclass(frozen=True, slots=True)
class Listing:
    source: str
    save: str
    empty: str | None = None  # text key shown (closing) when the list is empty
    auto_single: bool = False  # a list of one item is chosen without asking


@dataclass(frozen=True, slots=True)
class ScreenDef:
    id: str
    line: int
    title: str | None = None
    prompt: str | None = None
    options: tuple[Option, ...] = ()
    field: Field | None = None
    listing: Listing | None = None
    then: Then | None = None

    def option(self, key: str) -> Option | None:
        return next((option for option in self.options if option.key == key), None)


@dataclass(frozen=True, slots=True)
class MenuDefinition:
    source: str
    version: str  # digest of the menu file and its texts: tells nodes and logs which menu served
    start: str
    languages: tuple[str, ...]
    more_key: str
    back_key: str
    screens: Mapping[str, ScreenDef]
    texts: Mapping[str, Mapping[str, str]]
    text_files: Mapping[str, TextFile]
    pages: Mapping[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)  # option screens, no error

    def text(self, language: str, key: str) -> str:
        return self.texts[language][key]


@dataclass
class RawMenu:
    """Parsed but not yet checked; ``problems`` grows as parsing goes."""

    source: str
    data: Located
    problems: list[MenuProblem] = field(default_factory=list)

    def problem(self, line: int, message: str) -> None:
        self.problems.append(MenuProblem(self.source, line, message))

    def string(self, node: Located, key: str, *, required: bool = False) -> str | None:
        value = node.get(key)
        if value is None:
            if required:
                self.problem(node.line, f"missing {key!r}")
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            self.problem(node.line_of(key), f"{key!r} must be a string")
            return None
        return str(value)

    def mapping(self, node: Located, key: str) -> Located | None:
        value = node.get(key)
        if value is None:
            return None
        if not isinstance(value, Located):
            self.problem(node.line_of(key), f"{key!r} must be a mapping")
            return None
        return value

    def allowed(self, node: Located, keys: frozenset[str], what: str) -> None:
        for key in node:
            if key not in keys:
                self.problem(node.line_of(key), f"unknown key {key!r} in {what}")


_THEN_KEYS = frozenset({"goto", "action", "args", "on"})
_OPTION_KEYS = _THEN_KEYS | {"key", "label", "text"}
_SCREEN_KEYS = _THEN_KEYS | {"title", "prompt", "options", "input", "list"}
TOP_KEYS = frozenset({"start", "languages", "texts", "keys", "screens"})


def parse_then(raw: RawMenu, node: Located, what: str) -> Then | None:
    goto, action = raw.string(node, "goto"), raw.string(node, "action")
    if goto is None and action is None:
        return None
    if goto is not None and action is not None:
        raw.problem(node.line_of("action"), f"{what} has both 'goto' and 'action'")
    args = {str(k): str(v) for k, v in (raw.mapping(node, "args") or {}).items()}
    routes = raw.mapping(node, "on") or Located(node.line)
    on = {str(k): str(v) for k, v in routes.items()}
    if (args or on) and action is None:
        raw.problem(node.line, f"{what}: 'args' and 'on' only go with an 'action'")
    return Then(node.line_of("action" if action else "goto"), goto, action, args, on)


def parse_option(raw: RawMenu, node: Any, screen: str, line: int) -> Option | None:
    if not isinstance(node, Located):
        raw.problem(line, f"screen {screen!r}: each option must be a mapping")
        return None
    raw.allowed(node, _OPTION_KEYS, f"an option of screen {screen!r}")
    key = raw.string(node, "key", required=True)
    label, text = raw.string(node, "label"), raw.string(node, "text")
    if (label is None) == (text is None):
        raw.problem(node.line, f"screen {screen!r}: an option needs exactly one of 'label' (text key) or 'text'")
    then = parse_then(raw, node, f"option {key!r} of screen {screen!r}")
    if then is None:
        raw.problem(node.line, f"screen {screen!r}: option {key!r} needs 'goto' or 'action'")
    if key is None or then is None:
        return None
    return Option(key, then, node.line, label, text)


def parse_screen(raw: RawMenu, screen_id: str, node: Any, line: int) -> ScreenDef | None:
    if not isinstance(node, Located):
        raw.problem(line, f"screen {screen_id!r} must be a mapping")
        return None
    raw.allowed(node, _SCREEN_KEYS, f"screen {screen_id!r}")
    kinds = [name for name in ("options", "input", "list") if name in node]
    if len(kinds) != 1:
        raw.problem(node.line, f"screen {screen_id!r} needs exactly one of 'options', 'input' or 'list'")
        return None
    then = parse_then(raw, node, f"screen {screen_id!r}")
    screen = ScreenDef(screen_id, node.line, raw.string(node, "title"), raw.string(node, "prompt"), then=then)
    if kinds[0] == "options":
        return _with_options(raw, screen, node)
    if then is None:
        raw.problem(node.line, f"screen {screen_id!r} needs 'goto' or 'action' for the answer")
    if kinds[0] == "input":
        spec = raw.mapping(node, "input") or Located(node.line)
        raw.allowed(spec, frozenset({"kind", "save"}), f"the input of screen {screen_id!r}")
        kind, save = raw.string(spec, "kind", required=True), raw.string(spec, "save", required=True)
        if screen.prompt is None:
            raw.problem(node.line, f"screen {screen_id!r} asks for an answer without a 'prompt'")
        return dataclasses.replace(screen, field=Field(kind or "", save or "")) if kind and save else None
    spec = raw.mapping(node, "list") or Located(node.line)
    raw.allowed(spec, frozenset({"source", "save", "empty", "auto_single"}), f"the list of screen {screen_id!r}")
    source, save = raw.string(spec, "source", required=True), raw.string(spec, "save", required=True)
    auto = spec.get("auto_single", False)
    if not isinstance(auto, bool):
        raw.problem(spec.line_of("auto_single"), "'auto_single' must be true or false")
    if source is None or save is None:
        return None
    return dataclasses.replace(screen, listing=Listing(source, save, raw.string(spec, "empty"), auto is True))


def _with_options(raw: RawMenu, screen: ScreenDef, node: Located) -> ScreenDef | None:
    if screen.then is not None:
        raw.problem(node.line, f"screen {screen.id!r}: options carry their own 'goto'/'action'")
    items = node["options"]
    if not isinstance(items, list) or not items:
        raw.problem(node.line_of("options"), f"screen {screen.id!r}: 'options' must be a non-empty list")
        return None
    options = [parse_option(raw, item, screen.id, node.line_of("options")) for item in items]
    keys = [option.key for option in options if option is not None]
    for option in options:
        if option is not None and keys.count(option.key) > 1:
            raw.problem(option.line, f"screen {screen.id!r}: option key {option.key!r} is used twice")
    return dataclasses.replace(screen, options=tuple(option for option in options if option is not None))


def digest(path: Path, text_files: Mapping[str, TextFile]) -> str:
    sha = hashlib.sha256(path.read_bytes())
    for language in sorted(text_files):
        sha.update(Path(text_files[language].source).read_bytes())
    return sha.hexdigest()[:12]
