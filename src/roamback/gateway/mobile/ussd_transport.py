"""USSD over SMPP: indications in, dialogue bookkeeping, replies out in the centre's own dialect.

A USSD dialogue lives in the centre's memory and ours, never on disk: if either side restarts, the
subscriber's screen is gone anyway. So the deliver_sm is acknowledged at once and the reply is a
separate submit_sm, sent straight to the link it came from rather than through the SMS outbox: a
subscriber is staring at a spinner, and the centre drops the dialogue after its screen timeout. That
is what "USSD before SMS" means here; the outbox, which drains one notice at a time, never holds a USSD
reply back.

Every recognised dial, ``*<code>#`` and the one-shot ``*<code>*<number>#`` alike, goes to a
``UssdApplication``: the menu engine when one is configured (it also reads ``*<code>*<n>#`` as a phone
book position), else ``OneShotApplication``, which passes one-shots to the core and answers the bare code
with the one-shot syntax.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Protocol

import smpp34
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from ...core import numbers
from ...core.engine import CallbackEngine
from ...core.messages import MessageCatalog
from ...core.ports import PortUnavailable, Runtime, SubscriberDirectory
from ..smpp import MessageResp, Pdu, Status
from ..sms import GSM_DEFAULT, UCS2, cost, decode, fits_gsm
from ..sms.encoding import encode_as
from ..ussd import (
    Abort,
    Begin,
    CallbackDial,
    Continue,
    Dialogue,
    DialogueTable,
    Malformed,
    MenuDial,
    NoDialogue,
    UnknownOp,
    UssdIndication,
    UssdReply,
    UssdSettings,
    build_reply,
    classify,
    parse_dial,
)
from .mo_handler import Inbound

log = Logger()

Send = Callable[[str, Pdu], Deferred[MessageResp]]
"""Submit a PDU on the named link (the one the dialogue came in on)."""


@dataclass(frozen=True, slots=True)
class Screen:
    """What the application shows next; ``close`` ends the dialogue with it."""

    text: str
    close: bool


class UssdApplication(Protocol):
    """The seam for the menu engine: it owns ``Dialogue.state`` and decides every screen of a dialogue.
    The transport handles keys, timeouts, dialects and lengths."""

    async def begin(self, dialogue: Dialogue, dial: MenuDial | CallbackDial) -> Screen: ...

    async def answer(self, dialogue: Dialogue, text: str) -> Screen: ...


class OneShotApplication:
    """No menu configured: one-shots become call-backs, the bare code gets the one-shot syntax."""

    def __init__(self, engine: CallbackEngine, catalog: MessageCatalog) -> None:
        self._engine = engine
        self._catalog = catalog

    async def begin(self, dialogue: Dialogue, dial: MenuDial | CallbackDial) -> Screen:
        if isinstance(dial, CallbackDial):
            request = await self._engine.submit(dial.trigger(dialogue.msisdn))
            return Screen(self._engine.describe(request), close=True)
        return Screen(self._hint(dialogue, dial.service_code), close=True)

    async def answer(self, dialogue: Dialogue, text: str) -> Screen:
        return Screen(self._hint(dialogue, dialogue.service_code or ""), close=True)

    def _hint(self, dialogue: Dialogue, code: str) -> str:
        return self._catalog.render("ussd.menu_hint", dialogue.language or self._engine.default_language, code=code)


class UssdTransport:
    def __init__(
        self,
        *,
        settings: UssdSettings,
        engine: CallbackEngine,
        directory: SubscriberDirectory,
        catalog: MessageCatalog,
        send: Send,
        runtime: Runtime,
        clock: IReactorTime,
        application: UssdApplication | None = None,
    ) -> None:
        self.settings = settings
        self._dialect = settings.dialect
        self._engine = engine
        self._directory = directory
        self._catalog = catalog
        self._send = send
        self._runtime = runtime
        self._clock = clock
        self.application = application or OneShotApplication(engine, catalog)
        self.table = DialogueTable(screen_timeout=settings.screen_timeout_seconds,
                                   dialogue_timeout=settings.dialogue_timeout_seconds)
        self._routes: dict[Hashable, tuple[str, str]] = {}  # dialogue key -> (link, our address)
        self._timer: IDelayedCall | None = None
        self.replies_sent = 0

    def handle(self, message: Inbound, origin: str) -> int:
        """Acknowledge at once; the reply follows as its own submit_sm."""
        indication = _indication(message)
        event = classify(indication, self._dialect)
        match event:
            case Begin(_, key) | Continue(_, key):
                self._routes[key] = (origin, message.destination)
                self._runtime.spawn(self._step(event))
            case Abort(_, key):
                self.table.abort(key)
                self._routes.pop(key, None)
            case UnknownOp() | Malformed():
                log.warn("USSD from {link} not understood under dialect {dialect}: {event}", link=origin,
                         dialect=self._dialect.preset, event=type(event).__name__)
        return Status.ROK

    async def _step(self, event: Begin | Continue) -> None:
        try:
            await self._advance(event)
        except Exception:
            log.failure("USSD step failed; closing the dialogue")
            dialogue = self.table.close(event.key)
            text = self._text("ussd.unavailable", dialogue.language if dialogue else None)
            await self._reply(event.key, event.indication, text, close=True)

    async def _advance(self, event: Begin | Continue) -> None:
        now = self._clock.seconds()
        if isinstance(event, Begin):
            language = await self._language(event.indication.msisdn)
            dialogue = self.table.open(event.key, event.indication, now, language=language).dialogue
            screen = await self._begin(dialogue, event.indication)
        else:
            found = self.table.resume(event.key, event.indication, now)
            if isinstance(found, NoDialogue):
                language = found.expired.language if found.expired else None
                language = language or await self._language(event.indication.msisdn)
                await self._reply(event.key, event.indication, self._text("ussd.session_expired", language), True)
                return
            dialogue = found
            screen = await self.application.answer(dialogue, event.indication.text)
        await self._show(dialogue, screen)

    async def _begin(self, dialogue: Dialogue, indication: UssdIndication) -> Screen:
        dial = parse_dial(indication.text, self.settings.service_codes)
        if isinstance(dial, MenuDial | CallbackDial):
            return await self.application.begin(dialogue, dial)
        code = self.settings.service_codes[0]
        return Screen(self._text("ussd.menu_hint", dialogue.language, code=code), close=True)

    async def _show(self, dialogue: Dialogue, screen: Screen) -> None:
        if screen.close:
            self.table.close(dialogue.key)
        else:
            self.table.touch(dialogue, self._clock.seconds())
        await self._reply(dialogue.key, dialogue, screen.text, screen.close)

    async def _reply(self, key: Hashable, to: Dialogue | UssdIndication, text: str, close: bool) -> None:
        route = self._routes.pop(key, None) if close else self._routes.get(key)
        if route is None:
            return
        try:
            reply = build_reply(self._dialect, to, self.fit(text), close=close)
            await self._send(route[0], self._submit_sm(reply, route[1]))
            self.replies_sent += 1
        except Exception as exc:
            log.warn("USSD reply to {link} failed: {error}", link=route[0], error=str(exc))
        finally:
            self._arm_timer()

    def _submit_sm(self, reply: UssdReply, source: str) -> smpp34.SubmitSm:
        wanted = self._dialect.data_coding
        if fits_gsm(reply.text):
            payload, data_coding = encode_as(reply.text, GSM_DEFAULT), GSM_DEFAULT if wanted == "auto" else wanted
        else:  # a fixed GSM coding cannot carry this text; UCS2 is the only honest choice
            payload, data_coding = encode_as(reply.text, UCS2), UCS2
        tlvs = [_op_tlv(reply.op)]
        if reply.its_session_info is not None:
            tlvs.append(smpp34.Tlv(smpp34.TLV_ITS_SESSION_INFO, reply.its_session_info))
        if reply.user_message_reference is not None:
            tlvs.append(smpp34.Tlv(smpp34.TLV_USER_MESSAGE_REFERENCE, reply.user_message_reference.to_bytes(2, "big")))
        return smpp34.SubmitSm(source, reply.msisdn.removeprefix("+"), payload,
                               service_type=self._dialect.service_type, data_coding=data_coding, tlvs=tlvs)

    def fit(self, text: str) -> str:
        """USSD cannot concatenate: a text longer than one string is cut at a word and marked."""
        if fits_gsm(text):
            limit, size = self.settings.max_page_chars_gsm, (lambda t: cost(t, GSM_DEFAULT))
        else:
            limit, size = self.settings.max_page_chars_ucs2, (lambda t: len(t.encode("utf-16-le")) // 2)
        if size(text) <= limit:
            return text
        cut = text
        while cut and size(cut + "...") > limit:
            cut = cut[: cut.rfind(" ")] if " " in cut else cut[:-1]
        return cut + "..."

    # -- timeouts ----------------------------------------------------------------------------------

    def _arm_timer(self) -> None:
        deadline = self.table.next_deadline()
        if deadline is None or (self._timer is not None and self._timer.active()
                                and self._timer.getTime() <= deadline):
            return
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = self._clock.callLater(max(0.0, deadline - self._clock.seconds()), self._expire)

    def _expire(self) -> None:
        self._timer = None
        for expired in self.table.expire(self._clock.seconds()):
            dialogue = expired.dialogue
            log.info("USSD dialogue {key} timed out ({timeout})", key=dialogue.key, timeout=expired.timeout.value)
            text = self._text("ussd.session_expired", dialogue.language)
            self._runtime.spawn(self._reply(dialogue.key, dialogue, text, close=True))
        self._arm_timer()

    def stop(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    # -- language ----------------------------------------------------------------------------------

    def _text(self, key: str, language: str | None, **params: object) -> str:
        return self._catalog.render(key, language or self._engine.default_language, **params)

    async def _language(self, msisdn: str) -> str | None:
        try:
            subscriber = await self._directory.lookup(numbers.normalise(msisdn, self._engine.home_region))
        except (PortUnavailable, numbers.InvalidNumber):
            return None
        return subscriber.language if subscriber is not None else None


@functools.cache
def _op_tlv(op: int) -> smpp34.Tlv:
    """A dialect uses a handful of op codes, so their TLVs are built once rather than per reply."""
    return smpp34.Tlv(smpp34.TLV_USSD_SERVICE_OP, bytes([op]))


def _indication(message: Inbound) -> UssdIndication:
    tlvs = message.tlvs
    reference = tlvs.get(smpp34.TLV_USER_MESSAGE_REFERENCE)
    try:
        text = decode(message.payload, message.data_coding)
    except ValueError:
        text = message.payload.decode("latin-1")
    return UssdIndication(
        msisdn=message.source, op=tlvs[smpp34.TLV_USSD_SERVICE_OP][0], text=text,
        its_session_info=tlvs.get(smpp34.TLV_ITS_SESSION_INFO),
        user_message_reference=int.from_bytes(reference, "big") if reference else None,
    )
