"""Reading the configuration: one YAML file, environment overrides on top, every error at once.

Following Buildbot, nothing starts on a configuration with a problem, and the operator sees every
problem in one go, each named by its dotted path (and by the variable that set it, for the environment),
never by a traceback. Error texts never quote the offending value: it may be a password or an API key.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import yaml
from pydantic import BaseModel, ValidationError

from ..core.messages import CatalogError, MessageCatalog
from ._sections import PATH_ERROR, Config, HomeConfig, MessagesConfig

ENV_PREFIX = "ROAMBACK_"

Loc = tuple[str | int, ...]


class ConfigError(Exception):
    """The configuration cannot be used; ``errors`` holds one line per bad key."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = tuple(errors)


_REPLACED_TAGS = frozenset(f"tag:yaml.org,2002:{name}" for name in ("bool", "int", "float", "timestamp"))
_NUMBER_START = list("-0123456789")


class _Loader(yaml.SafeLoader):
    """YAML 1.2-style scalars for an operator's file.

    YAML 1.1 reads ``NO`` (Norway) as false and ``+881`` as the integer 881; in a telecom configuration
    region codes and ``+`` prefixes are everywhere, so only true/false are booleans, and a number with
    a sign or a leading zero stays text. Duplicate keys are errors rather than last-one-wins.
    """

    yaml_implicit_resolvers: ClassVar[dict[str, list[tuple[str, re.Pattern[str]]]]] = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag not in _REPLACED_TAGS]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_Loader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^-?(?:0|[1-9][0-9]*)$"), _NUMBER_START)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+(?:[eE][-+]?[0-9]+)?|[eE][-+]?[0-9]+)$"), _NUMBER_START)


def _read_file(path: str) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read: {exc}"]) from None
    try:
        data = yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}" if mark else path
        raise ConfigError([f"{where}: not valid YAML: {exc.problem or exc.context}"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"{path}: not valid YAML: {exc}"]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: the top level must be a mapping of sections"])
    return data


def _sections() -> set[str]:
    return set(Config.model_fields)


def _env_overrides(environ: Mapping[str, str], data: dict[str, Any]) -> tuple[dict[Loc, str], list[str]]:
    """Apply ``ROAMBACK_SECTION__KEY[__SUBKEY]`` variables onto ``data``; return their paths and errors.

    Variables without ``__`` are not configuration (``ROAMBACK_TEST_PG_URL``), unless they look like a
    mistyped override of a real section, which would otherwise be ignored without a word.
    """
    sources: dict[Loc, str] = {}
    errors: list[str] = []
    for name in sorted(environ):
        if not name.upper().startswith(ENV_PREFIX):
            continue
        rest = name[len(ENV_PREFIX):].lower()
        if "__" not in rest:
            if any(rest.startswith(f"{section}_") for section in _sections()):
                errors.append(f"{name}: configuration overrides separate keys with a double underscore "
                              f"(ROAMBACK_SECTION__KEY)")
            continue
        loc: Loc = tuple(rest.split("__"))
        if not all(loc):
            errors.append(f"{name}: empty key in variable name")
            continue
        try:
            value = yaml.load(environ[name], Loader=_Loader) if environ[name].strip() else ""
        except yaml.YAMLError:
            value = environ[name]  # not YAML (a password with quotes, say): the text itself was meant
        node = data
        for part in loc[:-1]:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        node[loc[-1]] = value
        sources[loc] = name
    return sources, errors


def _dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _model_at(loc: Loc) -> type[BaseModel] | None:
    """The model class that holds the key at ``loc``, to suggest the key that was meant."""
    model: Any = Config
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        annotation = field.annotation
        for candidate in (annotation, *getattr(annotation, "__args__", ())):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                model = candidate
                break
        else:
            return None
    return model


def _message(error: Any) -> tuple[Loc, str]:
    """A pydantic error as (path, short message in the operator's terms)."""
    loc: Loc = tuple(error["loc"])
    kind, ctx = error["type"], error.get("ctx", {})
    if kind == PATH_ERROR:
        extra = tuple(int(p) if p.isdigit() else p for p in re.split(r"\.|\[(\d+)\]", ctx["path"]) if p)
        return loc + extra, ctx["message"]
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields) if model else [], n=1)
        return loc, "unknown key" + (f" (did you mean {close[0]!r}?)" if close else "")
    simple = {
        "greater_than_equal": "must be >= {ge}", "less_than_equal": "must be <= {le}",
        "greater_than": "must be > {gt}", "less_than": "must be < {lt}",
        "string_too_short": "must be at least {min_length} characters",
        "string_too_long": "must be at most {max_length} characters",
        "too_short": "too short (at least {min_length})",
        "string_pattern_mismatch": "must match {pattern}", "missing": "required",
        "int_parsing": "must be a whole number", "int_type": "must be a whole number",
        "int_from_float": "must be a whole number", "float_parsing": "must be a number",
        "float_type": "must be a number", "bool_parsing": "must be true or false",
        "bool_type": "must be true or false", "string_type": "must be text (quote it in YAML)",
        "list_type": "must be a list", "dict_type": "must be a mapping", "model_type": "must be a mapping",
        "literal_error": "must be one of {expected}", "enum": "must be one of {expected}",
    }
    if kind == "value_error":
        return loc, str(ctx.get("error", error["msg"]))
    if kind in simple:
        return loc, simple[kind].format(**ctx)
    return loc, error["msg"]


def _describe(loc: Loc, message: str, sources: Mapping[Loc, str]) -> str:
    """Name the environment variable too when the bad value came from one."""
    for length in range(len(loc), 0, -1):
        variable = sources.get(loc[:length])
        if variable:
            return f"{variable} ({_dotted(loc)}): {message}"
    return f"{_dotted(loc)}: {message}"


def _catalog_errors(messages: MessagesConfig, default_language: str) -> list[tuple[Loc, str]]:
    """Texts are part of the configuration: check the operator's, and the default language, now."""
    if messages.directory is not None and not messages.directory.is_dir():
        return [(("messages", "directory"), "not a directory")]
    try:
        catalog = MessageCatalog.load(messages.directory, messages.overrides, default_language)
    except CatalogError as exc:
        return [
            (("messages", "overrides", p.language, p.key), p.message) if p.source == "overrides"
            else (("messages", "directory"), f"{p.source}: {p.key}: {p.message}")
            for p in exc.problems
        ]
    if default_language not in catalog.languages:
        return [(("home", "default_language"), f"no texts in this language (available: "
                 f"{', '.join(sorted(catalog.languages))})")]
    return []


def _catalog_errors_despite(data: dict[str, Any]) -> list[tuple[Loc, str]]:
    """When other sections are wrong, still check the texts if their own section is sound."""
    try:
        messages = MessagesConfig.model_validate(data.get("messages", {}))
        home = HomeConfig.model_validate(data.get("home", {}))
    except ValidationError:
        return []
    return _catalog_errors(messages, home.default_language)


def load_config(path: str | None, environ: Mapping[str, str]) -> Config:
    """The validated configuration from ``path`` (None: embedded defaults) and ``environ``.

    Raises ConfigError listing every problem found.
    """
    data = _read_file(path) if path is not None else {}
    sources, errors = _env_overrides(environ, data)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        problems = [_message(error) for error in exc.errors(include_url=False, include_input=False)]
        problems += _catalog_errors_despite(data)
        raise ConfigError(errors + [_describe(loc, msg, sources) for loc, msg in problems]) from None
    problems = _catalog_errors(config.messages, config.home.default_language)
    errors += [_describe(loc, msg, sources) for loc, msg in problems]
    if errors:
        raise ConfigError(errors)
    return config
