"""The default menu through real SMPP, in every dialect preset: smpp34's own Server (an SMSC/USSD centre we
did not write, in its own process) delivers the handset's dials and answers, our link and USSD glue key the
dialogue the dialect's way, the menu engine runs on the real core (SQLite, ledger, simulated switch), and the
replies come back as submit_sm with the dialect's op codes. A phone book entry is added, called by position
with the one-shot ``*123*1#``, the balance shown, and the call-back placed from the menu."""

from __future__ import annotations

import json
import sys

import pytest
import pytest_twisted
import smpp34
from twisted.internet import reactor

from roamback.core.states import RequestState
from roamback.gateway.mobile import build_messaging
from roamback.gateway.sms import decode
from roamback.gateway.ussd import PRESETS
from roamback.storage.outbox import OutboxStore
from roamback.ussd_menus import CoreMenuActions, MemoryStore, MenuEngine, MenuSettings, default_menu_path, load_menu

from ..core.harness import ALICE, DEST_OK, make_harness, roamer
from ..gateway.mobile.test_end_to_end import PEER, config
from ..gateway.smpp.peers import free_port, start_peer, wait_until

USSD_OP = smpp34.TLV_USSD_SERVICE_OP
SESSION = smpp34.TLV_ITS_SESSION_INFO
REFERENCE = smpp34.TLV_USER_MESSAGE_REFERENCE


class Handset:
    """One subscriber's USSD dialogue, spoken in ``dialect``'s op codes through the scripted centre."""

    def __init__(self, peer, dialect: str) -> None:
        self.peer = peer
        self.dialect = PRESETS[dialect]
        self.session = 0x10
        self.sequence = 0
        self.sent = 0

    def _deliver(self, text: str, op: int) -> None:
        self.sent += 1
        tlvs = [[USSD_OP, f"{op:02x}"], [SESSION, f"{self.session:02x}{self.sequence << 1:02x}"]]
        if self.dialect.dialogue_key.value == "user_message_reference":
            tlvs.append([REFERENCE, f"{self.session:04x}"])
        command = {"tag": f"m{self.sent}", "deliver": {
            "source_addr": ALICE.removeprefix("+"), "source_addr_ton": 1, "destination_addr": "123",
            "service_type": "USSD", "short_message": text.encode().hex(), "tlvs": tlvs}}
        self.peer.transport.write((json.dumps(command) + "\n").encode())

    async def dial(self, text: str) -> dict:
        self.session += 1
        self.sequence = 0
        self._deliver(text, self.dialect.begin_ops[0])
        return await self._reply()

    async def answer(self, text: str) -> dict:
        self.sequence += 1
        self._deliver(text, self.dialect.continue_ops[0])
        return await self._reply()

    async def _reply(self) -> dict:
        expected = self.sent
        await wait_until(lambda: len(self._submits()) >= expected, what=f"reply {expected}")
        submit = self._submits()[expected - 1]
        submit["text"] = decode(bytes.fromhex(submit["short_message"]), submit["data_coding"])
        op = int(submit["tlvs"][str(USSD_OP)], 16)
        end_bit = bool(int(submit["tlvs"].get(str(SESSION), "0000")[2:], 16) & 1)
        if self.dialect.close_strategy.value == "end_bit":
            submit["closed"] = end_bit
        else:
            assert op in (self.dialect.continue_op, self.dialect.close_op), op
            submit["closed"] = op == self.dialect.close_op
        return submit

    def _submits(self) -> list[dict]:
        return [json.loads(line.split(" ", 1)[1]) for line in self.peer.lines if line.startswith("SUBMIT ")]


@pytest.mark.parametrize("dialect", sorted(PRESETS))
@pytest_twisted.ensureDeferred
async def test_default_menu_walked_over_smpp(sqlite_database, dialect: str) -> None:
    harness = await make_harness(sqlite_database)
    await harness.add_roamer(roamer())
    cfg = config(free_port(), ussd={"service_codes": ["*123#"], "dialect": dialect})
    port = int(cfg.smpp.links[0].endpoint.rsplit("=", 1)[1])
    peer = await start_peer([sys.executable, str(PEER), str(port)])
    menu = MenuEngine(load_menu(default_menu_path()), store=MemoryStore(), catalog=harness.engine.catalog,
                      actions=CoreMenuActions(engine=harness.engine, db=sqlite_database,
                                              directory=harness.engine._decider.directory,
                                              charging=harness.charging, now=harness.runtime.now),
                      settings=MenuSettings.from_ussd(cfg.ussd), clock=reactor.seconds)
    messaging = build_messaging(cfg, db=sqlite_database, engine=harness.engine,
                                directory=harness.engine._decider.directory, charging=harness.charging,
                                outbox=OutboxStore(sqlite_database),
                                runtime=harness.runtime, reactor=reactor, menu=menu)
    messaging.startService()
    try:
        await wait_until(lambda: messaging.links["smsc"].bound, what="bind")
        phone = Handset(peer, dialect)

        main = await phone.dial("*123#")
        assert not main["closed"] and "1 Call back a number" in main["text"] and "4 Balance" in main["text"]
        assert not (await phone.answer("2"))["closed"]  # phone book
        assert not (await phone.answer("2"))["closed"]  # add an entry: its name
        assert not (await phone.answer("Mum"))["closed"]
        saved = await phone.answer(DEST_OK)
        assert saved["closed"] and saved["text"] == "Saved as entry 1.", saved

        balance = await phone.dial("*123#")
        assert not balance["closed"]
        shown = await phone.answer("4")
        assert shown["closed"] and "balance" in shown["text"].lower(), shown

        called = await phone.dial("*123*1#")  # phone book position 1, one-shot
        assert called["closed"] and called["text"].startswith("Call-back accepted."), called
        await harness.until(lambda: harness.engine.live_count == 0, timeout=20)
        requests = await harness.store.unfinished()
        assert requests == []
        rows = await sqlite_database.read(lambda conn: conn.exec_driver_sql(
            "SELECT state, destination, channel FROM callback_requests").all())
        assert [tuple(row) for row in rows] == [(RequestState.COMPLETED.value, DEST_OK, "ussd")]
    finally:
        await messaging.stopService()
        await peer.stop()
