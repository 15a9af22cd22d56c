"""MT submit_sm throughput on ONE bind, window 64, over loopback TCP against our SMSC role in another process.

Both processes run the asyncio reactor, as the service does. The ESME side keeps exactly --window submits
in flight (one coroutine per slot, each awaiting its submit_sm_resp before sending the next), so the
latency is a true round trip and not time spent in our own queue.

    python benchmarks/bench_smpp_submit.py --count 30000 --window 64
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import time

from twisted.internet import asyncioreactor

asyncioreactor.install()

import smpp34  # noqa: E402
from twisted.internet import defer, reactor  # noqa: E402
from twisted.internet.task import deferLater  # noqa: E402

from roamback.gateway.smpp import (  # noqa: E402
    Answer,
    EsmeLink,
    LinkConfig,
    PasswordAuthenticator,
    SessionConfig,
    SmscFactory,
)

SYSTEM_ID, PASSWORD = "bench", "bench-pw"


class Accept:
    """SMSC side: accept every submit_sm with a fresh message id."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    def handle_request(self, pdu: object, origin: str) -> Answer:
        return Answer(0, f"{next(self._ids):x}")


class Ignore:
    def handle_request(self, pdu: object, origin: str) -> int:
        return 0


def serve(window: int) -> None:
    config = SessionConfig(window=window, enquire_link_interval=300)
    factory = SmscFactory(PasswordAuthenticator({SYSTEM_ID: PASSWORD}), Accept(), reactor, config=config)
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    print(port.getHost().port, flush=True)
    reactor.run()


async def measure(port: int, count: int, window: int) -> tuple[float, list[float]]:
    config = LinkConfig(
        "bench",
        f"tcp:host=127.0.0.1:port={port}",
        SYSTEM_ID,
        PASSWORD,
        session=SessionConfig(window=window, enquire_link_interval=300, response_timeout=30),
    )
    link = EsmeLink(config, Ignore(), reactor)
    link.startService()
    deadline = time.monotonic() + 10
    while not link.bound:
        if time.monotonic() > deadline:
            raise SystemExit("could not bind to the SMSC process")
        await deferLater(reactor, 0.01, lambda: None)
    latencies: list[float] = []
    remaining = iter(range(count))

    async def slot() -> None:
        for index in remaining:
            pdu = smpp34.SubmitSm("4477", f"4477009{index % 100000:05d}", b"Your call-back is on its way")
            sent = time.perf_counter()
            await link.submit(pdu)
            latencies.append(time.perf_counter() - sent)

    started = time.perf_counter()
    await defer.gatherResults([defer.ensureDeferred(slot()) for _ in range(window)])
    elapsed = time.perf_counter() - started
    await link.stopService()
    return elapsed, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=30_000)
    parser.add_argument("--window", type=int, default=64)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.window)
        return
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--window", str(args.window)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        port = int(server.stdout.readline())
        outcome: list = []
        d = defer.ensureDeferred(measure(port, args.count, args.window))
        d.addBoth(outcome.append).addBoth(lambda _: reactor.stop())
        reactor.run()
    finally:
        server.terminate()
        server.wait(timeout=10)
    if not isinstance(outcome[0], tuple):
        outcome[0].raiseException()
    elapsed, latencies = outcome[0]
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    print(f"submit_sm on one bind, window {args.window}: {len(latencies)} in {elapsed:.2f} s")
    print(f"  {len(latencies) / elapsed:,.0f} submit_sm/s with responses; latency p50 {p50:.2f} ms, p99 {p99:.2f} ms")


if __name__ == "__main__":
    main()
