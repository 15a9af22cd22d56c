"""Free-text answers a menu screen may ask for, each with its check and the text shown when it fails.

Handsets in Arabic-speaking countries may send Arabic-Indic digits, so every answer is read with its
digits mapped to ASCII first. A number is normalised against the subscriber's *home* region (the core's
rule), so ``06 12 34 56 78`` typed by a French roamer in Spain is their French mobile.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from ..core import numbers

MAX_NAME_CHARS = 20  # UTF-16 units: a phone book line must fit a UCS2 page next to a number
_PIN = re.compile(r"[0-9]{4,6}")
_CODE = re.compile(r"[0-9]{6}")
_INDEX = re.compile(r"[0-9]{1,3}")


def ascii_digits(text: str) -> str:
    """``"٣"`` -> ``"3"``: any Unicode decimal digit as ASCII, everything else untouched."""
    return "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in text)


def utf16_units(text: str) -> int:
    """What a text costs in UCS2 pages: an emoji (beyond the BMP) counts twice."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def clip(text: str, units: int) -> str:
    """``text`` cut to ``units`` UTF-16 units, for names stored by other channels with longer limits."""
    while utf16_units(text) > units:
        text = text[:-1]
    return text


@dataclass(frozen=True, slots=True)
class InputContext:
    home_region: str
    languages: tuple[str, ...]
    max_phonebook_entries: int


@dataclass(frozen=True, slots=True)
class Invalid:
    """The answer was refused; ``text_key`` is the menu text telling the subscriber why."""

    text_key: str


Check = Callable[[str, InputContext], "str | Invalid"]


def _phone_number(raw: str, ctx: InputContext) -> str | Invalid:
    try:
        return numbers.normalise(raw, ctx.home_region)
    except numbers.InvalidNumber:
        return Invalid("input.invalid_number")


def _pin(raw: str, ctx: InputContext) -> str | Invalid:
    return raw if _PIN.fullmatch(raw) else Invalid("input.invalid_pin")


def _code(raw: str, ctx: InputContext) -> str | Invalid:
    return raw if _CODE.fullmatch(raw) else Invalid("input.invalid_code")


def _language(raw: str, ctx: InputContext) -> str | Invalid:
    code = raw.strip().lower()
    return code if code in ctx.languages else Invalid("input.invalid_language")


def _phonebook_index(raw: str, ctx: InputContext) -> str | Invalid:
    if _INDEX.fullmatch(raw) and 1 <= int(raw) <= ctx.max_phonebook_entries:
        return str(int(raw))
    return Invalid("input.invalid_index")


def _name(raw: str, ctx: InputContext) -> str | Invalid:
    name = " ".join(raw.split())
    if not name or utf16_units(name) > MAX_NAME_CHARS or not all(ch.isprintable() for ch in name):
        return Invalid("input.invalid_name")
    return name


INPUT_KINDS: dict[str, Check] = {
    "phone_number": _phone_number,
    "pin": _pin,
    "code": _code,
    "language": _language,
    "phonebook_index": _phonebook_index,
    "name": _name,
}
SECRET_KINDS = frozenset({"pin"})  # kept in the dialogue only until an action consumes them, never logged
ERROR_KEYS = ("input.invalid_number", "input.invalid_pin", "input.invalid_code", "input.invalid_language",
              "input.invalid_index", "input.invalid_name")


def check(kind: str, raw: str, ctx: InputContext) -> str | Invalid:
    if kind == "name":  # digits in a name are part of it, as typed
        return _name(raw, ctx)
    return INPUT_KINDS[kind](ascii_digits(raw).replace(" ", ""), ctx)
