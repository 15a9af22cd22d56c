"""What an SMS command does: the core for call-backs, the stores for the rest, and always an answer.

Business rules stay in the core: a call-back, bare number or CONF, is a ``CallbackTrigger`` like any
other, and a refusal is the engine's own notice (so it is not answered twice here). This module only
translates commands and picks the language: the one the keyword was typed in, else the subscriber's,
else the service's default. Anything unreadable gets the HELP text, never silence.

Nothing is sent from here. ``run`` returns the replies and, for commands that change stored data, a
function run inside the commit that marks the message handled, so the change and its answer land
together and a re-run after a restart sees a consistent state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from ...core import numbers
from ...core.engine import CallbackEngine
from ...core.messages import MessageCatalog, format_money
from ...core.model import CallbackTrigger, Channel, Notice, Subscriber
from ...core.ports import ChargingBackend, PortUnavailable, SubscriberDirectory
from ...storage import registrations as reg
from ...storage.inbound import InboundRow, Reply
from ..sms import (
    Balance,
    Callback,
    Command,
    Conference,
    Confirm,
    Help,
    KeywordTable,
    Language,
    Register,
    Unrecognised,
    Unregister,
    parse_command,
)

REPLY_PRIORITY = 1  # the subscriber is holding the phone waiting for it
InCommit = Callable[[Connection], list[Reply]]


@dataclass(frozen=True, slots=True)
class RegistrationSettings:
    code_ttl_seconds: float = 600.0
    max_attempts: int = 3


@dataclass(slots=True)
class Outcome:
    replies: list[Reply] = field(default_factory=list)
    in_commit: InCommit | None = None


@dataclass(frozen=True, slots=True)
class _Context:
    row: InboundRow
    requester: str  # E.164 when the source parses
    subscriber: Subscriber | None
    language: str  # for replies
    typed_language: str | None  # only what the keyword said: the core picks the subscriber's otherwise
    region: str
    now: datetime


class SmsCommands:
    def __init__(
        self,
        *,
        engine: CallbackEngine,
        directory: SubscriberDirectory,
        charging: ChargingBackend,
        catalog: MessageCatalog,
        keywords: KeywordTable,
        now: Callable[[], datetime],
        registration: RegistrationSettings | None = None,
    ) -> None:
        self._engine = engine
        self._directory = directory
        self._charging = charging
        self._catalog = catalog
        self._keywords = keywords
        self._now = now
        self._registration = registration or RegistrationSettings()

    async def run(self, row: InboundRow) -> Outcome:
        requester = self._identity(row.source)
        subscriber = await self._lookup(requester)
        preferred = subscriber.language if subscriber is not None else None
        command = parse_command(row.text, self._keywords, preferred_language=preferred)
        language = command.language or preferred or self._engine.default_language
        region = subscriber.home_region if subscriber is not None else self._engine.home_region
        context = _Context(row, requester, subscriber, language, command.language, region, self._now())
        return await self._execute(command, context)

    async def _execute(self, command: Command, ctx: _Context) -> Outcome:
        match command:
            case Callback(destination):
                return await self._callback(ctx, destination, None)
            case Conference(first, second):
                return await self._callback(ctx, second, first)
            case Balance():
                return Outcome([await self._balance(ctx)])
            case Register(number):
                return self._with_number(ctx, number, self._register)
            case Unregister(number):
                return self._with_number(ctx, number, self._unregister)
            case Confirm(code):
                return Outcome(in_commit=lambda conn: [self._confirm(conn, ctx, code)])
            case Language(code):
                return self._language(ctx, code)
            case Help() | Unrecognised():
                return Outcome([self._reply(ctx, "help")])
        raise AssertionError(f"unhandled command {command!r}")

    async def _callback(self, ctx: _Context, destination: str, callback_number: str | None) -> Outcome:
        trigger = CallbackTrigger(Channel.SMS, ctx.requester, destination, callback_number=callback_number,
                                  language=ctx.typed_language, reference=f"mo:{ctx.row.id}")
        request = await self._engine.submit(trigger)
        if request.state.terminal:  # refused (or already over): the engine queued that notice itself
            return Outcome()
        text = self._engine.describe(request)
        notice = Notice(request.id, ctx.requester, request.language, "accepted", text)
        return Outcome([Reply(notice, REPLY_PRIORITY)])

    async def _balance(self, ctx: _Context) -> Reply:
        if ctx.subscriber is None:
            return self._reply(ctx, "refusal.unknown_subscriber")
        try:
            balance = await self._charging.balance(ctx.subscriber)
        except PortUnavailable:
            balance = None
        if balance is None:
            return self._reply(ctx, "sms.balance_unavailable")
        amount = format_money(balance.available_minor, balance.currency, ctx.language)
        return self._reply(ctx, "balance", balance=amount)

    def _with_number(self, ctx: _Context, raw: str, action: Callable[[Connection, _Context, str], list[Reply]]
                     ) -> Outcome:
        try:
            number = numbers.normalise(raw, ctx.region)
        except numbers.InvalidNumber:
            return Outcome([self._reply(ctx, "refusal.invalid_number")])
        if number == ctx.requester:
            return Outcome([self._reply(ctx, "sms.own_number", number=number)])
        return Outcome(in_commit=lambda conn: action(conn, ctx, number))

    def _register(self, conn: Connection, ctx: _Context, number: str) -> list[Reply]:
        """The code goes to the number being registered, in the requester's language: whoever holds
        that phone is usually travelling with, or related to, the requester."""
        ttl = self._registration.code_ttl_seconds
        result = reg.start_registration(conn, ctx.requester, number, ctx.now, ctx.now + timedelta(seconds=ttl))
        minutes = _minutes(ttl)
        match result:
            case reg.CodeIssued(code):
                text = self._catalog.render("sms.code_text", ctx.language, requester=ctx.requester, code=code,
                                            minutes=minutes)
                to_number = Reply(Notice(None, number, ctx.language, "sms.code_text", text), REPLY_PRIORITY)
                return [to_number, self._reply(ctx, "sms.code_sent", number=number, minutes=minutes)]
            case reg.CodePending(expires_at):
                left = _minutes((expires_at - ctx.now).total_seconds())
                return [self._reply(ctx, "sms.code_pending", number=number, minutes=left)]
            case reg.AlreadyRegistered():
                return [self._reply(ctx, "sms.already_registered", number=number)]
        raise AssertionError(f"unhandled registration {result!r}")

    def _unregister(self, conn: Connection, ctx: _Context, number: str) -> list[Reply]:
        removed = reg.unregister(conn, ctx.requester, number)
        return [self._reply(ctx, "sms.unregistered" if removed else "sms.not_registered", number=number)]

    def _confirm(self, conn: Connection, ctx: _Context, code: str) -> Reply:
        result = reg.confirm_code(conn, ctx.requester, code, ctx.now, self._registration.max_attempts)
        match result:
            case reg.Confirmed(number):
                return self._reply(ctx, "sms.registered", number=number)
            case reg.WrongCode(left):
                return self._reply(ctx, "sms.code_wrong", attempts=left)
            case reg.NoValidCode():
                return self._reply(ctx, "sms.code_invalid")
        raise AssertionError(f"unhandled confirmation {result!r}")

    def _language(self, ctx: _Context, code: str) -> Outcome:
        if code not in self._catalog.languages:
            return Outcome([self._reply(ctx, "sms.language_unknown",
                                        languages=", ".join(sorted(self._catalog.languages)))])

        def store(conn: Connection) -> list[Reply]:
            if not reg.set_language(conn, ctx.requester, code):
                return [self._reply(ctx, "refusal.unknown_subscriber")]
            return [self._reply(ctx, "sms.language_set", language=code)]

        return Outcome(in_commit=store)

    # -- helpers -----------------------------------------------------------------------------------

    def _reply(self, ctx: _Context, key: str, *, language: str | None = None, **params: Any) -> Reply:
        language = language or ctx.language
        text = self._catalog.render(key, language, **params)
        return Reply(Notice(None, ctx.requester, language, key, text), REPLY_PRIORITY)

    def _identity(self, source: str) -> str:
        try:
            return numbers.normalise(source, self._engine.home_region)
        except numbers.InvalidNumber:
            return source

    async def _lookup(self, msisdn: str) -> Subscriber | None:
        try:
            return await self._directory.lookup(msisdn)
        except PortUnavailable:
            return None  # answered in the default language; a call-back will be refused by the core


def _minutes(seconds: float) -> int:
    return max(1, round(seconds / 60))
