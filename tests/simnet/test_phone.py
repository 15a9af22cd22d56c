"""``roamback phone``: the handset logic without a terminal, then the command driven through a pipe."""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest_twisted
import smpp34
from twisted.internet import reactor
from twisted.internet.protocol import ProcessProtocol

from roamback.gateway.smpp import Answer, EsmeLink, LinkConfig, SessionConfig
from roamback.gateway.ussd import PRESETS, build_reply
from roamback.simnet import Phone, parse_config, start_simnet
from roamback.simnet.phone import HELP

from ..gateway.smpp.peers import free_port, wait_until
from .helpers import indication_of, reply_pdu

ATTACHED = {"ok": True, "msisdn": "447700900001", "inbox": 0}


def attached() -> Phone:
    phone = Phone("447700900001")
    assert phone.requests_to_send() == [{"op": "attach", "msisdn": "447700900001"}]
    phone.received(ATTACHED)
    assert phone.lines_to_print() == ["phone 447700900001 attached (0 SMS in inbox)"]
    return phone


def test_lines_wait_for_the_screen_they_answer() -> None:
    phone = attached()
    for line in ("*123#", "2", "sms 1234 BAL"):
        phone.typed(line)
    assert phone.requests_to_send() == [{"op": "dial", "text": "*123#"}]
    phone.received({"ok": True})
    assert phone.requests_to_send() == []  # still waiting for the screen
    phone.received({"event": "ussd", "text": "1. Call\n2. Balance", "open": True})
    assert phone.lines_to_print() == ["[USSD] 1. Call", "[USSD] 2. Balance", "[USSD] reply>"]
    assert phone.requests_to_send() == [{"op": "answer", "text": "2"}]
    phone.received({"ok": True})
    phone.received({"event": "ussd", "text": "Balance: 5 EUR", "open": False})
    assert phone.requests_to_send() == [{"op": "sms", "to": "1234", "text": "BAL"}]
    phone.input_ended()
    phone.received({"ok": True, "ref": 4})
    assert phone.exit_code is None  # the SMS is not taken yet
    phone.received({"event": "sms_retry", "ref": 4, "attempt": 1, "status": 100, "delay": 1.0})
    phone.received({"event": "sms_sent", "ref": 4, "ok": True, "attempts": 2, "status": 0})
    assert phone.exit_code == 0
    assert phone.lines_to_print() == [
        "[USSD] Balance: 5 EUR", "[USSD] (dialogue ended)", "[SMS ref 4] sent to the network",
        "[SMS ref 4] service answered status 0x64, retrying in 1s", "[SMS ref 4] taken by the service (attempt 2)",
    ]


def test_events_inbox_errors_and_help() -> None:
    phone = attached()
    phone.received({"event": "sms", "id": 1, "from": "1234", "text": "Hi\nthere", "at": "T"})
    phone.typed("inbox")
    phone.received({"ok": True, "messages": [{"id": 1, "from": "1234", "text": "Hi", "at": "T"}]})
    phone.typed("dance")
    phone.typed("sms 1234")
    phone.typed("help")
    phone.typed("*123#")
    phone.received({"ok": False, "error": "busy"})
    phone.received({"event": "ussd_closed", "reason": "timeout"})
    assert phone.lines_to_print() == [
        "[SMS from 1234 at T] Hi", "    there", "inbox: 1 message(s)", "  #1 from 1234 at T: Hi",
        "error: unknown command 'dance' (type help)", "error: usage: sms <to> <text>", *HELP,
        "error: busy", "[USSD] (dialogue ended: timeout)",
    ]
    phone.input_ended()
    assert phone.exit_code == 0


def test_refused_attach_and_lost_connection_exit_1() -> None:
    phone = Phone("x")
    phone.received({"ok": False, "error": "'msisdn' must hold digits"})
    assert phone.exit_code == 1
    other = attached()
    other.connection_lost()
    assert other.exit_code == 1 and other.lines_to_print() == ["error: the connection to simnet was lost"]


def test_end_of_input_with_a_menu_open() -> None:
    phone = attached()
    phone.received({"event": "ussd", "text": "Menu", "open": True})
    phone.input_ended()
    assert phone.exit_code == 0
    assert phone.lines_to_print()[-1] == "[USSD] (input ended with the menu unanswered)"


@pytest_twisted.ensureDeferred
async def test_roamback_phone_without_simnet_exits_1():
    process = Collect(b"inbox\n")
    argv = [sys.executable, "-m", "roamback", "phone", "447700900001", "--simnet", f"127.0.0.1:{free_port()}"]
    reactor.spawnProcess(process, sys.executable, argv, env=dict(os.environ))
    await wait_until(lambda: process.status is not None, timeout=30, what="phone exit")
    assert process.status == 1 and process.out == b""
    assert process.err.decode().startswith("error: cannot reach simnet at 127.0.0.1:")


class MenuService:
    """A tiny USSD service on our own ESME link: a menu, then a final text with the answer in it."""

    def __init__(self) -> None:
        self.link: EsmeLink | None = None
        self.sms: list[bytes] = []

    def handle_request(self, pdu: Any, origin: str) -> Answer:
        tags = {tlv.tag for tlv in pdu.tlvs}
        if smpp34.TLV_USSD_SERVICE_OP not in tags:
            self.sms.append(pdu.short_message)
            return Answer(0)
        indication = indication_of(pdu)
        close = indication.text != "*123#"
        text = f"You chose {indication.text}" if close else "1. Call me\n2. Balance"
        assert self.link is not None
        self.link.submit(reply_pdu(build_reply(PRESETS["smpp34"], indication, text, close=close)))
        return Answer(0)


class Collect(ProcessProtocol):
    def __init__(self, stdin: bytes) -> None:
        self.stdin = stdin
        self.out = b""
        self.err = b""
        self.status: int | None = None

    def connectionMade(self) -> None:
        self.transport.write(self.stdin)
        self.transport.closeStdin()

    def outReceived(self, data: bytes) -> None:
        self.out += data

    def errReceived(self, data: bytes) -> None:
        self.err += data

    def processEnded(self, reason: Any) -> None:
        self.status = reason.value.exitCode


@pytest_twisted.ensureDeferred
async def test_roamback_phone_through_a_pipe():
    loopback = "tcp:0:interface=127.0.0.1"
    running = await start_simnet(parse_config({"smpp": {"listen": loopback}, "control": {"listen": loopback}}),
                                 reactor)
    service = MenuService()
    port = running.smpp_port.getHost().port
    config = LinkConfig("simnet", f"tcp:host=127.0.0.1:port={port}", "roamback", "simnet",
                        session=SessionConfig(), reconnect_initial=0.1)
    service.link = EsmeLink(config, service, reactor)
    service.link.startService()
    process = Collect(b"*123#\n2\nsms 1234 BAL\ninbox\n")
    try:
        await wait_until(lambda: service.link.bound, what="service bind")
        running.network.handsets.store("447700900001", "1234", "Welcome", 0)
        control = running.control_port.getHost().port
        argv = [sys.executable, "-m", "roamback", "phone", "+447700900001", "--simnet", f"127.0.0.1:{control}",
                "--wait", "10"]
        reactor.spawnProcess(process, sys.executable, argv, env=dict(os.environ))
        await wait_until(lambda: process.status is not None, timeout=30, what="phone exit")
        lines = process.out.decode().splitlines()
        assert process.status == 0, (lines, process.err)
        assert lines[:7] == [
            "phone 447700900001 attached (1 SMS in inbox)",
            "[USSD] 1. Call me", "[USSD] 2. Balance", "[USSD] reply>",
            "[USSD] You chose 2", "[USSD] (dialogue ended)", "[SMS ref 1] sent to the network",
        ]
        inbox = lines.index("inbox: 1 message(s)")  # the next line need not wait for the SMS to be taken
        assert lines[inbox + 1] == "  #1 from 1234 at 1970-01-01T00:00:00+00:00: Welcome"
        assert sorted(lines[7:]) == sorted(["[SMS ref 1] taken by the service (attempt 1)", *lines[inbox:inbox + 2]])
        assert service.sms == [b"BAL"]
    finally:
        await service.link.stopService()
        await running.stop()
