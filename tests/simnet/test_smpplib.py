"""simnet's SMSC against smpplib, an SMPP client we did not write, on loopback TCP."""

from __future__ import annotations

from typing import Any

import pytest_twisted
import smpplib.client
import smpplib.consts
import smpplib.exceptions
import smpplib.gsm
from twisted.internet import reactor
from twisted.internet.threads import deferToThread

from roamback.gateway.smpp import Status
from roamback.simnet import parse_config, start_simnet

from ..gateway.smpp.peers import wait_until

LOOPBACK = "tcp:0:interface=127.0.0.1"
RULES = [{"match": "666$", "outcome": "undeliverable", "error": 34}, {"match": "^999", "outcome": "reject"}]


async def simnet(**sms: Any):
    config = parse_config({"smpp": {"listen": LOOPBACK}, "control": {"listen": LOOPBACK},
                           "sms": {"receipt_delay_seconds": 0.05, "rules": RULES,
                                   "retry": {"initial_seconds": 0.05}, **sms}})
    return await start_simnet(config, reactor)


def client(port: int) -> smpplib.client.Client:
    esme = smpplib.client.Client("127.0.0.1", port, timeout=5, allow_unknown_opt_params=True)
    esme.connect()
    return esme


def bind_status(port: int, system_id: str, password: str) -> int:
    esme = client(port)
    try:
        esme.bind_transceiver(system_id=system_id, password=password)
        esme.unbind()
    except smpplib.exceptions.PDUError as refused:
        return refused.args[1]
    finally:
        esme.disconnect()
    return 0


def submit_and_collect(port: int, destination: str, text: str, receipts: bool = True) -> dict[str, list[Any]]:
    """Submit ``text`` (split by smpplib when long) and read until every part has its receipt."""
    esme = client(port)
    seen: dict[str, list[Any]] = {"ids": [], "receipts": [], "errors": []}
    esme.set_message_sent_handler(lambda pdu, **_: seen["ids"].append(pdu.message_id.decode()))
    esme.set_message_received_handler(lambda pdu, **_: seen["receipts"].append(pdu))
    try:
        esme.bind_transceiver(system_id="roamback", password="simnet")
        parts, coding, esm_class = smpplib.gsm.make_parts(text)
        for part in parts:
            esme.send_message(source_addr="1234", destination_addr=destination, short_message=part,
                              data_coding=coding, esm_class=esm_class, registered_delivery=int(receipts))
        while len(seen["ids"]) + len(seen["errors"]) < len(parts) or len(seen["receipts"]) < len(parts) * receipts:
            try:
                esme.read_once()
            except smpplib.exceptions.PDUError as refused:
                seen["errors"].append(refused.args[1])
                receipts = False
        esme.unbind()
    finally:
        esme.disconnect()
    return seen


@pytest_twisted.ensureDeferred
async def test_bind_accepted_and_wrong_credentials_refused():
    running = await simnet()
    port = running.smpp_port.getHost().port
    try:
        assert await deferToThread(bind_status, port, "roamback", "simnet") == 0
        assert await deferToThread(bind_status, port, "roamback", "wrong") == Status.RINVPASWD
        assert await deferToThread(bind_status, port, "intruder", "simnet") == Status.RINVSYSID
        await wait_until(lambda: not running.network.factory.bound, what="binds closed")
    finally:
        await running.stop()


@pytest_twisted.ensureDeferred
async def test_submit_gets_a_message_id_then_a_receipt_with_its_fields():
    running = await simnet()
    try:
        seen = await deferToThread(submit_and_collect, running.smpp_port.getHost().port, "447700900001", "Bal 5")
        [message_id] = seen["ids"]
        [receipt] = seen["receipts"]
        assert receipt.esm_class == 0x04  # SMSC delivery receipt
        assert (receipt.source_addr, receipt.destination_addr) == (b"447700900001", b"1234")
        text = receipt.short_message.decode()
        assert text.startswith(f"id:{message_id} sub:001 dlvrd:001 submit date:")
        assert " stat:DELIVRD err:000 text:Bal 5" in text
        assert receipt.receipted_message_id.rstrip(b"\0").decode() == message_id
        assert receipt.message_state == smpplib.consts.SMPP_MESSAGE_STATE_DELIVERED
        [stored] = running.network.handsets.get("447700900001").inbox
        assert (stored.sender, stored.text) == ("1234", "Bal 5")
    finally:
        await running.stop()


@pytest_twisted.ensureDeferred
async def test_long_sms_parts_are_joined_in_the_inbox():
    running = await simnet()
    port = running.smpp_port.getHost().port
    gsm = "Your call to 447700900456 lasted 12 minutes. " * 5
    ucs2 = "Звонок на 447700900456 длился 12 минут. " * 3
    try:
        for text in (gsm, ucs2):
            seen = await deferToThread(submit_and_collect, port, "447700900002", text)
            assert len(seen["ids"]) == len(set(seen["ids"])) > 1
            assert len(seen["receipts"]) == len(seen["ids"])
        assert [m.text for m in running.network.handsets.get("447700900002").inbox] == [gsm, ucs2]
    finally:
        await running.stop()


@pytest_twisted.ensureDeferred
async def test_rules_give_failure_receipts_and_submit_errors():
    running = await simnet()
    port = running.smpp_port.getHost().port
    try:
        seen = await deferToThread(submit_and_collect, port, "447700900666", "x")
        [receipt] = seen["receipts"]
        assert " stat:UNDELIV err:034 " in receipt.short_message.decode()
        assert receipt.message_state == smpplib.consts.SMPP_MESSAGE_STATE_UNDELIVERABLE
        assert not running.network.handsets.get("447700900666").inbox
        seen = await deferToThread(submit_and_collect, port, "999000", "x")
        assert seen["errors"] == [Status.RTHROTTLED] and seen["ids"] == []
    finally:
        await running.stop()


def receive_mo(port: int, statuses: list[int], count: int) -> list[Any]:
    """Bind as the service and answer each deliver_sm with the next status (then ESME_ROK)."""
    esme = client(port)
    received: list[Any] = []

    def answer(pdu: Any, **_: Any) -> int:
        received.append(pdu)
        return statuses.pop(0) if statuses else 0

    esme.set_message_received_handler(answer)
    try:
        esme.bind_transceiver(system_id="roamback", password="simnet")
        while len(received) < count:
            esme.read_once()
        esme.unbind()
    finally:
        esme.disconnect()
    return received


@pytest_twisted.ensureDeferred
async def test_mo_sms_offered_again_until_smpplib_acknowledges_it():
    running = await simnet()
    events: list[Any] = []
    running.network.handsets.get("447700900001").listeners.append(events.append)
    try:
        receiving = deferToThread(receive_mo, running.smpp_port.getHost().port, [Status.RX_T_APPN], 2)
        reference = running.network.sms.send_mo("447700900001", "1234", "BAL")
        received = await receiving
        assert [(p.source_addr, p.destination_addr, p.short_message) for p in received] == [
            (b"447700900001", b"1234", b"BAL")] * 2
        await wait_until(lambda: events and type(events[-1]).__name__ == "SmsSent", what="sms_sent")
        assert events[-1].ok and events[-1].reference == reference
        assert Status.RX_T_APPN in [getattr(e, "status", None) for e in events]
    finally:
        await running.stop()
