"""Callback requests through the core with the simulated switch and the ledger, on SQLite or PostgreSQL.

What it measures (the foundation issue's figures):
- sustained throughput: requests offered at a fixed rate (or as fast as possible with --rate 0) for
  --duration seconds; every request goes the whole way (decision, reservation, leg A, leg B, bridge,
  settlement, CDRs, notice) and the run reports completed requests per second;
- latency from `engine.submit()` to the switch's `originate()` for leg A (p50/p95/p99/max);
- memory per in-flight request: tracemalloc growth while --hold calls are held bridged, divided by --hold.

Simulated time runs --speed times faster than the wall clock so that a 20 s call takes 20/speed s; the
policy's cap and cooldown are off because the load comes from --subscribers distinct roamers.

    python benchmarks/bench_callbacks.py --db sqlite --rate 500 --duration 20
    python benchmarks/bench_callbacks.py --db postgresql --rate 250 --duration 20
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import platform
import re
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from twisted.internet import asyncioreactor

asyncioreactor.install()

import sqlalchemy as sa  # noqa: E402
from twisted.internet import defer, reactor, task  # noqa: E402

from roamback.core.engine import CallbackEngine, DiallingSettings  # noqa: E402
from roamback.core.messages import MessageCatalog  # noqa: E402
from roamback.core.model import CallbackTrigger, CallPlan, Channel, Subscriber  # noqa: E402
from roamback.core.policies import PolicySettings  # noqa: E402
from roamback.ledger.accounts import create_account, seed_default_rates, top_up  # noqa: E402
from roamback.ledger.backend import LedgerCharging  # noqa: E402
from roamback.runtime import TwistedRuntime  # noqa: E402
from roamback.storage.directory import TableDirectory  # noqa: E402
from roamback.storage.engine import make_engine  # noqa: E402
from roamback.storage.pool import Database  # noqa: E402
from roamback.storage.provisioning import upsert_subscriber  # noqa: E402
from roamback.storage.requests import SqlRequestStore  # noqa: E402
from roamback.storage.rows import subscriber_values, to_db  # noqa: E402
from roamback.storage.schema import accounts, ledger_entries, metadata, subscribers  # noqa: E402
from roamback.switch_adapters.simulated import OutcomeRule, SimulatedSwitch  # noqa: E402

PG_ADMIN = os.environ.get("ROAMBACK_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
DESTINATION = "+4915112345678"
LONG_TALK_DESTINATION = "+4915199999999"  # the simulated party never hangs up: calls stay in flight


def msisdn(i: int) -> str:
    return f"+336{10000000 + i:08d}"


@contextmanager
def scratch_url(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/bench.sqlite"
        return
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"rbbench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        yield sa.engine.make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


SEED_CREDIT = 10_000_000


def seed(conn: sa.Connection, count: int, at: datetime) -> None:
    """The same rows ``upsert_subscriber``, ``create_account`` and ``top_up`` write, in bulk.

    Row by row, seeding 20 000 roamers took two minutes on PostgreSQL; the first subscriber goes through
    the provisioning helpers so the bulk rows are checked against what they write.
    """
    seed_default_rates(conn)
    first = msisdn(0)
    upsert_subscriber(conn, Subscriber(msisdn=first, home_region="FR", roaming=True, visited_region="ES",
                                       account_id=first), at=at)
    create_account(conn, first, currency="EUR", at=at)
    top_up(conn, first, SEED_CREDIT, at=at)
    numbers = [msisdn(i) for i in range(1, count)]
    if not numbers:
        return
    conn.execute(subscribers.insert(), [
        {**subscriber_values(Subscriber(msisdn=number, home_region="FR", roaming=True, visited_region="ES",
                                        account_id=number)), "created_at": to_db(at)}
        for number in numbers
    ])
    conn.execute(accounts.insert(), [
        {"id": number, "currency": "EUR", "postpaid": False, "balance_minor": SEED_CREDIT, "reserved_minor": 0,
         "credit_limit_minor": 0, "updated_at": at}
        for number in numbers
    ])
    conn.execute(ledger_entries.insert(), [
        {"account_id": number, "at": at, "kind": "topup", "amount_minor": SEED_CREDIT,
         "balance_after_minor": SEED_CREDIT, "note": None}
        for number in numbers
    ])


class LatencyProbe:
    """Wraps the switch's originate to time submit -> leg-A originate per request."""

    def __init__(self, switch: SimulatedSwitch) -> None:
        self.switch = switch
        self.started: dict[str, float] = {}
        self.latencies: list[float] = []
        self._originate = switch.originate
        switch.originate = self.originate  # type: ignore[method-assign]

    async def originate(self, plan: CallPlan) -> None:
        t0 = self.started.pop(plan.leg_a_number, None)
        if t0 is not None:
            self.latencies.append(time.perf_counter() - t0)
        await self._originate(plan)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def run(args: argparse.Namespace, url: str) -> dict[str, Any]:
    db = Database(make_engine(url, pool_size=args.readers + (args.writers or 4) + 1), reactor,
                  readers=args.readers, writers=args.writers)
    metadata.create_all(db.engine)
    db.start()
    runtime = TwistedRuntime(reactor, speed=args.speed)
    await db.write(lambda conn: seed(conn, args.subscribers, runtime.now()))
    charging = LedgerCharging(db, now=runtime.now, currency="EUR", min_talk_seconds=60)
    await charging.reload_rates()
    switch = SimulatedSwitch(runtime, ring_seconds=2.0, prompt_seconds=3.0, talk_seconds=args.talk,
                             rules=[OutcomeRule(re.compile(re.escape(LONG_TALK_DESTINATION)), "B", "answer",
                                                talk_seconds=10**7)])
    probe = LatencyProbe(switch)
    engine = CallbackEngine(
        runtime=runtime, store=SqlRequestStore(db), directory=TableDirectory(db), charging=charging,
        switch=switch, catalog=MessageCatalog.load(None, {}),
        policy=PolicySettings(daily_cap=0, cooldown_seconds=0),
        dialling=DiallingSettings(service_caller_id="+33140000000"), home_region="FR",
        default_language="en",
    )
    completed = 0

    def count(request: Any, transition: Any) -> None:
        nonlocal completed
        if transition.target.value == "completed":
            completed += 1

    engine.add_listener(count)
    result = await offer_load(args, engine, probe, lambda: completed)
    if args.hold:
        result["bytes_per_inflight"] = await measure_memory(args, engine)
    await db.stop()
    result["db_batches"] = db.batches
    result["db_units"] = db.units
    return result


async def offer_load(args: argparse.Namespace, engine: CallbackEngine, probe: LatencyProbe,
                     completed: Any) -> dict[str, Any]:
    submitted = refused = 0
    outstanding: set[defer.Deferred[Any]] = set()
    next_subscriber = 0
    t_start = time.perf_counter()
    cpu_start = time.process_time()
    tick = 0.01

    def submit_one() -> None:
        nonlocal submitted, next_subscriber
        number = msisdn(next_subscriber % args.subscribers)
        next_subscriber += 1
        probe.started[number] = time.perf_counter()
        d = defer.Deferred.fromCoroutine(engine.submit(CallbackTrigger(Channel.API, number, DESTINATION)))
        outstanding.add(d)
        submitted += 1

        def done(request: Any) -> None:
            nonlocal refused
            outstanding.discard(d)
            if request.state.value == "refused":
                refused += 1

        d.addCallback(done)

    while time.perf_counter() - t_start < args.duration:
        if args.rate:
            due = int((time.perf_counter() - t_start) * args.rate) - submitted
        else:
            due = max(0, args.concurrency - len(outstanding))
        for _ in range(max(0, due)):
            submit_one()
        await task.deferLater(reactor, tick, lambda: None)
    offered_for = time.perf_counter() - t_start
    drain_deadline = time.perf_counter() + 60
    while (completed() + refused < submitted) and time.perf_counter() < drain_deadline:
        await task.deferLater(reactor, 0.05, lambda: None)
    elapsed = time.perf_counter() - t_start
    lat = [x * 1000 for x in probe.latencies]
    return {
        "submitted": submitted, "completed": completed(), "refused": refused,
        "offered_rate": round(submitted / offered_for, 1),
        "completed_per_s": round(completed() / elapsed, 1),
        "all_done_s": round(elapsed, 2),
        "cpu_s": round(time.process_time() - cpu_start, 2),
        "cpu_ms_per_request": round((time.process_time() - cpu_start) * 1000 / max(1, submitted), 3),
        "p50_ms": round(percentile(lat, 0.50), 2), "p95_ms": round(percentile(lat, 0.95), 2),
        "p99_ms": round(percentile(lat, 0.99), 2), "max_ms": round(max(lat, default=float("nan")), 2),
        "mean_ms": round(statistics.fmean(lat), 2) if lat else None,
    }


async def measure_memory(args: argparse.Namespace, engine: CallbackEngine) -> int:
    """Hold --hold calls bridged (very long talk) and divide the Python heap growth by their number."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    pending = [
        defer.Deferred.fromCoroutine(engine.submit(CallbackTrigger(Channel.API, msisdn(i), LONG_TALK_DESTINATION)))
        for i in range(args.hold)
    ]
    await defer.gatherResults(pending)
    while engine.live_count < args.hold:
        await task.deferLater(reactor, 0.05, lambda: None)
    await task.deferLater(reactor, 1.0, lambda: None)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return int((after - before) / max(1, engine.live_count))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--rate", type=float, default=500, help="requests/s offered; 0 = closed loop")
    parser.add_argument("--concurrency", type=int, default=256, help="outstanding submits with --rate 0")
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--subscribers", type=int, default=20000)
    parser.add_argument("--speed", type=float, default=20.0, help="simulated seconds per real second")
    parser.add_argument("--talk", type=float, default=20.0, help="simulated talk seconds per call")
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--writers", type=int, default=None, help="writer threads (servers; SQLite has one)")
    parser.add_argument("--hold", type=int, default=0, help="in-flight calls for the memory figure")
    args = parser.parse_args()
    out: dict[str, Any] = {}

    async def go(_: Any) -> None:
        with scratch_url(args.db) as url:
            out.update(await run(args, url))

    with contextlib.suppress(SystemExit):  # react() always exits
        task.react(lambda r: defer.Deferred.fromCoroutine(go(r)))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{platform.platform()}")
    print(f"db={args.db} rate={args.rate} duration={args.duration}s speed={args.speed}x max_rss={rss} MiB")
    for key, value in out.items():
        print(f"  {key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
