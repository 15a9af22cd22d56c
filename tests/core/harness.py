"""A real engine for tests: SQL store, ledger, simulated switch, real texts, on a 200x faster clock.

Only time is compressed (``TwistedRuntime(speed=...)``); every adapter is the embedded one the service
ships, so these tests exercise the same code as `roamback demo`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from twisted.internet import defer, reactor, task

from roamback.core.engine import CallbackEngine, DiallingSettings
from roamback.core.messages import MessageCatalog
from roamback.core.model import CallbackRequest, CallbackTrigger, Channel, Subscriber, Transition
from roamback.core.policies import PolicySettings
from roamback.ledger.accounts import create_account, seed_default_rates, top_up
from roamback.ledger.backend import LedgerCharging
from roamback.runtime import TwistedRuntime
from roamback.storage.directory import TableDirectory
from roamback.storage.pool import Database
from roamback.storage.provisioning import register_number, upsert_subscriber
from roamback.storage.requests import SqlRequestStore
from roamback.storage.schema import accounts, active_callbacks, call_legs, notice_outbox
from roamback.switch_adapters.simulated import OutcomeRule, SimulatedSwitch

ALICE = "+33612345678"
SERVICE_CLI = "+33140000000"
DEST_OK = "+4915112345678"
DEST_B_BUSY = "+4915100001111"
A_BUSY_NUMBER = "+33699991111"  # a roamer whose own phone is always busy
SPEED = 200.0  # simulated seconds per real second


def roamer(msisdn: str = ALICE, **changes: Any) -> Subscriber:
    base = Subscriber(msisdn=msisdn, home_region="FR", language="en", roaming=True, visited_region="ES",
                      account_id=f"acct{msisdn}")
    return replace(base, **changes)


@dataclass
class Harness:
    db: Database
    engine: CallbackEngine
    store: SqlRequestStore
    charging: LedgerCharging
    switch: SimulatedSwitch
    runtime: TwistedRuntime
    transitions: list[tuple[str, str]] = field(default_factory=list)

    async def add_roamer(self, subscriber: Subscriber, credit_minor: int = 1000) -> None:
        now = self.runtime.now()

        def work(conn: sa.Connection) -> None:
            upsert_subscriber(conn, subscriber, at=now)
            if subscriber.account_id:
                create_account(conn, subscriber.account_id, currency="EUR", at=now)
                if credit_minor:
                    top_up(conn, subscriber.account_id, credit_minor, at=now)

        await self.db.write(work)

    async def register(self, msisdn: str, number: str) -> None:
        now = self.runtime.now()
        await self.db.write(lambda conn: register_number(conn, msisdn, number, confirmed=True, at=now))

    async def submit(self, destination: str, requester: str = ALICE, **kw: Any) -> CallbackRequest:
        trigger = CallbackTrigger(channel=kw.pop("channel", Channel.API), requester=requester,
                                  destination=destination, **kw)
        return await self.engine.submit(trigger)

    async def until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout}s; transitions: {self.transitions}")
            await task.deferLater(reactor, 0.005, lambda: None)

    async def finished(self, request: CallbackRequest, timeout: float = 10.0) -> CallbackRequest:
        await self.until(lambda: request.state.terminal and not self.engine.is_live(request.id), timeout)
        stored = await self.store.get(request.id)
        assert stored is not None
        return stored

    def states_of(self, request_id: str) -> list[str]:
        return [state for rid, state in self.transitions if rid == request_id]

    async def rows(self, table: sa.Table, **where: Any) -> list[Any]:
        query = sa.select(table).where(*(table.c[k] == v for k, v in where.items()))
        if "id" in table.c:
            query = query.order_by(table.c.id)
        return await self.db.read(lambda conn: list(conn.execute(query)))

    async def slot_holder(self, msisdn: str) -> str | None:
        """Which request holds the subscriber's one active-callback slot, if any."""
        rows = await self.rows(active_callbacks, msisdn=msisdn)
        return rows[0].request_id if rows else None

    async def account(self, account_id: str) -> Any:
        (row,) = await self.rows(accounts, id=account_id)
        return row

    async def cdrs(self, request_id: str) -> list[Any]:
        return await self.rows(call_legs, request_id=request_id)

    async def notices(self, request_id: str) -> list[Any]:
        return await self.rows(notice_outbox, request_id=request_id)


def default_dialling(**changes: Any) -> DiallingSettings:
    return replace(DiallingSettings(service_caller_id=SERVICE_CLI, a_retry_delays_seconds=(20.0, 60.0)),
                   **changes)


def default_policy(**changes: Any) -> PolicySettings:
    return replace(PolicySettings(blocked_prefixes=("+881", "+882"), cooldown_seconds=0, daily_cap=0),
                   **changes)


async def make_harness(
    db: Database,
    *,
    policy: PolicySettings | None = None,
    dialling: DiallingSettings | None = None,
    directory: Any = None,
    charging: Any = None,
    talk_seconds: float = 20.0,
    now: Callable[[], datetime] | None = None,
) -> Harness:
    runtime = TwistedRuntime(reactor, speed=SPEED)
    await db.write(seed_default_rates)
    ledger = LedgerCharging(db, now=now or runtime.now, currency="EUR", min_talk_seconds=60)
    await ledger.reload_rates()
    switch = SimulatedSwitch(
        runtime, ring_seconds=2.0, prompt_seconds=3.0, talk_seconds=talk_seconds,
        rules=[OutcomeRule(match=re.compile(r"1111$"), leg="any", outcome="busy"),
               OutcomeRule(match=re.compile(r"2222$"), leg="any", outcome="no_answer"),
               OutcomeRule(match=re.compile(r"3333$"), leg="any", outcome="unallocated")],
    )
    store = SqlRequestStore(db, clock=runtime.now)
    engine = CallbackEngine(
        runtime=runtime, store=store, directory=directory or TableDirectory(db),
        charging=charging or ledger, switch=switch, catalog=MessageCatalog.load(None, {}),
        policy=policy or default_policy(), dialling=dialling or default_dialling(),
        home_region="FR", default_language="en",
    )
    harness = Harness(db=db, engine=engine, store=store, charging=ledger, switch=switch, runtime=runtime)

    def listen(request: CallbackRequest, transition: Transition) -> None:
        harness.transitions.append((request.id, transition.target.value))

    engine.add_listener(listen)
    return harness


async def gather(*coros: Any) -> list[Any]:
    return await defer.gatherResults([defer.Deferred.fromCoroutine(c) for c in coros])
