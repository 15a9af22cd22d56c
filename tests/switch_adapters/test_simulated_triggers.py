"""Switch-side triggers on the simulated switch: a phone calls the service, the same dialogues as on
Asterisk decide, and a real engine (SQL store, ledger, SQL trigger accounts) calls back on the same switch."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
import pytest_twisted
import sqlalchemy as sa
from twisted.internet import reactor, task
from twisted.logger import globalLogPublisher

from roamback.core.model import CallbackRequest, Channel, Leg, LegEvent, LegEventKind
from roamback.core.reasons import HangupCause
from roamback.core.states import RequestState
from roamback.gateway.switch_triggers import (
    MemoryTriggerAccounts,
    PersonalDid,
    SimulatedTriggerDoor,
    TriggerSettings,
)
from roamback.runtime import TwistedRuntime
from roamback.storage.pool import Database
from roamback.storage.schema import subscribers
from roamback.storage.trigger_accounts import SqlTriggerAccounts, set_default_destination
from roamback.switch_adapters.simulated import InboundCall, SimulatedSwitch
from roamback.ussd_menus.pins import hash_pin

from ..core.harness import ALICE, DEST_OK, Harness, make_harness, roamer

ACCESS, PIN_LINE, DID = "+33170000123", "+33170000124", "+33170000199"
HOTEL = "+34911234567"  # a phone that is not the subscriber's
SPANISH_SIM = "+34600000001"  # a number Alice registered and confirmed
PIN = "4321"
SETTINGS = TriggerSettings(
    missed_call_numbers=[ACCESS], pin_numbers=[PIN_LINE],
    personal_dids=[PersonalDid(did=DID, subscriber=ALICE, callback_number=SPANISH_SIM)],
)


@dataclass
class Stack:
    h: Harness
    calls: list[InboundCall]
    leg_a_dialled_while: list[HangupCause | None]
    """For each leg A dialled: how the latest trigger call had ended by then (None: it was still ringing)."""

    def dial(self, caller: str, dialled: str) -> InboundCall:
        self.calls.append(self.h.switch.incoming_call(caller, dialled))
        return self.calls[-1]

    async def request_of(self, channel: Channel, call: InboundCall) -> CallbackRequest | None:
        return await self.h.store.find_by_reference(channel.value, call.call_id)

    async def finished(self, channel: Channel, call: InboundCall) -> CallbackRequest:
        for _ in range(500):
            request = await self.request_of(channel, call)
            if request is not None and request.state.terminal and not self.h.engine.is_live(request.id):
                return request
            await task.deferLater(reactor, 0.01, lambda: None)
        raise AssertionError(f"no finished request for {call.call_id}")


@pytest_twisted.async_yield_fixture
async def stack(sqlite_database: Database) -> AsyncIterator[Stack]:
    h = await make_harness(sqlite_database)
    await h.add_roamer(roamer())
    await h.register(ALICE, SPANISH_SIM)

    def provision(conn: sa.Connection) -> None:
        set_default_destination(conn, ALICE, DEST_OK)
        conn.execute(subscribers.update().where(subscribers.c.msisdn == ALICE).values(pin_hash=hash_pin(PIN)))

    await sqlite_database.write(provision)
    door = SimulatedTriggerDoor(settings=SETTINGS, engine=h.engine, home_region="FR", runtime=h.runtime,
                                accounts=SqlTriggerAccounts(sqlite_database, clock=h.runtime.now,
                                                            dids=SETTINGS.personal_dids))
    h.switch.subscribe_inbound(door.call)
    door.startService()
    stack = Stack(h, [], [])

    def on_leg(event: LegEvent) -> None:
        if event.kind is LegEventKind.DIALLING and event.leg is Leg.A:
            stack.leg_a_dialled_while.append(stack.calls[-1].end_cause)

    h.switch.subscribe(on_leg)
    yield stack
    door.stopService()


@pytest_twisted.ensureDeferred
async def test_a_missed_call_is_rejected_busy_before_leg_a_is_dialled_then_called_back(stack: Stack) -> None:
    call = stack.dial("0612345678", "0170000123")  # national formats, as a trunk may send

    request = await stack.finished(Channel.MISSED_CALL, call)
    assert (call.end_cause, call.answered, call.heard) == (HangupCause.BUSY, False, [])
    assert (request.requester, request.callback_number, request.destination) == (ALICE, ALICE, DEST_OK)
    assert request.state is RequestState.COMPLETED
    # The caller's phone was free before the call-back rang it: otherwise leg A would have found it busy.
    assert stack.leg_a_dialled_while == [HangupCause.BUSY]


@pytest_twisted.ensureDeferred
async def test_an_unknown_caller_is_rejected_busy_and_nothing_is_requested(stack: Stack) -> None:
    call = stack.dial(HOTEL, ACCESS)

    await stack.h.until(lambda: call.end_cause is not None)
    assert (call.end_cause, call.answered) == (HangupCause.BUSY, False)
    assert await stack.request_of(Channel.MISSED_CALL, call) is None, "no request, so no SMS to a spoofed number"
    assert await stack.h.switch.live_calls() == set()
    assert stack.leg_a_dialled_while == []


@pytest_twisted.ensureDeferred
async def test_a_personal_did_calls_its_owner_back_on_the_registered_number_from_any_phone(stack: Stack) -> None:
    call = stack.dial(HOTEL, DID)

    request = await stack.finished(Channel.MISSED_CALL, call)
    assert (call.end_cause, call.answered) == (HangupCause.BUSY, False)
    assert (request.requester, request.callback_number, request.destination) == (ALICE, SPANISH_SIM, DEST_OK)
    assert request.state is RequestState.COMPLETED
    assert [(cdr.leg, cdr.dialled) for cdr in await stack.h.cdrs(request.id)] == [("A", SPANISH_SIM),
                                                                                   ("B", DEST_OK)]


@pytest_twisted.ensureDeferred
async def test_a_pin_login_is_answered_and_the_whole_entry_may_be_keyed_ahead(stack: Stack) -> None:
    sounds = SETTINGS.sounds
    call = stack.dial(HOTEL, PIN_LINE)
    await stack.h.until(lambda: call.heard == [sounds.enter_msisdn])
    call.press(f"0612345678#{PIN}#")

    request = await stack.finished(Channel.IVR, call)
    assert (call.end_cause, call.answered) == (HangupCause.NORMAL, True)
    assert call.heard == [sounds.enter_msisdn, sounds.enter_pin, sounds.accepted]
    assert (request.requester, request.callback_number, request.destination) == (ALICE, ALICE, DEST_OK)
    assert request.state is RequestState.COMPLETED


@pytest_twisted.ensureDeferred
async def test_a_silent_caller_is_asked_again_then_hung_up_on_without_a_request(stack: Stack) -> None:
    sounds = SETTINGS.sounds
    call = stack.dial(HOTEL, PIN_LINE)

    await stack.h.until(lambda: call.end_cause is not None)  # no digit ever: every entry times out
    assert call.end_cause is HangupCause.NORMAL
    assert call.heard == [sounds.enter_msisdn, sounds.enter_pin, sounds.wrong_pin] * SETTINGS.max_attempts + [
        sounds.goodbye]
    assert await stack.request_of(Channel.IVR, call) is None


@pytest.fixture
def logged() -> Iterator[list[dict]]:
    events: list[dict] = []
    globalLogPublisher.addObserver(events.append)
    yield events
    globalLogPublisher.removeObserver(events.append)


@pytest_twisted.ensureDeferred
async def test_a_caller_who_hangs_up_during_the_dialogue_ends_it_without_a_request(
    stack: Stack, logged: list[dict]
) -> None:
    sounds = SETTINGS.sounds
    call = stack.dial(HOTEL, PIN_LINE)
    await stack.h.until(lambda: call.heard == [sounds.enter_msisdn])
    call.press("0612345678#")
    await stack.h.until(lambda: call.heard == [sounds.enter_msisdn, sounds.enter_pin])
    call.leave()

    left = [e for e in logged if e.get("log_format", "").startswith("Caller left") and e.get("channel") == call.call_id]
    assert len(left) == 1, "the door noticed at once, not when the PIN entry timed out"
    await task.deferLater(reactor, 0.2, lambda: None)  # 40 simulated seconds: past every entry's timeout
    assert (call.end_cause, call.heard) == (HangupCause.NORMAL, [sounds.enter_msisdn, sounds.enter_pin])
    assert await stack.request_of(Channel.IVR, call) is None


def test_without_a_door_or_with_a_stopped_one_a_call_is_refused_unanswered() -> None:
    clock = task.Clock()
    switch = SimulatedSwitch(TwistedRuntime(clock))
    nobody = switch.incoming_call(ALICE, ACCESS)
    clock.advance(0)
    assert (nobody.end_cause, nobody.answered) == (HangupCause.UNALLOCATED, False)

    door = SimulatedTriggerDoor(settings=SETTINGS, engine=_NoEngine(), home_region="FR",
                                runtime=TwistedRuntime(clock), accounts=MemoryTriggerAccounts(destinations={}))
    switch.subscribe_inbound(door.call)
    stopped = switch.incoming_call(ALICE, ACCESS)
    clock.advance(0)
    assert (stopped.end_cause, stopped.answered) == (HangupCause.CONGESTION, False)


class _NoEngine:
    async def submit(self, trigger: object) -> object:
        raise AssertionError("a door that is not running must not submit")

    def add_listener(self, listener: object) -> None:
        pass
