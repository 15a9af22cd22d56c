"""What a subscriber asked for in a mobile-originated SMS, as a typed command.

The grammar is a keyword then its arguments (``CB +447700900456``), or a number alone, which means a
call-back: that is what most people send. Parsing never raises: anything it cannot read becomes
``Unrecognised`` with a stable reason, so the caller answers with HELP, in the language of the keyword
when one matched. Numbers come back as typed; normalising them against the subscriber's home region is
the core's job (``roamback.core.numbers``), here only text that cannot be a number is refused.

Confirmation of a registration is ``CODE <digits>`` (``CÓDIGO``, ``КОД``, ``رمز``...), never digits alone,
because a bare number already means "call this number back" and a 6-digit code looks like a short number.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from .keywords import CommandKind, KeywordTable


@dataclass(frozen=True, slots=True)
class Callback:
    destination: str
    language: str | None = None  # None when no keyword was typed: a bare number has no language


@dataclass(frozen=True, slots=True)
class Balance:
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Register:
    number: str
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Unregister:
    number: str
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Confirm:
    """The code sent to a number being registered; digits only, ASCII, whatever digits were typed."""

    code: str
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Language:
    code: str  # lower-case ISO 639 code, as typed; whether we speak it is the core's decision
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Help:
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Conference:
    first: str
    second: str
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Unrecognised:
    """``reason`` is a stable key for logs and metrics: empty, unknown_keyword, missing_argument,
    not_a_number, unexpected_argument, bad_code, bad_language, needs_two_numbers."""

    reason: str
    language: str | None = None


Command = Callback | Balance | Register | Unregister | Confirm | Language | Help | Conference | Unrecognised

# Separators people put inside a number; any Unicode digit counts, as Arabic keyboards type ٠-٩.
_NUMBER = re.compile(r"\+?[\d\s\-./()]*\d[\d\s\-./()]*")
_CODE = re.compile(r"\d{4,8}")
_LANGUAGE_CODE = re.compile(r"[a-z]{2,3}")
_CONFERENCE_SEPARATORS = re.compile(r"\s*[,;،]\s*")
_TRAILING_PUNCTUATION = ".!?؟"

_DEFAULT_TABLE = KeywordTable.from_config()


def parse_command(text: str, keywords: KeywordTable = _DEFAULT_TABLE, preferred_language: str | None = None
                  ) -> Command:
    """The command in ``text``. ``preferred_language`` (the subscriber's current one) decides which
    language to report when a keyword belongs to several, like ``SALDO``."""
    cleaned = _clean(text)
    if not cleaned:
        return Unrecognised("empty")
    if _is_number(cleaned):
        return Callback(cleaned)
    head, _, rest = cleaned.partition(" ")
    match = keywords.lookup(head)
    if match is None:
        return Unrecognised("unknown_keyword")
    language = preferred_language if preferred_language in match.languages else match.languages[0]
    return _ARGUMENT_PARSERS[match.kind](rest.strip(), language)


def _clean(text: str) -> str:
    # Format characters (bidi marks around Arabic text, zero-width spaces, BOM) are invisible to the
    # subscriber and must not make a keyword unknown; any run of whitespace counts as one space.
    visible = "".join(char for char in text if unicodedata.category(char) != "Cf")
    cleaned = " ".join(visible.split())
    stripped = cleaned.rstrip(_TRAILING_PUNCTUATION).rstrip()
    return stripped or cleaned


def _is_number(text: str) -> bool:
    return _NUMBER.fullmatch(text) is not None


def _number_command(kind: type[Callback | Register | Unregister]) -> Callable[[str, str], Command]:
    def parse(rest: str, language: str) -> Command:
        if not rest:
            return Unrecognised("missing_argument", language)
        if not _is_number(rest):
            return Unrecognised("not_a_number", language)
        return kind(rest, language)

    return parse


def _balance(rest: str, language: str) -> Command:
    return Balance(language) if not rest else Unrecognised("unexpected_argument", language)


def _help(rest: str, language: str) -> Command:
    # Whatever follows HELP, the answer is the help text; refusing it would send the same text anyway.
    return Help(language)


def _confirm(rest: str, language: str) -> Command:
    if not rest:
        return Unrecognised("missing_argument", language)
    code = "".join(rest.split())
    if not _CODE.fullmatch(code):
        return Unrecognised("bad_code", language)
    return Confirm("".join(str(unicodedata.decimal(char)) for char in code), language)


def _language(rest: str, language: str) -> Command:
    if not rest:
        return Unrecognised("missing_argument", language)
    code = rest.lower()
    if not _LANGUAGE_CODE.fullmatch(code):
        return Unrecognised("bad_language", language)
    return Language(code, language)


def _conference(rest: str, language: str) -> Command:
    if not rest:
        return Unrecognised("missing_argument", language)
    # With a comma or semicolon, numbers may contain spaces (``+33 6 12 34 56 78, +44 7700 900456``);
    # without one, a space is what separates the two numbers.
    numbers = _CONFERENCE_SEPARATORS.split(rest) if _CONFERENCE_SEPARATORS.search(rest) else rest.split()
    if len(numbers) != 2 or not all(numbers):
        return Unrecognised("needs_two_numbers", language)
    if not all(_is_number(number) for number in numbers):
        return Unrecognised("not_a_number", language)
    return Conference(numbers[0], numbers[1], language)


_ARGUMENT_PARSERS = {
    CommandKind.CALLBACK: _number_command(Callback),
    CommandKind.BALANCE: _balance,
    CommandKind.REGISTER: _number_command(Register),
    CommandKind.UNREGISTER: _number_command(Unregister),
    CommandKind.CONFIRM: _confirm,
    CommandKind.LANGUAGE: _language,
    CommandKind.HELP: _help,
    CommandKind.CONFERENCE: _conference,
}
