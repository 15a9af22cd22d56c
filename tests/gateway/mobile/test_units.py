"""Pieces cheaper to check without a peer: receipts, send-error classes, USSD length and time-outs."""

from __future__ import annotations

import pytest
import pytest_twisted
import smpp34
from twisted.internet import defer, task

from roamback.core.messages import MessageCatalog
from roamback.core.model import Notice
from roamback.gateway.mobile import (
    Inbound,
    PermanentSendError,
    Screen,
    SmppNotifier,
    SmsSender,
    TemporarySendError,
    UssdTransport,
    parse_receipt,
)
from roamback.gateway.smpp import FailureReason, MessageResp, SmppRequestError, Status
from roamback.gateway.ussd import UssdSettings, dialect


@pytest.mark.parametrize(("text", "tlvs", "expected"), [
    ("id:1A2B sub:001 dlvrd:001 submit date:2503011200 done date:2503011201 stat:DELIVRD err:000", {},
     ("1A2B", "DELIVRD", True)),
    ("id:77 stat:undeliv err:001", {}, ("77", "UNDELIV", False)),
    ("", {smpp34.TLV_RECEIPTED_MESSAGE_ID: b"abc\x00", smpp34.TLV_MESSAGE_STATE: b"\x02"}, ("abc", "DELIVRD", True)),
    ("id:ignored stat:UNDELIV", {smpp34.TLV_MESSAGE_STATE: b"\x03"}, ("ignored", "EXPIRED", False)),
])
def test_receipts_read_text_and_tlvs_with_tlvs_first(text, tlvs, expected):
    receipt = parse_receipt(text, tlvs)
    assert (receipt.message_id, receipt.state, receipt.delivered) == expected


def test_receipt_ids_match_in_hex_and_decimal():
    assert set(parse_receipt("id:255 stat:DELIVRD", {}).id_spellings()) >= {"255", "ff", "597"}
    assert parse_receipt("stat:DELIVRD", {}) is None


class FakeLink:
    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.sent = []

    def submit(self, pdu):
        self.sent.append(pdu)
        outcome = self.outcomes.pop(0)
        return defer.fail(outcome) if isinstance(outcome, Exception) else defer.succeed(outcome)


NOTICE = Notice(None, "+33612345678", "en", "help", "x" * 200)


@pytest_twisted.ensureDeferred
async def test_notifier_segments_asks_one_receipt_and_returns_the_first_id():
    link = FakeLink(MessageResp(0x80000004, 0, "m1"), MessageResp(0x80000004, 0, "m2"))
    notifier = SmppNotifier(link.submit, SmsSender("1234", 3, 0))
    assert await notifier.send(NOTICE) == "m1"
    assert [(p.registered_delivery, p.esm_class, p.destination_addr) for p in link.sent] == [
        (1, 0x40, "33612345678"), (0, 0x40, "33612345678")]


@pytest.mark.parametrize(("error", "kind"), [
    (SmppRequestError(FailureReason.STATUS, Status.RTHROTTLED), TemporarySendError),
    (SmppRequestError(FailureReason.STATUS, Status.RMSGQFUL), TemporarySendError),
    (SmppRequestError(FailureReason.TIMEOUT), TemporarySendError),
    (SmppRequestError(FailureReason.CONNECTION_LOST), TemporarySendError),
    (SmppRequestError(FailureReason.STATUS, 0x0B), PermanentSendError),  # ESME_RINVDSTADR
])
@pytest_twisted.ensureDeferred
async def test_notifier_tells_temporary_from_permanent_failures(error, kind):
    notifier = SmppNotifier(FakeLink(error).submit, SmsSender())
    with pytest.raises(kind):
        await notifier.send(Notice(None, "+33612345678", "en", "help", "short"))


class Engine:
    default_language = "en"
    home_region = "FR"


class Directory:
    async def lookup(self, msisdn):
        return None


class Runtime:
    def spawn(self, coro):
        defer.ensureDeferred(coro)


def transport(clock, link, **settings):
    return UssdTransport(settings=UssdSettings(**settings), engine=Engine(), directory=Directory(),
                         catalog=MessageCatalog.load(None, {}), send=lambda name, pdu: link.submit(pdu),
                         runtime=Runtime(), clock=clock)


def test_ussd_texts_are_cut_to_one_string():
    ussd = transport(task.Clock(), FakeLink())
    assert ussd.fit("a " * 100).endswith("...") and len(ussd.fit("a " * 100)) <= 182
    arabic = "مرحبا " * 30
    assert len(ussd.fit(arabic)) <= 80


def test_a_menu_dial_closes_at_once_with_the_one_shot_syntax_in_the_dialects_close_op():
    clock = task.Clock()
    link = FakeLink(*[MessageResp(0x80000004, 0, f"u{n}") for n in range(3)])
    ussd = transport(clock, link, dialect=dialect("6d"), screen_timeout_seconds=30)
    begin = Inbound("+33612345678", "123", 0, 0, b"*123#",
                    {smpp34.TLV_USSD_SERVICE_OP: b"\x01", smpp34.TLV_ITS_SESSION_INFO: b"\x05\x02"})
    assert ussd.handle(begin, "ussdc") == 0
    [reply] = link.sent
    assert decode_text(reply) == "Call-back: dial *123*number# with the country code."
    assert {t.tag: t.value for t in reply.tlvs}[smpp34.TLV_USSD_SERVICE_OP] == b"\x17"  # 6D close
    assert len(ussd.table) == 0 and clock.getDelayedCalls() == []


class KeepOpen:
    """A stand-in menu engine that always waits for the subscriber."""

    async def begin(self, dialogue, dial):
        return Screen("1. Call home", close=False)

    async def answer(self, dialogue, text):
        return Screen("1. Call home", close=False)


def test_a_screen_timeout_closes_the_dialogue_with_the_end_bit_set():
    clock = task.Clock()
    link = FakeLink(*[MessageResp(0x80000004, 0, f"u{n}") for n in range(3)])
    ussd = transport(clock, link, screen_timeout_seconds=30)
    ussd.application = KeepOpen()
    begin = Inbound("+33612345678", "123", 0, 0, b"*123#",
                    {smpp34.TLV_USSD_SERVICE_OP: b"\x01", smpp34.TLV_ITS_SESSION_INFO: b"\x05\x02"})
    ussd.handle(begin, "ussdc")
    [menu] = link.sent
    assert {t.tag: t.value for t in menu.tlvs}[smpp34.TLV_ITS_SESSION_INFO] == b"\x05\x02"  # open
    clock.advance(29.9)
    assert len(link.sent) == 1 and len(ussd.table) == 1
    clock.advance(0.2)
    closing = link.sent[1]
    assert decode_text(closing) == "Your session has expired. Please dial again."
    tlvs = {t.tag: t.value for t in closing.tlvs}
    assert tlvs[smpp34.TLV_ITS_SESSION_INFO] == b"\x05\x03" and tlvs[smpp34.TLV_USSD_SERVICE_OP] == b"\x11"
    assert len(ussd.table) == 0 and clock.getDelayedCalls() == []


def decode_text(pdu):
    return pdu.short_message.decode()
