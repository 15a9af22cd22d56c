"""What a menu can do to the rest of the service: the ``MenuActions`` port.

The menu engine decides nothing about callbacks, credit or fraud: it asks the core through this port, so a
USSD request is refused for exactly the reasons an SMS or API request is. ``CoreMenuActions`` implements it
over the callback engine and the database; tests may pass a double.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from ..core.model import Balance, Subscriber


@dataclass(frozen=True, slots=True)
class PhonebookEntry:
    position: int
    name: str
    number: str  # E.164


class Registration(StrEnum):
    CODE_SENT = "code_sent"
    PENDING = "pending"  # a code sent earlier is still valid: no new SMS, so the menu cannot flood a number
    ALREADY = "already"
    OWN_NUMBER = "own_number"


class Confirmation(StrEnum):
    CONFIRMED = "confirmed"
    WRONG = "wrong"
    NO_CODE = "no_code"  # nothing pending, expired, or too many attempts


@dataclass(frozen=True, slots=True)
class Confirmed:
    outcome: Confirmation
    number: str | None = None


class MenuActions(Protocol):
    async def subscriber(self, msisdn: str) -> Subscriber | None:
        """The directory's view of the roamer, for their language and home region."""
        ...

    async def request_callback(self, msisdn: str, destination: str, callback_number: str | None,
                               language: str) -> str:
        """Submit a callback through the core and return the subscriber-facing outcome (``describe``)."""
        ...

    async def balance(self, subscriber: Subscriber) -> Balance | None: ...

    async def last_destination(self, msisdn: str) -> str | None:
        """The destination of the subscriber's latest request that had a valid one."""
        ...

    async def phonebook(self, msisdn: str) -> list[PhonebookEntry]: ...

    async def add_phonebook_entry(self, msisdn: str, name: str, number: str, max_entries: int) -> int | None:
        """Store at the lowest free position and return it; None when the phone book is full."""
        ...

    async def remove_phonebook_entry(self, msisdn: str, position: int) -> bool: ...

    async def callback_numbers(self, msisdn: str) -> list[str]:
        """Confirmed registered numbers (E.164), besides the subscriber's own."""
        ...

    async def register_number(self, subscriber: Subscriber, number: str, language: str) -> Registration:
        """Start registering ``number``: a code goes to it by SMS."""
        ...

    async def confirm_number(self, msisdn: str, code: str) -> Confirmed: ...

    async def set_language(self, msisdn: str, language: str) -> None: ...

    async def has_pin(self, msisdn: str) -> bool: ...

    async def verify_pin(self, msisdn: str, pin: str) -> bool: ...

    async def set_pin(self, msisdn: str, pin: str) -> None:
        """Store a slow salted hash of ``pin``; the PIN itself is never stored or logged."""
        ...

    async def notify(self, msisdn: str, language: str, key: str, text: str) -> None:
        """Queue an SMS (timeout notice) through the outbox."""
        ...
