"""MO SMS accepted and durably stored per second: deliver_sm in, row committed, deliver_sm_resp out.

Our SMSC role pushes deliver_sm over loopback TCP to an EsmeLink whose handler is the service's
MoHandler on SQLite (WAL, synchronous=FULL): each ESME_ROK leaves only after its row is committed
(group commit: the store gathers the messages that arrive while the writer is busy into one unit).
Every message is then "handled" (a trivial command that queues no reply), so the writer also carries
the handled mark, as in the service. Distinct texts, so none is a duplicate. The CPU time per message
is printed too: on a shared machine it moves less than the rate does.

    python benchmarks/bench_mo_sms.py --count 20000 --window 256
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from twisted.internet import asyncioreactor

asyncioreactor.install()

import smpp34  # noqa: E402
from twisted.internet import defer, reactor  # noqa: E402
from twisted.internet.task import deferLater  # noqa: E402

from roamback.gateway.mobile import MoHandler, Outcome  # noqa: E402
from roamback.gateway.smpp import (  # noqa: E402
    Answer,
    EsmeLink,
    LinkConfig,
    PasswordAuthenticator,
    SessionConfig,
    SmscFactory,
)
from roamback.runtime import TwistedRuntime  # noqa: E402
from roamback.storage import migrate  # noqa: E402
from roamback.storage.engine import make_engine  # noqa: E402
from roamback.storage.inbound import InboundStore  # noqa: E402
from roamback.storage.outbox import OutboxStore  # noqa: E402
from roamback.storage.pool import Database  # noqa: E402


class NoReply:
    async def run(self, row: object) -> Outcome:
        return Outcome()


async def main(args: argparse.Namespace) -> None:
    url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.sqlite'}"
    migrate.upgrade(url)
    db = Database(make_engine(url, pool_size=4), reactor, readers=2)
    db.start()
    runtime = TwistedRuntime(reactor)
    handler = MoHandler(inbound=InboundStore(db), outbox=OutboxStore(db), commands=NoReply(),  # type: ignore[arg-type]
                        runtime=runtime, clock=reactor)
    session = SessionConfig(window=args.window, max_unanswered_received=args.window * 2)
    smsc = SmscFactory(PasswordAuthenticator({"bench": "pw"}), lambda pdu, origin: Answer(0), reactor,
                       system_id="smsc", config=session)
    port = reactor.listenTCP(0, smsc, interface="127.0.0.1")
    link = EsmeLink(LinkConfig("bench", f"tcp:host=127.0.0.1:port={port.getHost().port}", "bench", "pw",
                               session=session), handler, reactor)
    link.startService()
    while not link.bound:
        await deferLater(reactor, 0.05, lambda: None)
    latencies: list[float] = []
    statuses: list[int] = []
    counter = iter(range(args.count))

    async def slot() -> None:
        for n in counter:
            pdu = smpp34.DeliverSm(f"3361{n % 1000000:07d}", "1234", f"BAL {n}".encode(), source_addr_ton=1)
            started = time.perf_counter()
            response = await smsc.deliver("bench", pdu)
            latencies.append(time.perf_counter() - started)
            statuses.append(response.command_status)

    started = time.perf_counter()
    cpu = time.process_time()
    await defer.gatherResults([defer.ensureDeferred(slot()) for _ in range(args.window)])
    elapsed = time.perf_counter() - started
    while handler.processed < args.count and time.perf_counter() - started < 60:
        await deferLater(reactor, 0.05, lambda: None)
    handled = time.perf_counter() - started
    cpu = time.process_time() - cpu
    latencies.sort()
    print(f"{args.count} MO in {elapsed:.2f}s: {args.count / elapsed:.0f} accepted+stored/s "
          f"(all ROK: {set(statuses) == {0}}); handled all after {handled:.2f}s "
          f"({handler.processed / handled:.0f}/s); ack latency p50 {statistics.median(latencies) * 1e3:.1f} ms "
          f"p99 {latencies[int(len(latencies) * 0.99)] * 1e3:.1f} ms; writer batches {db.batches}; "
          f"process CPU {cpu / args.count * 1e6:.0f} us per MO (both threads and our SMSC)")
    await link.stopService()
    await port.stopListening()
    await db.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--window", type=int, default=256)
    arguments = parser.parse_args()
    done = defer.ensureDeferred(main(arguments))
    done.addErrback(lambda failure: failure.printTraceback())
    done.addBoth(lambda _: reactor.stop())
    reactor.run()
