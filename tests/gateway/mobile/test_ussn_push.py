"""Call-back outcomes pushed as USSN over real SMPP to simnet, and every way back to SMS.

The service side is the real one (``build_messaging`` on SQLite, the outbox dispatcher sending what is
queued); the USSD centre and SMSC are simnet on loopback TCP, speaking the same dialect as the service.
A handset is "on" when something watches it (here the test's event list), as a phone attached to simnet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import pytest_twisted
import sqlalchemy as sa
from twisted.internet import reactor
from twisted.internet.endpoints import TCP4ServerEndpoint

from roamback.config import Config
from roamback.core.model import Notice
from roamback.gateway.mobile import Messaging, SmppNotifier, build_messaging
from roamback.gateway.mobile.ussn_notifier import UssnNotifier
from roamback.gateway.outbox_dispatcher import OutboxDispatcher
from roamback.runtime import TwistedRuntime
from roamback.simnet import SimNetwork, parse_config
from roamback.simnet.handsets import HandsetEvent, SmsReceived, UssdScreen
from roamback.storage.directory import TableDirectory
from roamback.storage.outbox import OutboxStore
from roamback.storage.schema import notice_outbox

from ...core.harness import make_harness
from ..smpp.peers import free_port, wait_until

pytestmark = pytest.mark.timeout(60)

ROAMER = "+447700900001"
BUSY = "Number busy, we will retry in 1 min"


@dataclass
class Rig:
    network: SimNetwork
    messaging: Messaging
    outbox: OutboxStore
    db: Any
    runtime: TwistedRuntime

    def watch(self, msisdn: str = ROAMER) -> list[HandsetEvent]:
        """Switch the handset on: from now on it can show a push, and the test sees what it shows."""
        events: list[HandsetEvent] = []
        self.network.handsets.get(msisdn).listeners.append(events.append)
        return events

    def inbox(self, msisdn: str = ROAMER) -> list[str]:
        return [message.text for message in self.network.handsets.get(msisdn).inbox]

    async def queue(self, text: str, request_id: str | None = "req-1", msisdn: str = ROAMER) -> int:
        return await self.outbox.queue(Notice(request_id, msisdn, "en", "callback.busy_retry", text),
                                       self.runtime.now())

    async def sent(self, notice_id: int) -> Any:
        """The outbox row once the dispatcher has handed it to the network."""
        query = sa.select(notice_outbox).where(notice_outbox.c.id == notice_id)

        def row() -> Any:
            with self.db.engine.connect() as conn:
                return conn.execute(query).one()

        await wait_until(lambda: row().state in ("sent", "delivered"), 10.0, f"notice {notice_id} sent")
        return row()


async def run(db: Any, *, dialect: str, push: bool, test: Any) -> None:
    harness = await make_harness(db)
    runtime = TwistedRuntime(reactor)
    network = SimNetwork(parse_config({"ussd": {"dialect": dialect}, "sms": {"receipt_delay_seconds": 0.05}}),
                         reactor)
    port_number = free_port()
    port = await TCP4ServerEndpoint(reactor, port_number, interface="127.0.0.1").listen(network.factory)
    config = Config.model_validate({
        "smpp": {"links": [{"name": "simnet", "endpoint": f"tcp:host=127.0.0.1:port={port_number}",
                            "system_id": "roamback", "password": "simnet", "role": "both"}]},
        "sms": {"source_addr": "1234"},
        "ussd": {"service_codes": ["*123#"], "dialect": dialect, "push_via_ussn": push},
    })
    outbox = OutboxStore(db)
    messaging = build_messaging(config, db=db, engine=harness.engine, directory=TableDirectory(db),
                                charging=harness.charging, outbox=outbox, runtime=runtime, reactor=reactor)
    dispatcher = OutboxDispatcher(outbox, messaging.notifier, runtime, reactor, poll_seconds=0.02,
                                  retry_delays_seconds=[0.2], max_attempts=3)
    messaging.startService()
    dispatcher.startService()
    try:
        await wait_until(lambda: messaging.links["simnet"].bound, 5.0, "the bind")
        await test(Rig(network, messaging, outbox, db, runtime))
    finally:
        await dispatcher.stopService()
        await messaging.stopService()
        await port.stopListening()
        await network.stop()
        await harness.until(lambda: harness.engine.live_count == 0, timeout=10)


@pytest_twisted.ensureDeferred
async def test_an_outcome_is_pushed_to_the_handset_and_only_fitting_outcomes_are(sqlite_database):
    async def test(rig: Rig) -> None:
        assert isinstance(rig.messaging.notifier, UssnNotifier)
        events = rig.watch()
        pushed = await rig.sent(await rig.queue(BUSY))
        assert events == [UssdScreen(BUSY, open=False)]
        assert pushed.message_id.startswith("ussn:") and rig.inbox() == []
        # Longer than one USSD page (182 GSM characters): USSD cannot concatenate, so SMS from the start.
        long_text = "Call-back to +4915112345678 ended after 3 attempts: " + "the line was busy each time. " * 6
        await rig.sent(await rig.queue(long_text))
        await wait_until(lambda: rig.inbox() == [long_text], 5.0, "the long outcome as SMS")
        # A reply to an SMS command (no request) is answered where it was asked: by SMS.
        await rig.sent(await rig.queue("Your balance is 4.20 EUR", request_id=None))
        await wait_until(lambda: len(rig.inbox()) == 2, 5.0, "the command reply as SMS")
        assert [event for event in events if isinstance(event, UssdScreen)] == [UssdScreen(BUSY, open=False)]
        assert (rig.messaging.notifier.pushed, rig.messaging.notifier.fell_back) == (1, 0)

    await run(sqlite_database, dialect="smpp34", push=True, test=test)


@pytest_twisted.ensureDeferred
async def test_a_push_the_centre_refuses_goes_by_sms_at_once(sqlite_database):
    async def test(rig: Rig) -> None:
        # Nobody watches the handset: it is off, the centre refuses the push, and the SMS waits in the inbox.
        row = await rig.sent(await rig.queue(BUSY))
        await wait_until(lambda: rig.inbox() == [BUSY], 5.0, "the outcome as SMS")
        assert not row.message_id.startswith("ussn:") and row.attempts == 1  # no outbox retry was needed
        assert (rig.messaging.notifier.pushed, rig.messaging.notifier.fell_back) == (0, 1)

    await run(sqlite_database, dialect="smpp34", push=True, test=test)


@pytest.mark.parametrize(("dialect", "push"), [("6d", True), ("smpp34", False)])
@pytest_twisted.ensureDeferred
async def test_without_a_ussn_op_or_the_setting_outcomes_go_by_sms(sqlite_database, dialect, push):
    async def test(rig: Rig) -> None:
        assert isinstance(rig.messaging.notifier, SmppNotifier)
        events = rig.watch()
        await rig.sent(await rig.queue(BUSY))
        await wait_until(lambda: rig.inbox() == [BUSY], 5.0, "the outcome as SMS")
        assert not [event for event in events if isinstance(event, UssdScreen)]
        assert [event.message.text for event in events if isinstance(event, SmsReceived)] == [BUSY]

    await run(sqlite_database, dialect=dialect, push=push, test=test)

