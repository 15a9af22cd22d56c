"""What an SNMP manager polling the agent costs the call-backs sharing its reactor.

Workload: the engine with the simulated switch and the built-in ledger on SQLite (the USSD path is not
wired into the service yet), fed at --rate requests/s for --duration seconds, as in bench_callbacks.py;
the figure is p99 of submit -> leg-A originate. The ops figures listen to the engine and the SNMP agent
runs on the same asyncio reactor throughout.

Load: a separate process sends an SNMP v2c GET of 10 ROAMBACK-MIB objects, waits for the answer, and
repeats, paced at --get-rate GETs/s (0: back to back). The GET is encoded once, so the client costs
almost nothing and the difference is the agent's work on the reactor. Runs alternate without and with
the GET loop (--rounds pairs) and the medians are compared: the machine is shared and noisy.

    python benchmarks/bench_snmp_overhead.py --rate 100 --duration 10 --get-rate 20 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from types import SimpleNamespace
from typing import Any

from bench_callbacks import LatencyProbe, offer_load, scratch_url, seed  # installs the asyncio reactor
from twisted.internet import defer, reactor, threads

from roamback.core.engine import CallbackEngine, DiallingSettings
from roamback.core.messages import MessageCatalog
from roamback.core.policies import PolicySettings
from roamback.ledger.backend import LedgerCharging
from roamback.ops.figures import OpsFigures
from roamback.ops.settings import SnmpSettings
from roamback.ops.snmp.agent import SnmpAgent
from roamback.runtime import TwistedRuntime
from roamback.storage.directory import TableDirectory
from roamback.storage.engine import make_engine
from roamback.storage.pool import Database
from roamback.storage.requests import SqlRequestStore
from roamback.storage.schema import metadata
from roamback.switch_adapters.simulated import SimulatedSwitch

COMMUNITY = "bench"
BASE = "1.3.6.1.4.1.32473.1.1"
OIDS = [f"{BASE}.1.1.0", f"{BASE}.1.2.0", f"{BASE}.1.3.1.3.1", f"{BASE}.1.4.1.3.12", f"{BASE}.2.1.0",
        f"{BASE}.2.2.0", f"{BASE}.2.3.0", f"{BASE}.2.4.0", f"{BASE}.2.5.0", f"{BASE}.4.1.0"]

CLIENT = r"""
import json, socket, sys, time
from pyasn1.codec.ber import encoder
from pysnmp.proto import api
port, rate, duration = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
community, oids = sys.argv[4], sys.argv[5:]
p = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
pdu = p.GetRequestPDU(); p.apiPDU.set_defaults(pdu)
p.apiPDU.set_varbinds(pdu, [(oid, p.Null("")) for oid in oids])
msg = p.Message(); p.apiMessage.set_defaults(msg)
p.apiMessage.set_community(msg, community); p.apiMessage.set_pdu(msg, pdu)
wire = encoder.encode(msg)
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); sock.settimeout(1.0)
rtts, lost, start = [], 0, time.perf_counter()
while time.perf_counter() - start < duration:
    t0 = time.perf_counter()
    sock.sendto(wire, ("127.0.0.1", port))
    try:
        sock.recv(65535); rtts.append(time.perf_counter() - t0)
    except socket.timeout:
        lost += 1
    if rate:
        time.sleep(max(0.0, start + (len(rtts) + lost) / rate - time.perf_counter()))
rtts.sort()
print(json.dumps({"gets": len(rtts), "lost": lost, "gets_per_s": round(len(rtts) / duration, 1),
                  "rtt_p50_ms": round(rtts[len(rtts) // 2] * 1000, 2) if rtts else None,
                  "rtt_p99_ms": round(rtts[int(len(rtts) * 0.99)] * 1000, 2) if rtts else None}))
"""


async def workload(args: argparse.Namespace, figures: OpsFigures) -> dict[str, Any]:
    """One run of bench_callbacks' open-loop workload on a fresh SQLite database."""
    with scratch_url("sqlite") as url:
        db = Database(make_engine(url, pool_size=8), reactor, readers=4)
        metadata.create_all(db.engine)
        db.start()
        runtime = TwistedRuntime(reactor, speed=args.speed)
        await db.write(lambda conn: seed(conn, args.subscribers, runtime.now()))
        charging = LedgerCharging(db, now=runtime.now, currency="EUR", min_talk_seconds=60)
        await charging.reload_rates()
        switch = SimulatedSwitch(runtime, ring_seconds=2.0, prompt_seconds=3.0, talk_seconds=20.0, rules=[])
        probe = LatencyProbe(switch)
        engine = CallbackEngine(
            runtime=runtime, store=SqlRequestStore(db), directory=TableDirectory(db), charging=charging,
            switch=switch, catalog=MessageCatalog.load(None, {}),
            policy=PolicySettings(daily_cap=0, cooldown_seconds=0),
            dialling=DiallingSettings(service_caller_id="+33140000000"), home_region="FR", default_language="en",
        )
        engine.add_listener(figures.on_transition)
        before = figures.completed
        load = SimpleNamespace(rate=args.rate, concurrency=0, duration=args.duration, subscribers=args.subscribers)
        result = await offer_load(load, engine, probe, lambda: figures.completed - before)
        await db.stop()
    return result


async def agent_cpu_per_get(port: int, seconds: float = 3.0) -> float:
    """This process's CPU per GET while an idle node answers back-to-back GETs: the time each GET holds the
    reactor, hence the most it can delay any other callback, whatever the noise of the machine."""
    cpu = time.process_time()
    client = subprocess.Popen([sys.executable, "-c", CLIENT, str(port), "0", str(seconds), COMMUNITY, *OIDS],
                              stdout=subprocess.PIPE, text=True)
    out, _ = await threads.deferToThread(client.communicate)
    return round((time.process_time() - cpu) * 1000 / max(1, json.loads(out)["gets"]), 3)


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    figures = OpsFigures(clock=time.time)
    agent = SnmpAgent(SnmpSettings(enabled=True, port=0, community=COMMUNITY), figures, reactor)
    await agent.start()
    assert agent.address is not None
    rounds: list[dict[str, Any]] = []
    try:
        cpu_per_get = await agent_cpu_per_get(agent.address[1])
        for _ in range(args.rounds):
            quiet = await workload(args, figures)
            client = subprocess.Popen(
                [sys.executable, "-c", CLIENT, str(agent.address[1]), str(args.get_rate), str(args.duration + 2),
                 COMMUNITY, *OIDS], stdout=subprocess.PIPE, text=True)
            polled = await workload(args, figures)
            out, _ = await threads.deferToThread(client.communicate)
            rounds.append({"without": quiet, "with": polled, "client": json.loads(out)})
    finally:
        agent.stop()
    p99 = [(r["without"]["p99_ms"], r["with"]["p99_ms"]) for r in rounds]
    return {
        "rounds": rounds,
        "p99_without_ms": statistics.median(a for a, _ in p99),
        "p99_with_ms": statistics.median(b for _, b in p99),
        "p99_added_ms_median": round(statistics.median(b - a for a, b in p99), 2),
        "gets_per_s": statistics.median(r["client"]["gets_per_s"] for r in rounds),
        "get_rtt_p99_ms": statistics.median(r["client"]["rtt_p99_ms"] for r in rounds),
        "agent_cpu_ms_per_get": cpu_per_get,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=100, help="call-back requests/s offered")
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--speed", type=float, default=20.0, help="simulated seconds per real second")
    parser.add_argument("--subscribers", type=int, default=3000)
    parser.add_argument("--get-rate", type=float, default=20, help="SNMP GETs/s; 0 = back to back")
    parser.add_argument("--rounds", type=int, default=3, help="pairs of runs without / with the GET loop")
    parser.add_argument("--budget-ms", type=float, default=5.0, help="allowed p99 increase")
    args = parser.parse_args()
    outcome: dict[str, Any] = {}

    def done(result: Any) -> None:
        outcome.update(result if isinstance(result, dict) else {"error": str(result)})
        reactor.stop()

    reactor.callWhenRunning(lambda: defer.Deferred.fromCoroutine(measure(args)).addBoth(done))
    reactor.run()
    if "error" in outcome:
        print(outcome["error"], file=sys.stderr)
        return 2
    summary = {k: v for k, v in outcome.items() if k != "rounds"}
    for r in outcome["rounds"]:
        print(json.dumps({"p99_without_ms": r["without"]["p99_ms"], "p99_with_ms": r["with"]["p99_ms"],
                          "completed_without": r["without"]["completed"], "completed_with": r["with"]["completed"],
                          **r["client"]}))
    print(json.dumps({"workload": f"engine + simulated switch + ledger on SQLite, {args.rate}/s for "
                                  f"{args.duration}s", "get_rate": args.get_rate, "oids_per_get": len(OIDS),
                      **summary}))
    ok = summary["p99_added_ms_median"] <= args.budget_ms
    print(f"{'PASS' if ok else 'FAIL'}: p99 added {summary['p99_added_ms_median']} ms (budget {args.budget_ms} ms)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
