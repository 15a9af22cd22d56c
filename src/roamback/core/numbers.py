"""Telephone numbers as subscribers type them, turned into the E.164 strings the rest of the core uses.

Roamers type numbers every way a handset allows: ``+49...``, ``0049...``, their home country's own
international prefix, the national format they use at home, with spaces, dots or dashes, sometimes in
Arabic-Indic digits. Everything downstream (fraud prefixes, rating, the switch) only ever sees
``+digits``, so the ambiguity is resolved once, here, against the subscriber's *home* region: a roamer
in Spain typing ``06 12 34 56 78`` means their French mobile, not a Spanish number.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType, ValidationResult

# Types nobody can hold a conversation with; premium and similar types are left to policy prefixes.
_NOT_DIALABLE = frozenset({PhoneNumberType.UNKNOWN, PhoneNumberType.PAGER, PhoneNumberType.VOICEMAIL})

# What a person may put between digits. Letters are refused rather than read as vanity keypad letters:
# a request for ``1-800-FLOWERS`` through a call-back service is far more likely a mistake or a probe.
_SEPARATORS = re.compile(r"[\s\-./()\u00a0\u2010-\u2015]+")
_MAX_E164_DIGITS = 15

_PARSE_REASONS = {
    NumberParseException.NOT_A_NUMBER: "not_a_number",
    NumberParseException.TOO_SHORT_NSN: "too_short",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too_short",
    NumberParseException.TOO_LONG: "too_long",
    NumberParseException.INVALID_COUNTRY_CODE: "invalid",
}

_POSSIBILITY_REASONS = {
    ValidationResult.TOO_SHORT: "too_short",
    ValidationResult.TOO_LONG: "too_long",
    ValidationResult.INVALID_LENGTH: "invalid",
    ValidationResult.INVALID_COUNTRY_CODE: "invalid",
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "too_short",
}


class InvalidNumber(ValueError):
    """A number the service will not dial. ``why`` is a stable machine key for CDRs and operator tools;
    ``raw`` is kept so the refusal can quote what the subscriber actually sent."""

    def __init__(self, raw: str, why: str) -> None:
        super().__init__(f"{why}: {raw!r}")
        self.raw = raw
        self.why = why


def _ascii_digits(text: str) -> str:
    """Map any Unicode decimal digit to ASCII so Arabic-Indic or full-width input reads like ``0-9``."""
    return "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in text)


def _clean(raw: str) -> str:
    text = _SEPARATORS.sub("", _ascii_digits(raw))
    if not text:
        raise InvalidNumber(raw, "empty")
    if not re.fullmatch(r"\+?[0-9]+", text):
        raise InvalidNumber(raw, "not_a_number")
    if text.startswith("00"):
        # ``00`` is the ITU-recommended international prefix; accept it even where the home region's
        # own prefix differs (011 in North America, 810 in Russia), since roamers copy numbers from abroad.
        text = "+" + text[2:]
    return text


@functools.lru_cache(maxsize=65536)
def normalise(raw: str, home_region: str) -> str:
    """Return ``raw`` as E.164 (``+`` and digits) or raise ``InvalidNumber``.

    Cached as typed (every USSD Begin and SMS normalises its sender, and the same numbers come back all
    day); a number that does not parse raises every time, since a raising call is never cached.

    National formats are read as numbers of ``home_region``; the home region's own international
    prefix is understood too. Idempotent: a normalised number normalises to itself.

    Bare digits that are no valid national number are read as international without the ``+``: a USSD
    string cannot carry a ``+``, and roamers type ``*123*447700900456#`` as the issue's examples do.
    National reading wins whenever it is valid, so ``0612345678`` stays French for a French subscriber.
    """
    text = _clean(raw)
    region = home_region.upper()
    e164, why = _valid_e164(text, region)
    if why and text.isdigit() and not text.startswith("0"):
        e164, _ = _valid_e164("+" + text, region)
    if not e164:
        raise InvalidNumber(raw, why)
    return e164


@functools.lru_cache(maxsize=65536)
def _valid_e164(text: str, region: str) -> tuple[str, str]:
    """(E.164, "") or ("", why), cached by cleaned text: parsing and validating costs about 100 us, and
    the same subscribers and destinations come back all day."""
    try:
        return _parse_valid(text, region, text), ""
    except InvalidNumber as exc:
        return "", exc.why


def _parse_valid(text: str, region: str, raw: str) -> str:
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        raise InvalidNumber(raw, _PARSE_REASONS.get(exc.error_type, "invalid")) from None
    possible = phonenumbers.is_possible_number_with_reason(number)
    if possible != ValidationResult.IS_POSSIBLE:
        raise InvalidNumber(raw, _POSSIBILITY_REASONS.get(possible, "invalid"))
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if len(e164) - 1 > _MAX_E164_DIGITS:
        raise InvalidNumber(raw, "too_long")
    if not phonenumbers.is_valid_number(number):
        raise InvalidNumber(raw, "invalid")
    if phonenumbers.number_type(number) in _NOT_DIALABLE:
        raise InvalidNumber(raw, "not_dialable")
    return e164


def calling_code(region: str) -> str:
    """Country calling code of an ISO 3166 alpha-2 region, e.g. ``'FR' -> '33'``."""
    code = phonenumbers.country_code_for_region(region.upper())
    if not code:
        raise ValueError(f"unknown region {region!r}")
    return str(code)


def region_of(e164: str) -> str | None:
    """ISO region a number belongs to, or None for non-geographic (satellite, ITU) or unknown numbers."""
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return None
    region = phonenumbers.region_code_for_number(number)
    if region is None or region in ("ZZ", "001"):
        return None
    return region


def matches_prefix(e164: str, prefixes: Iterable[str]) -> str | None:
    """The longest of ``prefixes`` (``+digits``) that ``e164`` starts with, so a report can say which
    entry of a blocked list fired; None if none does."""
    best: str | None = None
    for prefix in prefixes:
        if e164.startswith(prefix) and (best is None or len(prefix) > len(best)):
            best = prefix
    return best
