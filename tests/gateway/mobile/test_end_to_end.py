"""SMS commands, USSD and receipts end to end: an independent SMSC process (smpp34's Server), our links,
the real engine on SQLite (tests/core/harness.py) and the outbox sending replies back by submit_sm."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest_twisted
import smpp34
import sqlalchemy as sa
from twisted.internet import defer, reactor
from twisted.internet.task import deferLater

from roamback.config import Config
from roamback.gateway.mobile import Messaging, build_messaging
from roamback.gateway.outbox_dispatcher import OutboxDispatcher
from roamback.gateway.sms import decode
from roamback.storage.outbox import OutboxStore
from roamback.storage.schema import inbound_messages, notice_outbox

from ...core.harness import ALICE, Harness, make_harness, roamer
from ..smpp.peers import PeerProcess, free_port, start_peer, wait_until

PEER = Path(__file__).with_name("scripted_smsc.py")
USSD_OP = smpp34.TLV_USSD_SERVICE_OP
SESSION = smpp34.TLV_ITS_SESSION_INFO


@dataclass
class Rig:
    peer: PeerProcess
    harness: Harness
    messaging: Messaging
    outbox: OutboxStore

    def deliver(self, tag: str, text: str | bytes, source: str = ALICE, **fields: object) -> None:
        payload = text if isinstance(text, bytes) else text.encode()
        command = {"tag": tag, "deliver": {"source_addr": source.removeprefix("+"), "source_addr_ton": 1,
                                           "destination_addr": "1234", "short_message": payload.hex(), **fields}}
        self.peer.transport.write((json.dumps(command) + "\n").encode())

    async def status(self, tag: str) -> int:
        line = await self.peer.saw(f'DELIVER_RESP {{"tag": "{tag}"')
        return json.loads(line.split(" ", 1)[1])["status"]

    def submits(self, to: str = ALICE) -> list[dict]:
        found = [json.loads(line.split(" ", 1)[1]) for line in self.peer.lines if line.startswith("SUBMIT ")]
        return [s for s in found if s["destination_addr"] == to.removeprefix("+")]

    async def texts(self, count: int, to: str = ALICE) -> list[str]:
        await wait_until(lambda: len(self.submits(to)) >= count, what=f"{count} submit_sm to {to}")
        return [decode(bytes.fromhex(s["short_message"]), s["data_coding"]) for s in self.submits(to)]


def config(port: int, **sections: object) -> Config:
    link = {"name": "smsc", "endpoint": f"tcp:host=127.0.0.1:port={port}", "system_id": "roamback",
            "password": "secret", "enquire_link_seconds": 5}
    return Config.model_validate({"smpp": {"links": [link]}, "sms": {"source_addr": "1234"},
                                  "ussd": {"service_codes": ["*123#"]}, **sections})


@pytest_twisted.async_yield_fixture
async def rig(sqlite_database):
    harness = await make_harness(sqlite_database)
    await harness.add_roamer(roamer())
    await harness.add_roamer(roamer("+33611111111", language="fr"))
    port = free_port()
    peer = await start_peer([sys.executable, str(PEER), str(port)])
    outbox = OutboxStore(sqlite_database)
    messaging = build_messaging(config(port), db=sqlite_database, engine=harness.engine,
                                directory=harness.engine._decider.directory, charging=harness.charging,
                                outbox=outbox, runtime=harness.runtime, reactor=reactor)
    dispatcher = OutboxDispatcher(outbox, messaging.notifier, harness.runtime, reactor, poll_seconds=0.02,
                                  retry_delays_seconds=[1.0], max_attempts=3)
    dispatcher.startService()
    messaging.startService()
    try:
        await wait_until(lambda: messaging.links["smsc"].bound, what="bind")
        yield Rig(peer, harness, messaging, outbox)
    finally:
        await messaging.stopService()
        await dispatcher.stopService()
        await peer.stop()
        await harness.until(lambda: harness.engine.live_count == 0, timeout=20)


@pytest_twisted.ensureDeferred
async def test_callback_by_sms_is_acknowledged_only_after_the_row_is_committed(rig):
    inbound = rig.messaging.handler.inbound
    real_accept = inbound.accept
    gate: defer.Deferred[None] = defer.Deferred()
    entered: list[str] = []

    async def held(message, at):
        entered.append(message.text)
        await gate  # the commit has not happened yet
        return await real_accept(message, at)

    inbound.accept = held
    rig.deliver("cb", "CB +4915112345678")
    await wait_until(lambda: entered, what="handler entered")
    await _quiet(0.3)
    assert not any(line.startswith("DELIVER_RESP") for line in rig.peer.lines)  # no ack before the commit
    gate.callback(None)
    assert await rig.status("cb") == 0
    rows = await rig.harness.db.read(lambda c: list(c.execute(sa.select(inbound_messages))))
    assert [(r.source, r.body) for r in rows] == [(ALICE, "CB +4915112345678")]
    reply = (await rig.texts(1))[0]  # the call summary may follow: the simulated call is fast
    assert reply.startswith("Call-back accepted")
    submit = rig.submits()[0]
    assert (submit["source_addr"], submit["registered_delivery"], submit["dest_addr_ton"]) == ("1234", 1, 1)
    await wait_until(lambda: rig.messaging.handler.processed == 1, what="handled")
    [row] = await rig.harness.db.read(lambda c: list(c.execute(sa.select(inbound_messages))))
    assert row.state == "handled"


@pytest_twisted.ensureDeferred
async def test_a_resend_is_acknowledged_but_run_once_and_a_failed_store_asks_for_a_retry(rig):
    rig.deliver("one", "HELP")
    assert await rig.status("one") == 0
    rig.deliver("again", "HELP")
    assert await rig.status("again") == 0
    inbound = rig.messaging.handler.inbound

    async def broken(message, at):
        raise sa.exc.OperationalError("INSERT", {}, Exception("disk I/O error"))

    inbound.accept = broken
    rig.deliver("lost", "BAL")
    assert await rig.status("lost") == 0x64  # ESME_RX_T_APPN: the SMSC keeps it and delivers again
    await rig.texts(1)
    await _quiet(0.3)
    assert len(rig.submits()) == 1


@pytest_twisted.ensureDeferred
async def test_unknown_command_gets_help_in_the_subscribers_language_and_bal_the_balance(rig):
    rig.deliver("x", "BONJOUR", source="+33611111111")
    [help_text] = await rig.texts(1, to="+33611111111")
    assert help_text.startswith("Rappel : composez")
    rig.deliver("bal", "BAL")
    [balance] = await rig.texts(1)
    assert balance == "Your balance is 10.00 EUR."


@pytest_twisted.ensureDeferred
async def test_reg_sends_a_code_to_the_number_and_code_confirms_it(rig):
    hotel = "+34911234567"
    rig.deliver("reg", "REG +34 911 234 567")
    [to_hotel] = await rig.texts(1, to=hotel)
    code = to_hotel.split("code: ")[1][:6]
    [sent] = await rig.texts(1)
    assert sent.startswith(f"We sent a code to {hotel}")
    rig.deliver("code", f"CODE {code}")
    texts = await rig.texts(2)
    assert texts[1] == f"{hotel} is registered: we can now call you back on it."
    assert await rig.harness.store.confirmed_numbers(ALICE) == frozenset({hotel})


@pytest_twisted.ensureDeferred
async def test_ussd_one_shot_closes_the_dialogue_with_the_engines_answer(rig):
    tlvs = [[USSD_OP, "01"], [SESSION, "2a02"]]
    rig.deliver("ussd", "*123*004915112345678#", service_type="USSD", tlvs=tlvs)
    assert await rig.status("ussd") == 0
    text = (await rig.texts(1))[0]
    assert text.startswith("Call-back accepted")
    reply = rig.submits()[0]
    assert reply["service_type"] == "USSD" and reply["data_coding"] == 0x0F
    assert reply["tlvs"][str(USSD_OP)] == "11"  # PSSR response: closes
    assert reply["tlvs"][str(SESSION)] == "2a03"  # session echoed, end bit set
    assert rig.messaging.ussd.table.counts.closed == 1


@pytest_twisted.ensureDeferred
async def test_ussd_continue_of_an_unknown_dialogue_is_closed_as_expired(rig):
    rig.deliver("late", "1", service_type="USSD", source="+33611111111", tlvs=[[USSD_OP, "12"], [SESSION, "0702"]])
    [text] = await rig.texts(1, to="+33611111111")
    assert text == "Votre session a expiré. Veuillez recomposer."


@pytest_twisted.ensureDeferred
async def test_a_delivery_receipt_marks_the_notice_delivered(rig):
    rig.deliver("help", "HELP")
    await rig.texts(1)
    await wait_until(lambda: _sent(rig), what="notice marked sent")
    receipt = b"id:peer-1 sub:001 dlvrd:001 submit date:2503011200 done date:2503011201 stat:DELIVRD err:000"
    rig.deliver("dlr", receipt, esm_class=0x04, source=ALICE)
    assert await rig.status("dlr") == 0
    [row] = await rig.harness.db.read(lambda c: list(c.execute(sa.select(notice_outbox))))
    assert (row.message_id, row.state, row.delivery_state) == ("peer-1", "delivered", "DELIVRD")


def _sent(rig: Rig) -> bool:
    engine = rig.harness.db.engine
    with engine.connect() as conn:
        return conn.execute(sa.select(notice_outbox.c.state)).scalar() == "sent"


def _quiet(seconds: float) -> defer.Deferred[None]:
    return deferLater(reactor, seconds, lambda: None)
