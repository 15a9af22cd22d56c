"""Read a menu file and its texts, check all of it, and return a definition ready to serve.

``load_menu`` raises ``MenuError`` listing every problem (file:line: message); nothing half-valid is
returned, so a failed reload leaves the running menu untouched.
"""

from __future__ import annotations

import dataclasses
from importlib import resources
from pathlib import Path
from typing import Any

from . import _yaml
from ._checks import Checker
from ._yaml import Located, MenuError, MenuProblem, TextFile
from .definition import TOP_KEYS, MenuDefinition, RawMenu, digest, parse_screen
from .render import PageLimits

DEFAULT_KEYS = {"more": "98", "back": "0"}


def default_menu_path() -> Path:
    """The packaged ``*123#`` menu; operators copy it (and ``texts/``) to change it."""
    return Path(str(resources.files(__package__).joinpath("default_menu.yaml")))


def load_menu(path: Path | str, limits: PageLimits | None = None) -> MenuDefinition:
    path = Path(path)
    raw = RawMenu(str(path), _yaml.load(path))
    data = raw.data
    raw.allowed(data, TOP_KEYS, "the menu")
    start = raw.string(data, "start", required=True) or ""
    languages = _languages(raw, data)
    keys = {**DEFAULT_KEYS, **_keys(raw, data)}
    text_files = _text_files(raw, path.parent / (raw.string(data, "texts") or "texts"), languages,
                             data.line_of("languages"))
    screens_node = raw.mapping(data, "screens")
    if screens_node is None:
        raw.problem(data.line, "missing 'screens'")
        screens_node = Located(data.line)
    screens = {}
    for screen_id, node in screens_node.items():
        screen = parse_screen(raw, screen_id, node, screens_node.line_of(screen_id))
        if screen is not None:
            screens[screen_id] = screen
    if raw.problems:
        raise MenuError(raw.problems)
    menu = MenuDefinition(
        source=raw.source, version=digest(path, text_files), start=start, languages=languages,
        more_key=keys["more"], back_key=keys["back"], screens=screens,
        texts={language: file.texts for language, file in text_files.items()}, text_files=text_files,
    )
    checker = Checker(menu, limits or PageLimits())
    checker.run()
    if checker.problems:
        raise MenuError(checker.problems)
    return dataclasses.replace(menu, pages=checker.pages)


def _languages(raw: RawMenu, data: Located) -> tuple[str, ...]:
    value: Any = data.get("languages")
    if not isinstance(value, list) or not value or not all(isinstance(item, str) for item in value):
        raw.problem(data.line_of("languages"), "'languages' must be a non-empty list of language codes")
        return ()
    if len(set(value)) != len(value):
        raw.problem(data.line_of("languages"), "a language is listed twice")
    return tuple(value)


def _keys(raw: RawMenu, data: Located) -> dict[str, str]:
    node = raw.mapping(data, "keys")
    if node is None:
        return {}
    raw.allowed(node, frozenset(DEFAULT_KEYS), "'keys'")
    keys = {name: raw.string(node, name) for name in DEFAULT_KEYS if name in node}
    for name, key in keys.items():
        if key is not None and not key.isdigit():
            raw.problem(node.line_of(name), f"key {name!r} must be digits: handsets and HTTP aggregators "
                        "('*' joins answers) only pass digits reliably")
    if keys.get("more") is not None and keys.get("more") == keys.get("back", DEFAULT_KEYS["back"]):
        raw.problem(node.line, "'more' and 'back' must differ")
    return {name: key for name, key in keys.items() if key is not None}


def _text_files(raw: RawMenu, folder: Path, languages: tuple[str, ...], line: int) -> dict[str, TextFile]:
    files = {}
    for language in languages:
        path = folder / f"{language}.yaml"
        if not path.is_file():
            raw.problem(line, f"language {language!r} has no text file {path}")
            continue
        try:
            file, problems = _yaml.load_texts(path)
        except MenuError as exc:
            raw.problems.extend(exc.problems)
            continue
        raw.problems.extend(problems)
        files[language] = file
    return files


__all__ = ["MenuError", "MenuProblem", "default_menu_path", "load_menu"]
