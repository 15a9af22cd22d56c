"""A ``MenuActions`` double that keeps everything in memory, and an engine built on it with a fake clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from roamback.core.messages import MessageCatalog
from roamback.core.model import Balance, Subscriber
from roamback.ussd_menus import (
    Confirmation,
    Confirmed,
    MemoryStore,
    MenuEngine,
    MenuSettings,
    PhonebookEntry,
    Registration,
    StateStore,
    default_menu_path,
    load_menu,
)

ALICE = "+33612345678"
CATALOG = MessageCatalog.load(None, {})
MENU = load_menu(default_menu_path())
LANGUAGES = ("en", "fr", "es", "pt", "ar", "ru")


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class FakeActions:
    """Answers like the real service would, from dictionaries; records what was asked."""

    subscribers: dict[str, Subscriber] = field(default_factory=dict)
    books: dict[str, dict[int, tuple[str, str]]] = field(default_factory=dict)
    confirmed: dict[str, list[str]] = field(default_factory=dict)
    pins: dict[str, str] = field(default_factory=dict)
    callbacks: list[tuple[str, str, str | None, str]] = field(default_factory=list)
    notices: list[tuple[str, str, str, str]] = field(default_factory=list)
    registered: list[str] = field(default_factory=list)
    code: str = "123456"
    fail: bool = False

    def add(self, msisdn: str = ALICE, language: str = "en") -> Subscriber:
        subscriber = Subscriber(msisdn=msisdn, home_region="FR", language=language, roaming=True)
        self.subscribers[msisdn] = subscriber
        return subscriber

    async def subscriber(self, msisdn: str) -> Subscriber | None:
        return self.subscribers.get(msisdn)

    async def request_callback(self, msisdn: str, destination: str, callback_number: str | None,
                               language: str) -> str:
        if self.fail:
            raise RuntimeError("database down")
        self.callbacks.append((msisdn, destination, callback_number, language))
        if not destination.lstrip("+").isdigit() or len(destination) < 6:
            return CATALOG.render("refusal.invalid_number", language)
        return CATALOG.render("accepted", language, max_minutes=12)

    async def balance(self, subscriber: Subscriber) -> Balance | None:
        return Balance(1250, "EUR")

    async def last_destination(self, msisdn: str) -> str | None:
        return self.callbacks[-1][1] if self.callbacks else None

    async def phonebook(self, msisdn: str) -> list[PhonebookEntry]:
        book = self.books.get(msisdn, {})
        return [PhonebookEntry(position, name, number) for position, (name, number) in sorted(book.items())]

    async def add_phonebook_entry(self, msisdn: str, name: str, number: str, max_entries: int) -> int | None:
        book = self.books.setdefault(msisdn, {})
        free = next((n for n in range(1, max_entries + 1) if n not in book), None)
        if free is not None:
            book[free] = (name, number)
        return free

    async def remove_phonebook_entry(self, msisdn: str, position: int) -> bool:
        return self.books.get(msisdn, {}).pop(position, None) is not None

    async def callback_numbers(self, msisdn: str) -> list[str]:
        return list(self.confirmed.get(msisdn, []))

    async def register_number(self, subscriber: Subscriber, number: str, language: str) -> Registration:
        if number in self.confirmed.get(subscriber.msisdn, []):
            return Registration.ALREADY
        self.registered.append(number)
        return Registration.CODE_SENT

    async def confirm_number(self, msisdn: str, code: str) -> Confirmed:
        if not self.registered:
            return Confirmed(Confirmation.NO_CODE)
        if code != self.code:
            return Confirmed(Confirmation.WRONG)
        number = self.registered.pop()
        self.confirmed.setdefault(msisdn, []).append(number)
        return Confirmed(Confirmation.CONFIRMED, number)

    async def set_language(self, msisdn: str, language: str) -> None:
        self.subscribers[msisdn] = Subscriber(msisdn, "FR", language=language, roaming=True)

    async def has_pin(self, msisdn: str) -> bool:
        return msisdn in self.pins

    async def verify_pin(self, msisdn: str, pin: str) -> bool:
        return self.pins.get(msisdn) == pin

    async def set_pin(self, msisdn: str, pin: str) -> None:
        self.pins[msisdn] = pin

    async def notify(self, msisdn: str, language: str, key: str, text: str) -> None:
        self.notices.append((msisdn, language, key, text))


def make_engine(actions: FakeActions | None = None, *, store: StateStore | None = None, clock: FakeClock | None = None,
                **settings: Any) -> tuple[MenuEngine, FakeActions, FakeClock]:
    actions = actions or FakeActions()
    clock = clock or FakeClock()
    engine = MenuEngine(MENU, actions=actions, store=store or MemoryStore(), catalog=CATALOG,
                        settings=MenuSettings(**settings), clock=clock)
    return engine, actions, clock


def run(coro: Any) -> Any:
    """Drive a coroutine that never waits on I/O (fake actions, memory store) to its result."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    raise AssertionError("the coroutine waited on something: not a pure in-memory step")
