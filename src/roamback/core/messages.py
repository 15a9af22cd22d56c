"""The texts subscribers read (SMS, USSD), per language, with the operator's own wording on top.

The package ships one YAML file per language (``messages/<lang>.yaml``) with exactly the same keys and
placeholders. An operator may replace any text, from a directory of files in the same format or from
the configuration; an override may drop a placeholder but never invent one, because the engine would
have nothing to put there and the subscriber would read ``{balance}`` raw. Overrides are checked when
the catalog loads, so a typo stops start-up instead of reaching a subscriber.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

FALLBACK_LANGUAGE = "en"

# ISO 4217 minor-unit exponents that differ from the usual 2.
_EXPONENTS = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX",
                     "VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}
_COMMA_DECIMAL = frozenset({"fr", "es", "pt", "ru"})


@dataclass(frozen=True, slots=True)
class CatalogProblem:
    source: str  # "overrides" or the file it came from
    language: str
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: language {self.language!r}, key {self.key!r}: {self.message}"


class CatalogError(ValueError):
    """Every problem found in the operator's texts, so they can all be fixed in one go."""

    def __init__(self, problems: list[CatalogProblem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = tuple(problems)


def placeholders(text: str) -> frozenset[str]:
    """Names of the ``{placeholders}`` in a text."""
    return frozenset(name for _, name, _, _ in string.Formatter().parse(text) if name)


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Accept nested YAML (``refusal: {no_credit: ...}``) as well as dotted keys."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _read_yaml(text: str, source: str) -> dict[str, Any]:
    data = yaml.safe_load(text) or {}
    if not isinstance(data, Mapping):
        raise CatalogError([CatalogProblem(source, "-", "-", "the file must be a mapping of key: text")])
    return _flatten(data)


def _packaged() -> dict[str, dict[str, str]]:
    folder = resources.files(__package__).joinpath("messages")
    return {
        entry.name.removesuffix(".yaml"): _read_yaml(entry.read_text("utf-8"), entry.name)
        for entry in folder.iterdir()
        if entry.name.endswith(".yaml")
    }


def _check(source: str, language: str, texts: Mapping[str, Any], reference: Mapping[str, str]
           ) -> list[CatalogProblem]:
    problems = []
    for key, text in texts.items():
        if key not in reference:
            problems.append(CatalogProblem(source, language, key, "unknown key"))
        elif not isinstance(text, str):
            problems.append(CatalogProblem(source, language, key, "text must be a string"))
        else:
            try:
                extra = placeholders(text) - placeholders(reference[key])
            except ValueError as exc:
                problems.append(CatalogProblem(source, language, key, f"bad braces: {exc}"))
                continue
            if extra:
                names = ", ".join("{" + name + "}" for name in sorted(extra))
                problems.append(CatalogProblem(source, language, key, f"placeholder {names} is not in the "
                                               f"default text: {reference[key]!r}"))
    return problems


class MessageCatalog:
    def __init__(self, texts: Mapping[str, Mapping[str, str]], default_language: str = FALLBACK_LANGUAGE):
        self._texts = {language: dict(entries) for language, entries in texts.items()}
        self.default_language = default_language

    @classmethod
    def load(
        cls,
        directory: Path | None,
        overrides: Mapping[str, Mapping[str, str]],
        default_language: str = FALLBACK_LANGUAGE,
    ) -> MessageCatalog:
        """Packaged texts, then ``directory/<lang>.yaml`` files, then ``overrides``; raises CatalogError."""
        texts = _packaged()
        layers: list[tuple[str, str, Mapping[str, Any]]] = []
        problems: list[CatalogProblem] = []
        if directory is not None:
            for path in sorted(Path(directory).glob("*.yaml")):
                try:
                    layers.append((str(path), path.stem, _read_yaml(path.read_text("utf-8"), str(path))))
                except CatalogError as exc:
                    problems.extend(exc.problems)
                except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
                    problems.append(CatalogProblem(str(path), path.stem, "-", f"cannot read: {exc}"))
        layers.extend(("overrides", language, _flatten(entries)) for language, entries in overrides.items())
        for source, language, entries in layers:
            # A language the package lacks is checked against English: same keys, same placeholders.
            reference = texts.get(language, texts[FALLBACK_LANGUAGE])
            found = _check(source, language, entries, texts[FALLBACK_LANGUAGE] | reference)
            problems.extend(found)
            if not found:
                texts.setdefault(language, {}).update(entries)
        if problems:
            raise CatalogError(problems)
        return cls(texts, default_language)

    @property
    def languages(self) -> frozenset[str]:
        return frozenset(self._texts)

    def render(self, key: str, language: str, **params: object) -> str:
        """The text of ``key`` in ``language``, else the default language, else English.

        Raises KeyError only for a key no language knows; a missing parameter is the caller's bug and
        raises ValueError rather than sending a half-filled text.
        """
        for candidate in (language, self.default_language, FALLBACK_LANGUAGE):
            text = self._texts.get(candidate, {}).get(key)
            if text is not None:
                break
        else:
            raise KeyError(key)
        missing = placeholders(text) - params.keys()
        if missing:
            raise ValueError(f"message {key!r} needs parameter(s) {sorted(missing)}")
        return text.format_map(params)


def format_duration(seconds: float) -> str:
    """``m:ss``, minutes unbounded (``75:00``): what a call summary SMS shows in every language."""
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}"


def minor_exponent(currency: str) -> int:
    """Digits after the decimal point in ``currency`` (ISO 4217): what a minor unit is worth."""
    return _EXPONENTS.get(currency.upper(), 2)


def format_money(minor: int, currency: str, language: str) -> str:
    """``12.50 EUR`` (``12,50 EUR`` where the language writes a decimal comma), from minor units.

    The ISO code rather than a symbol: it is unambiguous and fits the GSM 7-bit alphabet.
    """
    exponent = minor_exponent(currency)
    amount = f"{Decimal(minor).scaleb(-exponent):.{exponent}f}"
    if language in _COMMA_DECIMAL:
        amount = amount.replace(".", ",")
    return f"{amount} {currency}".rstrip()
