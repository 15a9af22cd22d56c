"""Lists a screen shows from the subscriber's own data: the phone book, the numbers we may call back.

Each source also gives the longest line it can produce, so the loader proves at start-up that one item
always fits a page next to the screen's title and navigation, whatever the subscriber stored.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..core.model import Subscriber
from .actions import MenuActions
from .inputs import MAX_NAME_CHARS, clip

_LONGEST_NUMBER = "+" + "9" * 15


@dataclass(frozen=True, slots=True)
class Item:
    key: str  # what the subscriber types
    label: str
    value: str  # what is saved in the dialogue when chosen


Label = Callable[[str], str]  # a text key in the dialogue's language -> its text
Fetch = Callable[[MenuActions, Subscriber, Label], Awaitable[list[Item]]]


@dataclass(frozen=True, slots=True)
class Source:
    fetch: Fetch
    longest: Callable[[Label], Item]
    text_keys: tuple[str, ...] = ()


async def _phonebook(port: MenuActions, subscriber: Subscriber, label: Label) -> list[Item]:
    """Keyed by position, the number a subscriber also uses in ``*123*<position>#``."""
    entries = sorted(await port.phonebook(subscriber.msisdn), key=lambda entry: entry.position)
    return [Item(str(e.position), f"{clip(e.name, MAX_NAME_CHARS)} {e.number}", str(e.position)) for e in entries]


async def _callback_numbers(port: MenuActions, subscriber: Subscriber, label: Label) -> list[Item]:
    """The roamer's own phone first, then each confirmed registered number."""
    others = [number for number in await port.callback_numbers(subscriber.msisdn) if number != subscriber.msisdn]
    own = Item("1", label("call.this_phone"), subscriber.msisdn)
    return [own, *(Item(str(n), number, number) for n, number in enumerate(others, start=2))]


def _longest_entry(label: Label) -> Item:
    """A name outside the GSM alphabet: the whole page then counts against the UCS2 limit."""
    return Item("99", f"{'Ж' * MAX_NAME_CHARS} {_LONGEST_NUMBER}", "99")


def _longest_number(label: Label) -> Item:
    own = label("call.this_phone")
    return Item("9", own if len(own) > len(_LONGEST_NUMBER) else _LONGEST_NUMBER, "")


SOURCES: dict[str, Source] = {
    "phonebook": Source(_phonebook, _longest_entry),
    "callback_numbers": Source(_callback_numbers, _longest_number, ("call.this_phone",)),
}
