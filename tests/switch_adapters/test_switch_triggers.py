"""Switch-side triggers end to end: calls dialled into the strict fake Asterisk, through the ARI event
socket the callback adapter shares, into a real CallbackEngine (SQL store, ledger) that calls back over
the same fake. Pure parts (the DTMF entry) are checked on their own first."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import task
from twisted.logger import capturedLogs

from roamback.core.engine import CallbackEngine
from roamback.core.messages import MessageCatalog
from roamback.core.model import CallbackRequest, Channel
from roamback.core.ports import PortUnavailable
from roamback.core.states import RequestState
from roamback.gateway.switch_triggers import (
    MemoryTriggerAccounts,
    PersonalDid,
    SwitchTriggers,
    TriggerAccounts,
    TriggerSettings,
)
from roamback.gateway.switch_triggers._digits import DigitCollector, Entry, EntryRules
from roamback.ledger.accounts import create_account, seed_default_rates, top_up
from roamback.ledger.backend import LedgerCharging
from roamback.storage.directory import TableDirectory
from roamback.storage.pool import Database
from roamback.storage.provisioning import register_number, upsert_subscriber
from roamback.storage.requests import SqlRequestStore
from roamback.storage.schema import subscribers
from roamback.storage.trigger_accounts import MAX_PIN_FAILURES, SqlTriggerAccounts, set_default_destination
from roamback.ussd_menus.pins import hash_pin

from ..core.harness import ALICE, DEST_OK, default_dialling, default_policy, roamer
from .ari_harness import WAIT_SECONDS, AriHarness, the_reactor

ACCESS, PIN_LINE, IVR_LINE, DID = "+33140000001", "+33140000002", "+33140000003", "+33140000009"
HOTEL = "+34911234567"  # a phone that is not the subscriber's
SPANISH_SIM = "+34600000001"  # a number Alice registered and confirmed
PIN = "4321"
SETTINGS = TriggerSettings(
    missed_call_numbers=[ACCESS], pin_numbers=[PIN_LINE], ivr_numbers=[IVR_LINE],
    personal_dids=[PersonalDid(did=DID, subscriber=ALICE, callback_number=SPANISH_SIM)],
)
SOUNDS = SETTINGS.sounds


# -- the DTMF entry on its own ---------------------------------------------------------------------------

RULES = EntryRules(max_digits=4, first_digit_seconds=8.0, inter_digit_seconds=4.0)


def test_an_entry_ends_at_hash_at_the_length_limit_or_after_a_pause() -> None:
    collector = DigitCollector(RULES, now=0.0)
    assert [collector.press(d, 1.0) for d in "12#"] == [None, None, Entry("12")]
    collector = DigitCollector(RULES, now=0.0)
    assert [collector.press(d, 1.0) for d in "1234"] == [None, None, None, Entry("1234")]
    collector = DigitCollector(RULES, now=0.0)
    collector.press("9", 1.0)
    assert collector.expire(4.9) is None and collector.deadline == 5.0
    assert collector.expire(5.0) == Entry("9")


def test_star_starts_again_a_bare_hash_is_empty_and_silence_is_no_entry() -> None:
    collector = DigitCollector(RULES, now=0.0)
    assert [collector.press(d, 0.5) for d in "12*3#"][-1] == Entry("3")
    assert DigitCollector(RULES, now=0.0).press("#", 1.0) == Entry("")
    silent = DigitCollector(RULES, now=0.0)
    assert silent.expire(7.9) is None
    assert silent.expire(8.0) == Entry("", silent=True)


# -- end to end --------------------------------------------------------------------------------------------

@dataclass
class Stack:
    ari: AriHarness
    engine: CallbackEngine
    store: SqlRequestStore
    accounts: TriggerAccounts

    def prompts(self, channel_id: str) -> list[str]:
        return [params["media"].removeprefix("sound:") for method, path, params in self.ari.fake.requests
                if method == "POST" and path.startswith(f"channels/{channel_id}/play/")]

    async def prompted(self, channel_id: str, *sounds: str) -> None:
        await self.ari.eventually(lambda: self.prompts(channel_id) == list(sounds))

    async def heard(self, channel_id: str, count: int) -> None:
        await self.ari.eventually(lambda: len(self.prompts(channel_id)) >= count)

    async def hung_up(self, channel_id: str) -> int:
        await self.ari.eventually(lambda: channel_id in self.ari.fake.destroyed)
        return self.ari.fake.destroyed[channel_id]

    def answered(self, channel_id: str) -> bool:
        return bool(self.ari.requests("POST", f"channels/{channel_id}/answer"))

    async def request_of(self, channel: Channel, channel_id: str) -> CallbackRequest | None:
        return await self.store.find_by_reference(channel.value, channel_id)

    async def finished(self, channel: Channel, channel_id: str) -> CallbackRequest:
        """The request the call created, once the callback it started is over."""
        for _ in range(int(WAIT_SECONDS / 0.02)):
            request = await self.request_of(channel, channel_id)
            if request is not None and request.state.terminal and not self.engine.is_live(request.id):
                return request
            await _sleep(0.02)
        raise AssertionError(f"no finished request for {channel_id}")

    def originated(self, number: str) -> list[dict[str, str]]:
        endpoint = f"PJSIP/{number.removeprefix('+')}@trunk"
        return [params for method, path, params in self.ari.fake.requests
                if method == "POST" and path.startswith("channels/") and params.get("endpoint") == endpoint]


async def _sleep(seconds: float) -> None:
    await task.deferLater(the_reactor(), seconds)


@pytest.fixture
def sql_accounts() -> bool:
    """Parametrize as True for a test that needs what only the SQL accounts keep (the PIN lockout)."""
    return False


@pytest_twisted.async_yield_fixture
async def stack(sqlite_database: Database, sql_accounts: bool) -> AsyncIterator[Stack]:
    db = sqlite_database
    ari = AriHarness()
    switch = await ari.start()
    runtime = ari.runtime
    now = runtime.now()

    def provision(conn: Any) -> None:
        seed_default_rates(conn)
        upsert_subscriber(conn, roamer(), at=now)
        create_account(conn, f"acct{ALICE}", currency="EUR", at=now)
        top_up(conn, f"acct{ALICE}", 1000, at=now)
        register_number(conn, ALICE, SPANISH_SIM, confirmed=True, at=now)
        set_default_destination(conn, ALICE, DEST_OK)
        conn.execute(subscribers.update().where(subscribers.c.msisdn == ALICE).values(pin_hash=hash_pin(PIN)))

    await db.write(provision)
    ledger = LedgerCharging(db, now=runtime.now, currency="EUR", min_talk_seconds=60)
    await ledger.reload_rates()
    store = SqlRequestStore(db, clock=runtime.now)
    engine = CallbackEngine(
        runtime=runtime, store=store, directory=TableDirectory(db), charging=ledger, switch=switch,
        catalog=MessageCatalog.load(None, {}), policy=default_policy(), dialling=default_dialling(),
        home_region="FR", default_language="en",
    )
    accounts: TriggerAccounts = MemoryTriggerAccounts(
        destinations={ALICE: DEST_OK}, dids=SETTINGS.personal_dids, pin_hashes={ALICE: hash_pin(PIN)})
    if sql_accounts:  # the same facts, provisioned above
        accounts = SqlTriggerAccounts(db, clock=runtime.now, dids=SETTINGS.personal_dids)
    triggers = SwitchTriggers(the_reactor(), ari=ari.settings(), settings=SETTINGS, engine=engine,
                              accounts=accounts, home_region="FR", runtime=runtime)
    switch.subscribe_inbound(triggers.event)
    triggers.startService()
    ari.outcome(DEST_OK, talk=3.0)
    yield Stack(ari, engine, store, accounts)
    await triggers.stopService()
    await ari.stop()
    assert not ari.fake.channels, "a channel was left on the switch"
    assert not ari.fake.bridges, "a bridge was left on the switch"


@pytest_twisted.ensureDeferred
async def test_missed_call_is_rejected_busy_unanswered_then_called_back(stack: Stack) -> None:
    channel = stack.ari.fake.incoming_call("0033612345678", "0140000001")  # both as a trunk may send them

    assert await stack.hung_up(channel) == 17
    assert not stack.answered(channel), "a missed-call trigger must never be answered (it would be charged)"
    assert stack.ari.requests("DELETE", f"channels/{channel}") == [{"reason": "busy"}]
    request = await stack.finished(Channel.MISSED_CALL, channel)
    assert (request.channel, request.requester, request.callback_number, request.destination) == (
        Channel.MISSED_CALL, ALICE, ALICE, DEST_OK)
    assert request.state is RequestState.COMPLETED
    # The caller's phone was released before the callback rang it: otherwise leg A would find it busy.
    order = [path for method, path, _ in stack.ari.fake.requests if method in ("DELETE", "POST")]
    leg_a = f"channels/roamback-{request.id}.1-a"
    assert order.index(f"channels/{channel}") < order.index(leg_a)


@pytest.mark.parametrize("number", [ACCESS, IVR_LINE])
@pytest_twisted.ensureDeferred
async def test_an_unknown_caller_is_rejected_unanswered_and_nothing_is_requested(
    stack: Stack, number: str
) -> None:
    channel = stack.ari.fake.incoming_call(HOTEL, number)

    assert await stack.hung_up(channel) == 17
    assert not stack.answered(channel)
    for kind in (Channel.MISSED_CALL, Channel.IVR):
        assert await stack.request_of(kind, channel) is None, "no request, so no refusal SMS to a spoofed number"
    assert not [path for method, path, _ in stack.ari.fake.requests if path.startswith("channels/roamback-")]


@pytest_twisted.ensureDeferred
async def test_a_personal_did_calls_its_owner_back_on_the_registered_number_from_any_phone(stack: Stack) -> None:
    channel = stack.ari.fake.incoming_call(HOTEL, "s", args=(DID.removeprefix("+"),))  # dialled number as arg

    assert await stack.hung_up(channel) == 17
    assert not stack.answered(channel)
    request = await stack.finished(Channel.MISSED_CALL, channel)
    assert (request.requester, request.callback_number, request.destination) == (ALICE, SPANISH_SIM, DEST_OK)
    assert request.state is RequestState.COMPLETED
    assert stack.originated(SPANISH_SIM), "leg A rang the DID's registered number"
    assert not stack.originated(HOTEL), "the calling phone is never called back"


@pytest.mark.parametrize("sql_accounts", [False, True], ids=["memory", "sql"])
@pytest_twisted.ensureDeferred
async def test_pin_login_refuses_a_wrong_pin_accepts_the_right_one_and_remembers_the_caller(stack: Stack) -> None:
    fake = stack.ari.fake
    channel = fake.incoming_call(HOTEL, PIN_LINE)

    await stack.prompted(channel, SOUNDS.enter_msisdn)
    assert stack.answered(channel)
    fake.press(channel, "0612345678#")
    await stack.prompted(channel, SOUNDS.enter_msisdn, SOUNDS.enter_pin)
    fake.press(channel, "1111#")
    await stack.prompted(channel, SOUNDS.enter_msisdn, SOUNDS.enter_pin, SOUNDS.wrong_pin, SOUNDS.enter_msisdn)
    fake.press(channel, "0612345678#")
    await stack.prompted(channel, SOUNDS.enter_msisdn, SOUNDS.enter_pin, SOUNDS.wrong_pin, SOUNDS.enter_msisdn,
                         SOUNDS.enter_pin)
    fake.press(channel, PIN + "#")

    assert await stack.hung_up(channel) == 16
    assert stack.prompts(channel)[-1] == SOUNDS.accepted
    request = await stack.finished(Channel.IVR, channel)
    assert (request.requester, request.callback_number, request.destination) == (ALICE, ALICE, DEST_OK)
    assert request.state is RequestState.COMPLETED
    assert await stack.accounts.caller(HOTEL) == ALICE

    again = fake.incoming_call(HOTEL, PIN_LINE)  # the remembered caller ID needs no PIN and pays nothing
    assert await stack.hung_up(again) == 17
    assert not stack.answered(again)
    assert (await stack.finished(Channel.MISSED_CALL, again)).requester == ALICE


@pytest_twisted.ensureDeferred
async def test_pin_login_hangs_up_after_too_many_wrong_pins_without_a_request(stack: Stack) -> None:
    fake = stack.ari.fake
    channel = fake.incoming_call(HOTEL, PIN_LINE)
    for attempt in range(SETTINGS.max_attempts):
        await stack.heard(channel, 3 * attempt + 1)  # enter_msisdn (after wrong_pin from the 2nd on)
        fake.press(channel, "0612345678#")
        await stack.heard(channel, 3 * attempt + 2)  # enter_pin
        fake.press(channel, f"000{attempt}#")

    assert await stack.hung_up(channel) == 16
    assert stack.prompts(channel)[-2:] == [SOUNDS.wrong_pin, SOUNDS.goodbye]
    assert await stack.request_of(Channel.IVR, channel) is None
    assert await stack.accounts.caller(HOTEL) is None


@pytest.mark.parametrize("sql_accounts", [True])
@pytest_twisted.ensureDeferred
async def test_wrong_pins_on_two_calls_lock_the_pin_login_even_for_the_right_pin(stack: Stack) -> None:
    fake = stack.ari.fake
    first_call = [f"000{n}" for n in range(SETTINGS.max_attempts)]
    second_call = [f"111{n}" for n in range(MAX_PIN_FAILURES - SETTINGS.max_attempts)] + [PIN]
    for pins in (first_call, second_call):
        channel = fake.incoming_call(HOTEL, PIN_LINE)
        for attempt, pin in enumerate(pins):
            await stack.heard(channel, 3 * attempt + 1)  # enter_msisdn (after wrong_pin from the 2nd on)
            fake.press(channel, "0612345678#")
            await stack.heard(channel, 3 * attempt + 2)  # enter_pin
            fake.press(channel, f"{pin}#")
        assert await stack.hung_up(channel) == 16
        assert stack.prompts(channel)[-2:] == [SOUNDS.wrong_pin, SOUNDS.goodbye]
        assert await stack.request_of(Channel.IVR, channel) is None

    assert await stack.accounts.pin_locked(ALICE)
    assert await stack.accounts.caller(HOTEL) is None, "a refused login remembers nothing"


@pytest_twisted.ensureDeferred
async def test_ivr_asks_again_for_an_invalid_number_then_submits_the_request(stack: Stack) -> None:
    fake = stack.ari.fake
    channel = fake.incoming_call(ALICE, IVR_LINE)

    await stack.prompted(channel, SOUNDS.enter_callback_number)
    fake.press(channel, "#")  # this phone
    await stack.prompted(channel, SOUNDS.enter_callback_number, SOUNDS.enter_destination)
    fake.press(channel, "12#")
    await stack.prompted(channel, SOUNDS.enter_callback_number, SOUNDS.enter_destination, SOUNDS.invalid_number,
                         SOUNDS.enter_destination)
    fake.press(channel, "0049 151 12345678".replace(" ", ""), gap=0.1)  # no '#': the pause ends the entry

    assert await stack.hung_up(channel) == 16
    assert stack.prompts(channel)[-1] == SOUNDS.accepted
    request = await stack.finished(Channel.IVR, channel)
    assert (request.channel, request.requester, request.destination_raw, request.callback_raw) == (
        Channel.IVR, ALICE, "004915112345678", None)
    assert (request.destination, request.callback_number, request.state) == (DEST_OK, ALICE, RequestState.COMPLETED)


@pytest_twisted.ensureDeferred
async def test_a_caller_who_hangs_up_mid_dialogue_leaves_no_request(stack: Stack) -> None:
    fake = stack.ari.fake
    channel = fake.incoming_call(ALICE, IVR_LINE)
    await stack.prompted(channel, SOUNDS.enter_callback_number)
    with capturedLogs() as logged:
        fake.far_hangup(channel)
        # the dialogue stops on StasisEnd, not at the 8 s first-digit timeout
        await stack.ari.eventually(lambda: any("Caller left" in str(e.get("log_format")) for e in logged))
    assert await stack.request_of(Channel.IVR, channel) is None
    assert not [path for method, path, _ in fake.requests if path.startswith("channels/roamback-")]


@pytest_twisted.ensureDeferred
async def test_a_trigger_the_core_cannot_store_is_rejected_congestion_so_the_caller_retries(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def database_down(*args: Any, **kwargs: Any) -> None:
        raise PortUnavailable("database down")

    monkeypatch.setattr(stack.store, "create", database_down)
    channel = stack.ari.fake.incoming_call(ALICE, ACCESS)

    assert await stack.hung_up(channel) == 34
    assert not stack.answered(channel)
    assert not stack.originated(ALICE)
