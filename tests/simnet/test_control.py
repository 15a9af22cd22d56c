"""The handset control API: JSON lines in and out, against simnet with our ESME bound in memory."""

from __future__ import annotations

import json
from typing import Any

import smpp34
from twisted.internet.testing import StringTransport

from roamback.gateway.ussd import PRESETS, build_reply
from roamback.simnet.control import ControlFactory

from .helpers import HANDSET, Net, indication_of, reply_pdu


class Phone:
    """One control connection over a StringTransport."""

    def __init__(self, harness: Net) -> None:
        self.protocol = ControlFactory(harness.network).buildProtocol(None)
        self.transport = StringTransport()
        self.protocol.makeConnection(self.transport)
        self.harness = harness

    def send(self, **request: Any) -> list[dict[str, Any]]:
        self.protocol.dataReceived(json.dumps(request).encode() + b"\n")
        self.harness.flush()
        return self.read()

    def read(self) -> list[dict[str, Any]]:
        lines = self.transport.value().decode().splitlines()
        self.transport.clear()
        return [json.loads(line) for line in lines]


def test_attach_required_and_bad_requests() -> None:
    harness = Net().bind()
    phone = Phone(harness)
    error = 'attach a handset first: {"op": "attach", "msisdn": ...}'
    assert phone.send(op="inbox", id=1) == [{"id": 1, "ok": False, "error": error}]
    phone.protocol.dataReceived(b"not json\n[1]\n")
    assert [m["ok"] for m in phone.read()] == [False, False]
    assert phone.send(op="attach", msisdn="+44 7700 900001") == [{"ok": True, "msisdn": HANDSET, "inbox": 0}]
    assert phone.send(op="attach", msisdn="1")[0]["error"] == f"already attached to {HANDSET}"
    assert "unknown op" in phone.send(op="fly")[0]["error"]
    assert phone.send(op="sms", to="x", text="hi")[0]["error"] == "'to' must hold digits"
    assert phone.send(op="release")[0]["error"] == "no USSD dialogue is open"
    assert phone.send(op="dial", text="123")[0]["ok"] is False
    harness.stop()


def test_dial_screen_answer_close_as_events() -> None:
    harness = Net().bind()
    dialect = PRESETS["smpp34"]
    phone = Phone(harness)
    phone.send(op="attach", msisdn=HANDSET)
    assert phone.send(op="dial", text="*123*447700900456#", id="d") == [{"id": "d", "ok": True}]
    begin = indication_of(harness.service.received[-1])
    harness.submit(reply_pdu(build_reply(dialect, begin, "1. Yes\n2. No", close=False)))
    assert phone.read() == [{"event": "ussd", "text": "1. Yes\n2. No", "open": True}]
    assert phone.send(op="answer", text="1") == [{"ok": True}]
    answer = indication_of(harness.service.received[-1])
    assert answer.text == "1"
    harness.submit(reply_pdu(build_reply(dialect, answer, "Calling you", close=True)))
    assert phone.read() == [{"event": "ussd", "text": "Calling you", "open": False}]
    assert phone.send(op="answer", text="2")[0]["error"] == "no USSD menu is waiting for an answer"
    harness.stop()


def test_sms_both_ways_and_inbox() -> None:
    harness = Net().bind()
    phone = Phone(harness)
    phone.send(op="attach", msisdn=HANDSET)
    replies = phone.send(op="sms", to="1234", text="BAL")
    assert replies == [{"ok": True, "ref": 1}, {"event": "sms_sent", "ref": 1, "ok": True, "attempts": 1,
                                                 "status": 0}]
    assert harness.service.received[-1].short_message == b"BAL"
    harness.submit(smpp34.SubmitSm("1234", HANDSET, "Solde: 5 €".encode("utf-16-be"), data_coding=8))
    [event] = phone.read()
    assert event == {"event": "sms", "id": 1, "from": "1234", "text": "Solde: 5 €", "at": "1970-01-01T00:00:00+00:00"}
    [inbox] = phone.send(op="inbox")
    assert inbox["messages"] == [{k: v for k, v in event.items() if k != "event"}]
    harness.stop()


def test_response_comes_before_the_events_it_caused() -> None:
    harness = Net()  # the service is not bound: the dial ends at once
    phone = Phone(harness)
    phone.send(op="attach", msisdn=HANDSET)
    assert phone.send(op="dial", text="*123#") == [{"ok": True}, {"event": "ussd_closed", "reason": "unavailable"}]
    assert harness.reactor.getDelayedCalls() == []


def test_last_connection_closing_releases_the_dialogue() -> None:
    harness = Net(ussd={"dialect": "6d"}).bind()
    harness.network.handsets.get(HANDSET).listeners.clear()  # only the two phones watch the handset
    first, second = Phone(harness), Phone(harness)
    first.send(op="attach", msisdn=HANDSET)
    second.send(op="attach", msisdn=HANDSET)
    first.send(op="dial", text="*123#")
    first.protocol.connectionLost(None)
    harness.flush()
    assert harness.network.ussd.open_dialogue(HANDSET)
    second.protocol.connectionLost(None)
    harness.flush()
    assert not harness.network.ussd.open_dialogue(HANDSET)
    assert indication_of(harness.service.received[-1]).op == 0x81  # 6D's abort
    harness.stop()
