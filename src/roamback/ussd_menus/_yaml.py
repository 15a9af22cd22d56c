"""YAML that remembers where each value came from, so a start-up error names the file and the line.

Operators edit menu files by hand; "unknown action 'balanse'" is only useful with ``menu.yaml:42`` in front
of it. PyYAML's safe loader is kept (no tags, no objects); only the mapping constructor is replaced, to keep
each key's line, to keep keys as written (``on``, ``yes`` and ``1`` stay strings) and to refuse a key written
twice, which plain YAML would silently let the last one win.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True, slots=True)
class MenuProblem:
    source: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.message}"


class MenuError(ValueError):
    """Every problem found in a menu and its texts, so they can all be fixed in one go."""

    def __init__(self, problems: list[MenuProblem]) -> None:
        super().__init__("\n".join(str(problem) for problem in problems))
        self.problems = tuple(problems)


class Located(dict[str, Any]):
    """A mapping with the line it starts on and the line of each of its keys (1-based)."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.lines: dict[str, int] = {}

    def line_of(self, key: str) -> int:
        return self.lines.get(key, self.line)


class _DuplicateKey(yaml.MarkedYAMLError):
    pass


class _Loader(yaml.SafeLoader):
    pass


def _mapping(loader: _Loader, node: yaml.MappingNode) -> Located:
    loader.flatten_mapping(node)
    result = Located(node.start_mark.line + 1)
    for key_node, value_node in node.value:
        # Keys as written: YAML 1.1 would read ``on:`` as True and ``1:`` as an int.
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else loader.construct_object(key_node)
        if key in result:
            raise _DuplicateKey(problem=f"key {key!r} appears twice", problem_mark=key_node.start_mark)
        result[str(key)] = loader.construct_object(value_node, deep=True)
        result.lines[str(key)] = key_node.start_mark.line + 1
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def load(path: Path) -> Located:
    """The file's top-level mapping; raises MenuError naming the file and line of a syntax error."""
    source = str(path)
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MenuError([MenuProblem(source, 0, f"cannot read: {exc}")]) from None
    try:
        data = yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else 0
        raise MenuError([MenuProblem(source, line, str(exc.problem or exc))]) from None
    except yaml.YAMLError as exc:
        raise MenuError([MenuProblem(source, 0, str(exc))]) from None
    if not isinstance(data, Located):
        raise MenuError([MenuProblem(source, 1, "the file must be a mapping")])
    return data


@dataclass(frozen=True, slots=True)
class TextFile:
    """One language's texts, flattened to dotted keys, each with the line it is written on."""

    source: str
    texts: dict[str, str]
    lines: dict[str, int]


def load_texts(path: Path) -> tuple[TextFile, list[MenuProblem]]:
    data = load(path)
    texts: dict[str, str] = {}
    lines: dict[str, int] = {}
    problems: list[MenuProblem] = []
    _flatten(data, "", str(path), texts, lines, problems)
    return TextFile(str(path), texts, lines), problems


def _flatten(data: Located, prefix: str, source: str, texts: dict[str, str], lines: dict[str, int],
             problems: list[MenuProblem]) -> None:
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Located):
            _flatten(value, f"{name}.", source, texts, lines, problems)
        elif isinstance(value, str):
            texts[name] = value
            lines[name] = data.line_of(key)
        else:
            problems.append(MenuProblem(source, data.line_of(key), f"text {name!r} must be a string"))
