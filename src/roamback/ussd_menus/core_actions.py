"""``MenuActions`` over the real service: the callback engine, the charging backend and the database.

Callbacks go through ``CallbackEngine.submit`` as ``Channel.USSD`` triggers, so the menu refuses exactly
what every other door refuses and its closing text is the engine's own ``describe``: by default once leg
A has been handed to the switch (the text then states the granted time), or, with a ``waiter``
(``ussd_menu.confirm: on_decision``), as soon as the decision is stored, for centres whose screen timer
cannot wait for the charging reservation. Registrations reuse
the SMS door's storage (same codes, same attempts limit) and queue the code's SMS in the same transaction,
so a code is never stored without its SMS or sent without being stored. PIN hashing runs on a thread.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from twisted.internet import threads

from ..core import numbers
from ..core.engine import CallbackEngine
from ..core.model import Balance, CallbackTrigger, Channel, Notice, Subscriber
from ..core.ports import ChargingBackend, SubscriberDirectory
from ..gateway.decision import DecisionWaiter
from ..gateway.mobile.sms_commands import RegistrationSettings
from ..storage import registrations as reg
from ..storage.outbox import OutboxStore
from ..storage.pool import Database
from ..storage.provisioning import add_phonebook_entry
from ..storage.rows import notice_values
from ..storage.schema import callback_requests, notice_outbox, phonebook_entries, subscribers
from . import pins
from .actions import Confirmation, Confirmed, PhonebookEntry, Registration


class CoreMenuActions:
    def __init__(self, *, engine: CallbackEngine, db: Database, directory: SubscriberDirectory,
                 charging: ChargingBackend, now: Callable[[], datetime],
                 registration: RegistrationSettings | None = None, waiter: DecisionWaiter | None = None) -> None:
        self._engine = engine
        self._waiter = waiter
        self._db = db
        self._directory = directory
        self._charging = charging
        self._now = now
        self._registration = registration or RegistrationSettings()
        self._outbox = OutboxStore(db)

    def _e164(self, msisdn: str) -> str | None:
        """Centres send the MSISDN in many forms (``447700...``, ``+44...``): read it as the core does."""
        try:
            return numbers.normalise(msisdn if msisdn.startswith(("+", "00")) else f"+{msisdn}",
                                     self._engine.home_region)
        except numbers.InvalidNumber:
            return None

    async def subscriber(self, msisdn: str) -> Subscriber | None:
        e164 = self._e164(msisdn)
        return None if e164 is None else await self._directory.lookup(e164)

    async def request_callback(self, msisdn: str, destination: str, callback_number: str | None,
                               language: str) -> str:
        leg_a = None if callback_number in (None, msisdn) else callback_number
        trigger = CallbackTrigger(Channel.USSD, msisdn, destination, callback_number=leg_a, language=language,
                                  reference=f"ussd-menu:{uuid.uuid4()}")
        submit = self._waiter.submit if self._waiter is not None else self._engine.submit
        return self._engine.describe(await submit(trigger))

    async def balance(self, subscriber: Subscriber) -> Balance | None:
        return await self._charging.balance(subscriber)

    async def last_destination(self, msisdn: str) -> str | None:
        query = (sa.select(callback_requests.c.destination)
                 .where(callback_requests.c.requester == msisdn, callback_requests.c.destination.is_not(None))
                 .order_by(callback_requests.c.created_at.desc()).limit(1))
        return await self._db.read(lambda conn: conn.execute(query).scalar())

    async def phonebook(self, msisdn: str) -> list[PhonebookEntry]:
        query = (sa.select(phonebook_entries.c.position, phonebook_entries.c.name, phonebook_entries.c.phone)
                 .where(phonebook_entries.c.msisdn == msisdn).order_by(phonebook_entries.c.position))
        rows = await self._db.read(lambda conn: conn.execute(query).all())
        return [PhonebookEntry(row.position, row.name, row.phone) for row in rows]

    async def add_phonebook_entry(self, msisdn: str, name: str, number: str, max_entries: int) -> int | None:
        def work(conn: Connection) -> int | None:
            taken = set(conn.execute(sa.select(phonebook_entries.c.position)
                                     .where(phonebook_entries.c.msisdn == msisdn)).scalars())
            free = next((n for n in range(1, max_entries + 1) if n not in taken), None)
            if free is not None:
                add_phonebook_entry(conn, msisdn, free, name, number)
            return free

        return await self._db.write(work)

    async def remove_phonebook_entry(self, msisdn: str, position: int) -> bool:
        statement = phonebook_entries.delete().where(phonebook_entries.c.msisdn == msisdn,
                                                     phonebook_entries.c.position == position)
        return await self._db.write(lambda conn: conn.execute(statement).rowcount > 0)

    async def callback_numbers(self, msisdn: str) -> list[str]:
        return sorted(await self._engine.store.confirmed_numbers(msisdn))

    async def register_number(self, subscriber: Subscriber, number: str, language: str) -> Registration:
        """The code goes to the number being registered, in the requester's language, as the SMS door does."""
        now = self._now()
        ttl = self._registration.code_ttl_seconds
        catalog = self._engine.catalog

        def work(conn: Connection) -> Registration:
            result = reg.start_registration(conn, subscriber.msisdn, number, now, now + timedelta(seconds=ttl))
            if isinstance(result, reg.CodePending):
                return Registration.PENDING
            if isinstance(result, reg.AlreadyRegistered):
                return Registration.ALREADY
            text = catalog.render("sms.code_text", language, requester=subscriber.msisdn, code=result.code,
                                  minutes=max(1, math.ceil(ttl / 60)))
            notice = Notice(None, number, language, "sms.code_text", text)
            conn.execute(notice_outbox.insert().values(notice_values(notice, now)))
            return Registration.CODE_SENT

        return await self._db.write(work)

    async def confirm_number(self, msisdn: str, code: str) -> Confirmed:
        now, attempts = self._now(), self._registration.max_attempts
        result = await self._db.write(lambda conn: reg.confirm_code(conn, msisdn, code, now, attempts))
        if isinstance(result, reg.Confirmed):
            return Confirmed(Confirmation.CONFIRMED, result.number)
        return Confirmed(Confirmation.WRONG if isinstance(result, reg.WrongCode) else Confirmation.NO_CODE)

    async def set_language(self, msisdn: str, language: str) -> None:
        await self._db.write(lambda conn: reg.set_language(conn, msisdn, language))

    async def _pin_hash(self, msisdn: str) -> str | None:
        query = sa.select(subscribers.c.pin_hash).where(subscribers.c.msisdn == msisdn)
        return await self._db.read(lambda conn: conn.execute(query).scalar())

    async def has_pin(self, msisdn: str) -> bool:
        return bool(await self._pin_hash(msisdn))

    async def verify_pin(self, msisdn: str, pin: str) -> bool:
        stored = await self._pin_hash(msisdn)
        return stored is not None and await threads.deferToThread(pins.verify_pin, pin, stored)

    async def set_pin(self, msisdn: str, pin: str) -> None:
        hashed = await threads.deferToThread(pins.hash_pin, pin)
        statement = subscribers.update().where(subscribers.c.msisdn == msisdn).values(pin_hash=hashed)
        await self._db.write(lambda conn: conn.execute(statement))

    async def notify(self, msisdn: str, language: str, key: str, text: str) -> None:
        await self._outbox.queue(Notice(None, self._e164(msisdn) or msisdn, language, key, text), self._now())
