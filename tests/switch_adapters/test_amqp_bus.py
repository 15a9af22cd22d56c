"""The AMQP switch bus against the real RabbitMQ on this machine (CI=true: an absent broker fails)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import threads
from twisted.internet.defer import Deferred

from roamback.core.model import Leg, LegEvent, LegEventKind
from roamback.core.reasons import HangupCause
from roamback.switch_adapters.amqp_bus import AmqpBusSettings, AmqpSwitchBus, BadMessage, decode_event, encode_event

from .amqp_switch import COMMAND_SCHEMA, BlockingSwitch, rabbitmqctl, require_broker
from .ari_harness import make_plan, the_reactor

K, A, B = LegEventKind, Leg.A, Leg.B
T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


def call_events(call_id: str = "c1") -> list[LegEvent]:
    steps = [(K.DIALLING, A, None), (K.ANSWERED, A, None), (K.DIALLING, B, None), (K.ANSWERED, B, None),
             (K.BRIDGED, None, None), (K.ENDED, B, HangupCause.NORMAL), (K.ENDED, A, HangupCause.NORMAL),
             (K.CALL_ENDED, None, None)]
    return [LegEvent(call_id, kind, T0 + timedelta(seconds=3 * i), leg, cause)
            for i, (kind, leg, cause) in enumerate(steps)]


def wire(events: list[LegEvent]) -> list[dict[str, Any]]:
    return [encode_event(event, f"{event.call_id}-{i}") for i, event in enumerate(events)]


class Bus:
    """The adapter under test and every event it handed on; ``until`` waits for the n-th."""

    def __init__(self, settings: AmqpBusSettings) -> None:
        self.settings = settings
        self.events: list[LegEvent] = []
        self._waiters: list[tuple[int, Deferred[None]]] = []
        self.adapter = self.new_adapter()

    def new_adapter(self) -> AmqpSwitchBus:
        adapter = AmqpSwitchBus(the_reactor(), self.settings)
        adapter.subscribe(self._on_event)
        adapter.startService()
        return adapter

    def _on_event(self, event: LegEvent) -> None:
        self.events.append(event)
        for count, waiter in list(self._waiters):
            if len(self.events) >= count:
                self._waiters.remove((count, waiter))
                waiter.callback(None)

    async def until(self, count: int) -> None:
        if len(self.events) < count:
            waiter: Deferred[None] = Deferred()
            self._waiters.append((count, waiter))
            await waiter.addTimeout(20, the_reactor())


@pytest.fixture
def switch() -> Iterator[BlockingSwitch]:
    require_broker()
    tag = uuid.uuid4().hex[:8]
    peer = BlockingSwitch(f"rbtest.{tag}.commands", f"rbtest.{tag}.events")
    yield peer
    peer.delete_queues()


@pytest_twisted.async_yield_fixture
async def bus(switch: BlockingSwitch) -> AsyncIterator[Bus]:
    settings = AmqpBusSettings(command_queue=switch.command_queue, event_queue=switch.event_queue,
                               publish_timeout=30.0, reconnect_max_seconds=0.5)
    harness = Bus(settings)
    await harness.adapter.hangup("warm-up")  # returns once connected, queues declared, command confirmed
    await threads.deferToThread(switch.take_command)
    yield harness
    await harness.adapter.stopService()


@pytest_twisted.ensureDeferred
async def test_commands_and_events_round_trip_as_documented(bus: Bus, switch: BlockingSwitch) -> None:
    plan = make_plan()
    await bus.adapter.originate(plan)
    command, redelivered = await threads.deferToThread(switch.take_command)
    assert not redelivered
    assert command["type"] == "originate" and command["call_id"] == "c1"
    assert command["plan"]["leg_b_caller_id"] == plan.leg_b_caller_id == "+33612345678"
    assert command["plan"]["prompt"] == {"language": "fr", "max_seconds": 600, "balance_minor": 1250,
                                         "currency": "EUR"}
    assert await bus.adapter.live_calls() == {"c1"}

    await threads.deferToThread(switch.publish, *wire(call_events()))
    await bus.until(8)
    assert bus.events == call_events()
    assert await bus.adapter.live_calls() == set()

    await bus.adapter.hangup("c1")
    hangup, _ = await threads.deferToThread(switch.take_command)
    assert (hangup["type"], hangup["call_id"]) == ("hangup", "c1") and "plan" not in hangup


@pytest_twisted.ensureDeferred
async def test_set_limits_is_a_documented_command(bus: Bus, switch: BlockingSwitch) -> None:
    await bus.adapter.set_limits("c1", 150, 120)
    command, _ = await threads.deferToThread(switch.take_command)  # checked against command.schema.json
    assert (command["type"], command["call_id"]) == ("set_limits", "c1") and "plan" not in command
    assert command["limits"] == {"leg_a_limit": 150, "leg_b_limit": 120}
    assert not COMMAND_SCHEMA.is_valid({**command, "type": "hangup"})  # limits belong to set_limits only


@pytest_twisted.ensureDeferred
async def test_malformed_events_are_rejected_and_redeliveries_dropped(bus: Bus, switch: BlockingSwitch) -> None:
    events = wire(call_events()[:2])
    bad_leg = {**events[0], "event_id": "bad", "leg": None}  # a DIALLING event must name its leg
    await threads.deferToThread(switch.publish, b"{not json", events[0], events[0], events[1])
    await threads.deferToThread(switch.publish, events[1])
    await bus.until(2)
    with pytest.raises(BadMessage):
        decode_event(json.dumps(bad_leg).encode())

    await threads.deferToThread(switch.publish, wire(call_events("c2"))[0])
    await bus.until(3)  # the queue kept flowing past the poison message and the duplicates
    assert [e.kind for e in bus.events] == [K.DIALLING, K.ANSWERED, K.DIALLING]
    assert await threads.deferToThread(switch.depth, switch.event_queue) == 0


@pytest_twisted.ensureDeferred
async def test_a_command_the_switch_never_acked_is_delivered_again(bus: Bus, switch: BlockingSwitch) -> None:
    await bus.adapter.originate(make_plan())
    first, redelivered_first = await threads.deferToThread(switch.take_command, ack=False)
    again, redelivered_again = await threads.deferToThread(switch.take_command)
    assert first == again
    assert (redelivered_first, redelivered_again) == (False, True)


@pytest_twisted.ensureDeferred
async def test_broker_restart_mid_call_loses_no_event_and_no_command(bus: Bus, switch: BlockingSwitch) -> None:
    await bus.adapter.originate(make_plan())
    await threads.deferToThread(switch.take_command)
    events = wire(call_events())
    await threads.deferToThread(switch.publish, *events[:2])
    await bus.until(2)

    await bus.adapter.stopService()  # the service is down: BRIDGED and B's answer wait in the durable queue
    await threads.deferToThread(switch.publish, events[2], events[3])
    await threads.deferToThread(rabbitmqctl, "stop_app")
    bus.adapter = bus.new_adapter()  # a new process, started while the broker is down
    hangup = Deferred.fromCoroutine(bus.adapter.hangup("c1"))
    await threads.deferToThread(rabbitmqctl, "start_app")
    await hangup  # confirmed once the adapter reconnected
    await bus.until(4)

    await threads.deferToThread(rabbitmqctl, "close_all_connections", "test: connection lost mid-call")
    await threads.deferToThread(switch.publish, *events[4:])
    await bus.until(8)

    assert bus.events == call_events()  # each event exactly once, in order
    command, _ = await threads.deferToThread(switch.take_command)
    assert (command["type"], command["call_id"]) == ("hangup", "c1")
