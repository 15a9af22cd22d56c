"""Diameter Ro: CCR/CCA round trips over loopback, and codec speed next to python-diameter's.

Round trips go from ``DiameterNode`` (asyncio reactor, as in the service) to ``tests/peers/ocs_fast.py`` in
another process. That OCS uses roamback's own codec and does nothing but answer, so that the client is
what is measured: it is not an interoperability test (the python-diameter tests are). Three figures:

- closed loop: --window requests always in flight, requests/s over --seconds (``node`` sends a prebuilt
  CCR-U; ``backend`` runs ``RoCharging.reserve`` + ``terminate``, i.e. CCR-I and CCR-T per call);
- open loop: --rate requests/s for --seconds, latency percentiles;
- codec: encode+decode of a realistic CCR-I and decode of its CCA, ours and python-diameter's.

    python benchmarks/bench_diameter_ccr.py --seconds 5 --window 200 --rate 1000
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from twisted.internet import asyncioreactor

asyncioreactor.install()

from twisted.internet import defer, reactor  # noqa: E402
from twisted.internet.task import deferLater  # noqa: E402

from roamback.core.model import ChargingContext, Leg, Subscriber  # noqa: E402
from roamback.diameter import RoCharging, RoSettings  # noqa: E402
from roamback.diameter.codec import decode_message  # noqa: E402
from roamback.diameter.credit_control import (  # noqa: E402
    CcrEncoder,
    ServiceUsage,
    SessionFacts,
    read_answer,
)
from roamback.diameter.dictionary import CcRequestType  # noqa: E402
from roamback.diameter.routing import OutgoingRequest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ENCODER = CcrEncoder(origin_host="rb.client.test", origin_realm="client.test", destination_realm="ocs.test",
                     service_context_id="32260@3gpp.org")
FACTS = SessionFacts("rb.client.test;1763800000;42", "+447700900100", "234150999999999", "+447700900100",
                     "+33612345678")
USAGES = [ServiceUsage(100, 1, requested_seconds=630), ServiceUsage(200, 2, requested_seconds=600)]


def settings(port: int, trace: bool) -> RoSettings:
    return RoSettings(origin_host="rb.client.test", origin_realm="client.test", destination_realm="ocs.test",
                      peers=[{"name": "fast", "host": "127.0.0.1", "port": port, "realm": "ocs.test"}],
                      tx_seconds=5, trace_messages=trace)


def context(n: int) -> ChargingContext:
    subscriber = Subscriber(msisdn="+447700900100", home_region="GB")
    return ChargingContext(f"r{n}", subscriber, subscriber.msisdn, "+33612345678", 600, 30)


def ccr_request() -> OutgoingRequest:
    parts = ENCODER.session_parts(FACTS)
    return OutgoingRequest(lambda host: ENCODER.build(parts, CcRequestType.UPDATE, 1, USAGES, host), "ocs.test")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def closed_loop(backend: RoCharging, mode: str, window: int, seconds: float) -> float:
    node, request, done, counter = backend.service, ccr_request(), [0], itertools.count()
    deadline = reactor.seconds() + seconds

    async def slot() -> None:
        while reactor.seconds() < deadline:
            if mode == "node":
                await node.request(request)
                done[0] += 1
            else:
                grant = await backend.reserve(context(next(counter)))
                await backend.terminate(grant.reservation_id, {Leg.A: 0, Leg.B: 0})
                done[0] += 2

    started, cpu = time.perf_counter(), time.process_time()
    await defer.gatherResults([defer.ensureDeferred(slot()) for _ in range(window)])
    elapsed = time.perf_counter() - started
    print(f"closed loop {mode:7}: {done[0] / elapsed:8.0f} round trips/s ({window} in flight, "
          f"{(time.process_time() - cpu) / done[0] * 1e6:.0f} us client CPU each)")
    return done[0] / elapsed


async def open_loop(backend: RoCharging, rate: int, seconds: float) -> None:
    node, request, latencies, waiting = backend.service, ccr_request(), [], []
    interval, start = 1.0 / rate, reactor.seconds()

    def fire() -> None:
        sent = time.perf_counter()
        waiting.append(node.request(request).addCallback(lambda _: latencies.append(time.perf_counter() - sent)))

    for n in range(int(rate * seconds)):
        delay = start + n * interval - reactor.seconds()
        if delay > 0.002:
            await deferLater(reactor, delay, lambda: None)
        fire()
    await defer.gatherResults(waiting)
    ms = [v * 1000 for v in latencies]
    print(f"open loop {rate}/s: p50 {statistics.median(ms):.2f} ms, p99 {percentile(ms, 0.99):.2f} ms, "
          f"max {max(ms):.2f} ms over {len(ms)} requests")


def codec_rates(seconds: float) -> None:
    from diameter.message import Message as PdMessage

    parts = ENCODER.session_parts(FACTS)
    raw = ENCODER.build(parts, CcRequestType.INITIAL, 0, USAGES, None)
    cca = PdMessage.from_bytes(raw).to_answer()
    cca.session_id, cca.origin_host, cca.origin_realm, cca.result_code = "s", b"ocs", b"ocs.test", 2001
    cca.add_multiple_services_credit_control(rating_group=100, service_identifier=1, result_code=2001)
    cca_raw = cca.as_bytes()

    def rate(fn) -> float:
        count, end = 0, time.perf_counter() + seconds
        while time.perf_counter() < end:
            for _ in range(200):
                fn()
            count += 200
        return count / seconds

    ours = rate(lambda: decode_message(ENCODER.build(parts, CcRequestType.INITIAL, 0, USAGES, None)))
    theirs = rate(lambda: PdMessage.from_bytes(PdMessage.from_bytes(raw).as_bytes()))
    ours_cca = rate(lambda: read_answer(decode_message(cca_raw)))
    theirs_cca = rate(lambda: PdMessage.from_bytes(cca_raw).multiple_services_credit_control)
    print(f"codec CCR-I encode+decode ({len(raw)} bytes): ours {ours:,.0f}/s, python-diameter {theirs:,.0f}/s "
          f"({ours / theirs:.0f}x)")
    print(f"codec CCA decode+read: ours {ours_cca:,.0f}/s, python-diameter {theirs_cca:,.0f}/s "
          f"({ours_cca / theirs_cca:.0f}x)")


async def run(args: argparse.Namespace, port: int) -> None:
    for trace in (False, True):
        backend = RoCharging.from_settings(settings(port, trace), reactor)
        backend.service.startService()
        while backend.service.links["fast"].machine.state != "open":
            await deferLater(reactor, 0.02, lambda: None)
        print(f"-- message tracing {'on' if trace else 'off'}")
        await closed_loop(backend, "node", args.window, args.seconds)
        if not trace:
            await closed_loop(backend, "backend", args.window, args.seconds)
            await open_loop(backend, args.rate, args.seconds)
        await backend.service.stopService()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--window", type=int, default=200)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--port", type=int, default=38680)
    args = parser.parse_args()
    codec_rates(min(args.seconds, 2.0))
    ocs = subprocess.Popen([sys.executable, str(ROOT / "tests/peers/ocs_fast.py"), str(args.port)],
                           stdout=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        assert ocs.stdout is not None and ocs.stdout.readline().strip() == "READY"
        from twisted.logger import globalLogBeginner

        # trace lines are formatted (their CPU counts) but not written: terminal speed is not the question
        globalLogBeginner.beginLoggingTo([lambda event: None], redirectStandardIO=False)
        failures: list[object] = []
        d = defer.ensureDeferred(run(args, args.port))
        d.addErrback(failures.append).addBoth(lambda _: reactor.stop())
        reactor.run()
        if failures:
            print(failures[0])
            sys.exit(1)
    finally:
        ocs.kill()
        ocs.wait()


if __name__ == "__main__":
    main()
