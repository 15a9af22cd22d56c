"""The string a subscriber dialled to open the dialogue: a one-shot call-back, the menu, or neither.

``*<code>*<number>#`` asks for a call-back to <number> at once (the number stays as typed: the core
normalises and refuses it in the subscriber's language), ``*<code>#`` opens the menu. Handsets and centres
are sloppy with spaces and the final ``#``, so both are tolerated; anything else is a typed "not recognised"
the caller answers with a help text rather than a guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from ...core.model import CallbackTrigger, Channel

_CODE = re.compile(r"\d+(?:\*\d+)*")
_NUMBER = re.compile(r"\+?\d+")
_BLANK = re.compile(r"\s+")


def normalise_service_code(code: str) -> str:
    """``" *123*4# "`` -> ``"123*4"``; raises ValueError when what is left is not digits and stars."""
    bare = _BLANK.sub("", code).removeprefix("*").removesuffix("#")
    if not _CODE.fullmatch(bare):
        raise ValueError(f"{code!r} is not a USSD service code like '*123#' or '123'")
    return bare


@dataclass(frozen=True, slots=True)
class CallbackDial:
    service_code: str
    number: str

    def trigger(self, requester: str, *, language: str | None = None, reference: str | None = None) -> CallbackTrigger:
        """The core's request: the network asserted ``requester`` (source_addr), so it is the roamer."""
        return CallbackTrigger(Channel.USSD, requester, self.number, language=language, reference=reference)


@dataclass(frozen=True, slots=True)
class MenuDial:
    service_code: str


class NotRecognisedReason(StrEnum):
    MALFORMED = "malformed"  # not a ``*...#`` string at all
    UNKNOWN_SERVICE_CODE = "unknown_service_code"  # routed to us, but for a code we were not told about
    SUB_SERVICE = "sub_service"  # ``*<code>*<a>*<b>#``: no such form yet
    NOT_A_NUMBER = "not_a_number"


@dataclass(frozen=True, slots=True)
class NotRecognised:
    text: str
    reason: NotRecognisedReason


DialResult = CallbackDial | MenuDial | NotRecognised


def parse_dial(text: str, service_codes: Iterable[str]) -> DialResult:
    """Read ``text`` against the configured service codes (any form ``normalise_service_code`` accepts).

    The longest matching code wins, so ``*123*4#`` is the menu of code ``123*4`` when both ``123`` and
    ``123*4`` are configured, and a call-back to 4 through ``123`` when only ``123`` is.
    """
    bare = _BLANK.sub("", text).removesuffix("#")
    if not bare.startswith("*") or "#" in bare:
        return NotRecognised(text, NotRecognisedReason.MALFORMED)
    body = bare[1:]
    for code in sorted({normalise_service_code(code) for code in service_codes}, key=len, reverse=True):
        if body == code:
            return MenuDial(code)
        if body.startswith(code + "*"):
            return _after_code(text, code, body[len(code) + 1 :])
    return NotRecognised(text, NotRecognisedReason.UNKNOWN_SERVICE_CODE)


def _after_code(text: str, code: str, rest: str) -> DialResult:
    if "*" in rest:
        empty = "" in rest.split("*")
        return NotRecognised(text, NotRecognisedReason.MALFORMED if empty else NotRecognisedReason.SUB_SERVICE)
    if not _NUMBER.fullmatch(rest):
        return NotRecognised(text, NotRecognisedReason.NOT_A_NUMBER)
    return CallbackDial(code, rest)
