"""What an SNMP manager polling the agent costs the USSD steps sharing its reactor.

Workload: bench_ussd_steps.py's service side in this process (EsmeLink -> MoHandler -> UssdTransport with a
trivial menu) and its USSD centre in a child process, sending steps paced at --rate/s; the figure is the
centre's p99 of one step (deliver_sm sent -> the reply's submit_sm received). The SNMP agent runs on the
same asyncio reactor throughout, serving figures that change during the run.

Load: another process sends an SNMP v2c GET of 10 ROAMBACK-MIB objects, waits for the answer and repeats,
paced at --get-rate GETs/s (1: a manager polling every second; 0: back to back, the worst one manager can
do). The GET is encoded once, so the client costs little and the difference is the agent's work on the
reactor. Phases of --duration seconds alternate without and with the GET loop (--rounds pairs); the
figure is the median of the paired p99 differences, with their range: the machine is shared and noisy.
The agent's CPU per GET (this process's CPU time over back-to-back GETs on an idle node) is the steadier
figure: it is how long each GET holds the reactor.

    python benchmarks/bench_snmp_overhead.py --rate 500 --duration 8 --get-rate 1 --rounds 3
    python benchmarks/bench_snmp_overhead.py --rate 500 --duration 8 --get-rate 0 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from bench_ussd_steps import SERVICE_CODE, Centre, _paced, _summary
from twisted.internet import asyncioreactor

asyncioreactor.install()

from twisted.internet import defer, reactor, threads  # noqa: E402

from roamback.core.messages import MessageCatalog  # noqa: E402
from roamback.gateway.mobile import MoHandler, Screen, UssdTransport  # noqa: E402
from roamback.gateway.smpp import EsmeLink, LinkConfig, SessionConfig  # noqa: E402
from roamback.gateway.ussd import UssdSettings  # noqa: E402
from roamback.ops.figures import OpsFigures  # noqa: E402
from roamback.ops.settings import SnmpSettings  # noqa: E402
from roamback.ops.snmp.agent import SnmpAgent  # noqa: E402
from roamback.runtime import TwistedRuntime  # noqa: E402

COMMUNITY = "bench"
BASE = "1.3.6.1.4.1.32473.1.1"
OIDS = [f"{BASE}.1.1.0", f"{BASE}.1.2.0", f"{BASE}.1.3.1.3.1", f"{BASE}.1.4.1.3.12", f"{BASE}.2.1.0",
        f"{BASE}.2.2.0", f"{BASE}.2.3.0", f"{BASE}.2.4.0", f"{BASE}.2.5.0", f"{BASE}.4.1.0"]
SCREENS = 4  # per dialogue, the last one closing

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
print("READY", flush=True)
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


# -- the USSD centre (child process): a paced phase each time the service writes a line -----------------------


async def centre_main(port: int, rate: float, seconds: float) -> None:
    loop = asyncio.get_running_loop()
    centre = Centre(dialogues=max(int(rate), 1000))
    server = await loop.create_server(lambda: centre, "127.0.0.1", port)
    print("READY", flush=True)
    await centre.bound
    await _paced(centre, 2.0, rate)  # warm-up
    print("WARM", flush=True)
    while await loop.run_in_executor(None, sys.stdin.readline):
        phase, late = await _paced(centre, seconds, rate)
        print(json.dumps({**_summary(phase, seconds), "late": late}), flush=True)
    server.close()
    assert centre.transport is not None
    centre.transport.close()


# -- the service side (this process) ---------------------------------------------------------------------------


class _Menu:
    """Every answer opens the next screen; the last one closes (as in bench_ussd_steps.py)."""

    async def begin(self, dialogue: object, dial: object) -> Screen:
        return Screen("1 Call back\n2 Balance\n3 Help", close=False)

    async def answer(self, dialogue: object, text: str) -> Screen:
        steps = dialogue.steps  # type: ignore[attr-defined]
        return Screen("Done." if steps >= SCREENS else f"Step {steps}: 1 next", close=steps >= SCREENS)


@dataclass
class _Engine:  # what UssdTransport reads from the engine when no call-back is asked for
    default_language: str = "en"
    home_region: str = "FR"


class _Directory:
    async def lookup(self, msisdn: str) -> None:
        return None


def ussd_link(port: int, figures: OpsFigures) -> EsmeLink:
    """The service's USSD path to the centre; each step bumps a figure so the agent serves moving values."""
    runtime = TwistedRuntime(reactor)
    links: dict[str, EsmeLink] = {}

    def send(name: str, pdu: Any) -> Any:
        figures.accepted += 1
        return links[name].submit(pdu)

    transport = UssdTransport(settings=UssdSettings(service_codes=(SERVICE_CODE,)), engine=_Engine(),  # type: ignore[arg-type]
                              directory=_Directory(), catalog=MessageCatalog.load(None, {}),  # type: ignore[arg-type]
                              send=send, runtime=runtime, clock=reactor, application=_Menu())  # type: ignore[arg-type]
    handler = MoHandler(inbound=None, outbox=None, commands=None, runtime=runtime, clock=reactor,  # type: ignore[arg-type]
                        ussd=transport)
    session = SessionConfig(window=1024, max_unanswered_received=65536, response_timeout=30)
    links["ussdc"] = EsmeLink(LinkConfig("ussdc", f"tcp:host=127.0.0.1:port={port}", "roamback", "pw",
                                         session=session), handler, reactor)
    return links["ussdc"]


async def line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    return str(await threads.deferToThread(process.stdout.readline)).strip()


def snmp_client(port: int, rate: float, seconds: float) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", CLIENT, str(port), str(rate), str(seconds), COMMUNITY, *OIDS],
                            stdout=subprocess.PIPE, text=True)


async def agent_cpu_per_get(port: int, seconds: float = 3.0) -> float:
    """This process's CPU per GET while an idle node answers back-to-back GETs: the time each GET holds the
    reactor, hence the most it can delay any other callback, whatever the noise of the machine."""
    client = snmp_client(port, 0, seconds)
    assert await line(client) == "READY"
    cpu = time.process_time()
    out, _ = await threads.deferToThread(client.communicate)
    return round((time.process_time() - cpu) * 1000 / max(1, json.loads(out)["gets"]), 3)


async def phase(centre: subprocess.Popen[str]) -> dict[str, Any]:
    assert centre.stdin is not None
    centre.stdin.write("go\n")
    centre.stdin.flush()
    return dict(json.loads(await line(centre)))


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    figures = OpsFigures(clock=time.time)
    agent = SnmpAgent(SnmpSettings(enabled=True, port=0, community=COMMUNITY), figures, reactor)
    await agent.start()
    assert agent.address is not None
    port = agent.address[1]
    rounds: list[dict[str, Any]] = []
    try:
        cpu_per_get = await agent_cpu_per_get(port)
        centre = subprocess.Popen([sys.executable, __file__, "--centre", "--port", str(args.port), "--rate",
                                   str(args.rate), "--duration", str(args.duration)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert await line(centre) == "READY"
        link = ussd_link(args.port, figures)
        link.startService()
        assert await line(centre) == "WARM"
        for _ in range(args.rounds):
            quiet = await phase(centre)
            client = snmp_client(port, args.get_rate, args.duration + 1)
            assert await line(client) == "READY"
            polled = await phase(centre)
            out, _ = await threads.deferToThread(client.communicate)
            rounds.append({"without": quiet, "with": polled, "client": json.loads(out)})
        await link.stopService()
        assert centre.stdin is not None
        centre.stdin.close()
        await threads.deferToThread(centre.wait, 10)
    finally:
        agent.stop()
    added = [r["with"]["p99_ms"] - r["without"]["p99_ms"] for r in rounds]
    return {
        "rounds": rounds,
        "p99_without_ms": statistics.median(r["without"]["p99_ms"] for r in rounds),
        "p99_with_ms": statistics.median(r["with"]["p99_ms"] for r in rounds),
        "p99_added_ms_median": round(statistics.median(added), 2),
        "p99_added_ms_range": [round(min(added), 2), round(max(added), 2)],
        "gets_per_s": statistics.median(r["client"]["gets_per_s"] for r in rounds),
        "get_rtt_p99_ms": statistics.median(r["client"]["rtt_p99_ms"] for r in rounds),
        "agent_cpu_ms_per_get": cpu_per_get,
    }


def readme_line(args: argparse.Namespace, s: dict[str, Any]) -> str:
    polling = f"every {1 / args.get_rate:g} s" if args.get_rate else f"back to back ({s['gets_per_s']:g} GETs/s)"
    low, high = s["p99_added_ms_range"]
    return (f"SNMP v2c GET of {len(OIDS)} OIDs {polling}: {s['p99_added_ms_median']:+.1f} ms "
            f"(rounds {low:+.1f} to {high:+.1f}) on the p99 of USSD steps paced at {args.rate:g}/s "
            f"(p99 {s['p99_without_ms']:g} -> {s['p99_with_ms']:g} ms, median of {args.rounds} rounds of "
            f"{args.duration:g} s); agent CPU {s['agent_cpu_ms_per_get']:.3f} ms per GET")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=500, help="USSD steps/s offered")
    parser.add_argument("--duration", type=float, default=8, help="seconds per phase")
    parser.add_argument("--get-rate", type=float, default=1, help="SNMP GETs/s; 0 = back to back")
    parser.add_argument("--rounds", type=int, default=3, help="pairs of phases without / with the GET loop")
    parser.add_argument("--budget-ms", type=float, default=5.0, help="allowed p99 increase")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--centre", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.centre:
        asyncio.run(centre_main(args.port, args.rate, args.duration))
        return 0
    if not args.port:
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            args.port = probe.getsockname()[1]
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
                          "steps_without": r["without"]["steps"], "steps_with": r["with"]["steps"],
                          "late_with": r["with"]["late"], **r["client"]}))
    print(json.dumps({"workload": f"USSD steps paced at {args.rate:g}/s, {SCREENS} screens per dialogue",
                      "get_rate": args.get_rate, "oids_per_get": len(OIDS), **summary}))
    print(readme_line(args, summary))
    ok = summary["p99_added_ms_median"] <= args.budget_ms
    print(f"{'PASS' if ok else 'FAIL'}: p99 added {summary['p99_added_ms_median']} ms (budget {args.budget_ms} ms)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
