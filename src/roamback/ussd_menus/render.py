"""Menu pages that fit one USSD message, whatever the language.

USSD has no concatenation: a page is one message of 160 octets, 182 GSM 7-bit characters or 80 UCS2 ones,
and a single character outside the GSM alphabet (an Arabic letter, a Cyrillic one, Portuguese ``ã``) sends
the whole page in UCS2. So a page's limit depends on its own text and is decided per page, never per
language: an English phone book page holding ``Zoë`` drops to 80 units while the next page keeps 182.

Lines are joined with ``\\n``; option lines are ``<key> <label>`` with a space rather than ``1.`` so that a
right-to-left label (Arabic) is laid out by the handset's bidi algorithm without a stray full stop.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..gateway.sms.encoding import GSM_DEFAULT, UCS2, cost, fits_gsm
from ..gateway.ussd.settings import MAX_GSM_CHARS, MAX_UCS2_CHARS

_SENTENCE_END = re.compile(r"(?<=[.!?؟।。])\s+")
_ELLIPSIS = "..."


@dataclass(frozen=True, slots=True)
class PageLimits:
    """Characters per page in each alphabet; lower than the maxima for centres that cut earlier."""

    gsm: int = MAX_GSM_CHARS
    ucs2: int = MAX_UCS2_CHARS

    def units(self, text: str) -> tuple[int, int]:
        """(units used, units allowed) for ``text`` as one page, in the alphabet it would travel in."""
        if fits_gsm(text):
            return cost(text, GSM_DEFAULT), self.gsm
        return cost(text, UCS2), self.ucs2

    def fits(self, text: str) -> bool:
        used, allowed = self.units(text)
        return used <= allowed


@dataclass(frozen=True, slots=True)
class Nav:
    """The labels of the navigation lines, already in the page's language."""

    more_key: str
    more: str
    back_key: str
    back: str

    def lines(self, more: bool, back: bool) -> list[str]:
        lines = []
        if more:
            lines.append(f"{self.more_key} {self.more}")
        if back:
            lines.append(f"{self.back_key} {self.back}")
        return lines


class PageOverflow(ValueError):
    """A header and a single line (with navigation) exceed the limit: the menu file must be fixed."""


def paginate(header: str | None, lines: list[str], nav: Nav, limits: PageLimits, *, back: bool) -> list[str]:
    """Split ``lines`` into pages: ``header`` on each, then as many lines as fit, then the nav lines.

    ``back`` says whether the first page offers "back" (later pages always do, to the previous page).
    Raises PageOverflow when even one line cannot share a page with the header and the nav lines; the
    loader calls this on every screen at start-up, so that never happens in front of a subscriber.
    """
    pages: list[str] = []
    start = 0
    while True:
        offers_back = back or bool(pages)
        count = _take(header, lines, start, nav, limits, offers_back)
        end = start + count
        pages.append(_page(header, lines[start:end], nav.lines(end < len(lines), offers_back)))
        if end >= len(lines):
            return pages
        start = end


def _take(header: str | None, lines: list[str], start: int, nav: Nav, limits: PageLimits, back: bool) -> int:
    """How many lines from ``start`` fit on one page (at least 1 unless none are left)."""
    remaining = len(lines) - start
    if limits.fits(_page(header, lines[start:], nav.lines(False, back))):
        return remaining
    count = 0
    while count < remaining and limits.fits(_page(header, lines[start:start + count + 1], nav.lines(True, back))):
        count += 1
    if count == 0:
        raise PageOverflow(f"{_page(header, lines[start:start + 1], nav.lines(True, back))!r} does not fit one page")
    return count


def _page(header: str | None, lines: list[str], nav: list[str]) -> str:
    return "\n".join(([header] if header else []) + lines + nav)


def fit_text(text: str, limits: PageLimits) -> str:
    """A closing text that fits one page: whole, else its first sentences, else cut at a word with "...".

    For texts the menu does not own (the core's refusal reasons, help): they are written for SMS, where
    70 UCS2 characters per part is a soft limit. Their first sentence says what happened; later ones
    advise, so dropping those keeps the meaning.
    """
    if limits.fits(text):
        return text
    sentences = _SENTENCE_END.split(text.strip())
    while len(sentences) > 1:
        sentences.pop()
        shorter = " ".join(sentences)
        if limits.fits(shorter):
            return shorter
    words = text.split()
    while len(words) > 1:
        words.pop()
        shorter = " ".join(words).rstrip(",;:") + _ELLIPSIS
        if limits.fits(shorter):
            return shorter
    cut = text
    while cut and not limits.fits(cut + _ELLIPSIS):
        cut = cut[:-1]
    return cut + _ELLIPSIS
