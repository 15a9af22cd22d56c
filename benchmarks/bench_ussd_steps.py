"""USSD dialogue steps per second through the service's SMPP path, against a USSD centre in another process.

One step: the centre sends deliver_sm (a PSSR indication or a USSR confirm, its_session_info set), the
service's link answers it, ``MoHandler`` hands it to ``UssdTransport`` (classify, dialogue table, the menu
application), which sends its reply as submit_sm; the centre answers submit_sm_resp. A step's latency is
measured by the centre, from just before its deliver_sm to the moment it has the reply submit_sm.

The centre is a minimal SMSC on raw asyncio in a child process (``--centre``): it packs and reads its few
PDUs by hand so that it costs less per step than the service, and the service process (this one, asyncio
reactor, one thread) has a core to itself on a 2-core machine. The menu is a
trivial application (every answer opens the next screen, the Nth closes), so what is measured is the
transport, not a menu engine. Phases: a warm-up, a closed loop (--concurrency dialogues each sending its
next step as soon as the reply comes: the maximum), then an open loop paced at --rate steps/s (p99 there).
The service's own CPU time per phase is reported, so steps per CPU-second do not depend on the centre.

    python benchmarks/bench_ussd_steps.py --seconds 8 --concurrency 200 --rate 2500
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import struct
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field

SERVICE_CODE = "123"
PSSR_INDICATION, USSR_CONFIRM = 1, 18  # smpp34 dialect: begin and continue ops from the centre
TLV_OP, TLV_SESSION = 0x0501, 0x1383


# -- the USSD centre (child process) ---------------------------------------------------------------------------

HEADER = struct.Struct(">IIII")
BIND_TRANSCEIVER, SUBMIT_SM, DELIVER_SM, UNBIND, ENQUIRE_LINK = 0x09, 0x04, 0x05, 0x06, 0x15
RESPONSE = 0x80000000
USSR_REQUEST = 2  # the service's reply keeps the dialogue open


@dataclass(slots=True)
class _Dialogue:
    msisdn: bytes
    session: int = 0
    step: int = 0
    sent_at: float = 0.0


@dataclass
class _Phase:
    name: str
    started: float = field(default_factory=time.perf_counter)
    cpu: float = field(default_factory=time.process_time)
    latencies: list[float] = field(default_factory=list)
    refused: int = 0


class Centre(asyncio.Protocol):
    """A minimal USSD centre on raw asyncio, its few PDUs packed and read by hand so that it costs less per
    step than the service it drives. Each reply from the service releases its dialogue for the next step."""

    def __init__(self, dialogues: int) -> None:
        self.idle: deque[_Dialogue] = deque(_Dialogue(f"33600{n:06d}".encode()) for n in range(dialogues))
        self.waiting: dict[bytes, _Dialogue] = {}
        self.phase = _Phase("idle")
        self.closed_loop = False
        self.bound: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._sequence = 0
        self._sessions = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        offset = 0
        while len(buffer) - offset >= 16:
            length, command_id, status, sequence = HEADER.unpack_from(buffer, offset)
            if len(buffer) - offset < length:
                break
            self._frame(command_id, status, sequence, bytes(buffer[offset + 16 : offset + length]))
            offset += length
        del buffer[:offset]

    def _frame(self, command_id: int, status: int, sequence: int, body: bytes) -> None:
        if command_id == SUBMIT_SM:
            self._write(SUBMIT_SM | RESPONSE, sequence, b"1\0")
            self._replied(body)
        elif command_id == DELIVER_SM | RESPONSE:
            self.phase.refused += status != 0
        elif command_id == ENQUIRE_LINK:
            self._write(ENQUIRE_LINK | RESPONSE, sequence)
        elif command_id == BIND_TRANSCEIVER:
            self._write(BIND_TRANSCEIVER | RESPONSE, sequence, b"ussdc\0")
            self.bound.set_result(None)
        elif command_id == UNBIND:
            self._write(UNBIND | RESPONSE, sequence)

    def _write(self, command_id: int, sequence: int, body: bytes = b"") -> None:
        assert self.transport is not None
        self.transport.write(HEADER.pack(16 + len(body), command_id, 0, sequence) + body)

    def send(self, dialogue: _Dialogue) -> None:
        if dialogue.step == 0:
            self._sessions += 1
            dialogue.session = self._sessions & 0xFF
            op, text = PSSR_INDICATION, f"*{SERVICE_CODE}#".encode()
        else:
            op, text = USSR_CONFIRM, b"1"
        body = b"".join((
            b"USSD\0\x01\x01", dialogue.msisdn, b"\0\x00\x00", SERVICE_CODE.encode(), b"\0",
            bytes((0, 0, 0)), b"\0\0", bytes((0, 0, 0x0F, 0, len(text))), text,
            struct.pack(">HHB", TLV_OP, 1, op),
            struct.pack(">HHBB", TLV_SESSION, 2, dialogue.session, (dialogue.step & 0x7F) << 1),
        ))
        self.waiting[dialogue.msisdn] = dialogue
        self._sequence += 1
        dialogue.sent_at = time.perf_counter()
        self._write(DELIVER_SM, self._sequence, body)

    def _replied(self, body: bytes) -> None:
        """The service's submit_sm ends a step; its ussd_service_op says whether the dialogue goes on."""
        at = body.index(0) + 3  # service_type, then source TON and NPI
        at = body.index(0, at) + 3  # source_addr, then dest TON and NPI
        end = body.index(0, at)
        dialogue = self.waiting.pop(body[at:end], None)
        if dialogue is None:
            return
        self.phase.latencies.append(time.perf_counter() - dialogue.sent_at)
        at = body.index(0, end + 4) + 1  # esm_class, protocol_id, priority_flag, schedule_delivery_time
        at = body.index(0, at) + 5  # validity_period, registered_delivery, replace, data_coding, default id
        at += 1 + body[at]  # sm_length and the message
        op = None
        while at + 4 <= len(body):
            tag, length = struct.unpack_from(">HH", body, at)
            if tag == TLV_OP:
                op = body[at + 4]
            at += 4 + length
        dialogue.step = dialogue.step + 1 if op == USSR_REQUEST else 0
        if self.closed_loop:
            self.send(dialogue)
        else:
            self.idle.append(dialogue)


async def _closed(centre: Centre, name: str, seconds: float, concurrency: int) -> _Phase:
    centre.phase = phase = _Phase(name)
    centre.closed_loop = True
    for _ in range(min(concurrency, len(centre.idle))):
        centre.send(centre.idle.popleft())
    await asyncio.sleep(seconds)
    centre.closed_loop = False
    centre.phase = _Phase("drain")  # steps finishing after the window are not counted
    while centre.waiting:  # let the dialogues in flight come home before the next phase
        await asyncio.sleep(0.01)
    return phase


async def _paced(centre: Centre, seconds: float, rate: float) -> tuple[_Phase, int]:
    """Send at ``rate`` steps/s on a fixed schedule; returns the phase and how many steps ran late."""
    centre.phase = phase = _Phase(f"paced at {rate:g}/s")
    sent = late = 0
    while (elapsed := time.perf_counter() - phase.started) < seconds:
        due = int(elapsed * rate) - sent
        while due > 0 and centre.idle:
            centre.send(centre.idle.popleft())
            sent += 1
            due -= 1
        late += due  # no idle dialogue: the service is holding every one
        sent += due
        await asyncio.sleep(0.0005)
    centre.phase = _Phase("drain")
    while centre.waiting:
        await asyncio.sleep(0.01)
    return phase, late


def _summary(phase: _Phase, seconds: float) -> dict[str, object]:
    latencies = sorted(phase.latencies)
    count = len(latencies)

    def pct(p: float) -> float:
        return round(latencies[min(count - 1, int(count * p))] * 1e3, 2) if count else float("nan")

    return {"phase": phase.name, "steps": count, "seconds": round(seconds, 2), "steps_per_s": round(count / seconds),
            "p50_ms": pct(0.5), "p99_ms": pct(0.99), "max_ms": pct(1.0), "refused": phase.refused,
            "centre_cpu_s": round(time.process_time() - phase.cpu, 2)}


async def centre_main(port: int, seconds: float, concurrency: int, rate: float) -> None:
    loop = asyncio.get_running_loop()
    centre = Centre(dialogues=max(concurrency, int(rate * 0.5), 1000))
    server = await loop.create_server(lambda: centre, "127.0.0.1", port)
    print("READY", flush=True)
    await centre.bound
    await _closed(centre, "warm-up", 2.0, concurrency)
    print("PHASE closed", flush=True)
    closed = await _closed(centre, f"closed loop, {concurrency} dialogues", seconds, concurrency)
    print("END closed", json.dumps(_summary(closed, seconds)), flush=True)
    print("PHASE paced", flush=True)
    paced, late = await _paced(centre, seconds, rate)
    print("END paced", json.dumps({**_summary(paced, seconds), "late": late}), flush=True)
    server.close()
    assert centre.transport is not None
    centre.transport.close()


# -- the service side (this process) ---------------------------------------------------------------------------


def service_main(args: argparse.Namespace) -> None:
    from twisted.internet import asyncioreactor

    asyncioreactor.install()
    from twisted.internet import reactor

    from roamback.core.messages import MessageCatalog
    from roamback.gateway.mobile import MoHandler, Screen, UssdTransport
    from roamback.gateway.smpp import EsmeLink, LinkConfig, SessionConfig
    from roamback.gateway.ussd import UssdSettings
    from roamback.runtime import TwistedRuntime

    class Menu:
        """Every answer opens the next screen; the last one closes."""

        async def begin(self, dialogue: object, dial: object) -> Screen:
            return Screen("1 Call back\n2 Balance\n3 Help", close=False)

        async def answer(self, dialogue: object, text: str) -> Screen:
            steps = dialogue.steps  # type: ignore[attr-defined]
            return Screen("Done." if steps >= args.steps else f"Step {steps}: 1 next", close=steps >= args.steps)

    @dataclass
    class Engine:  # what UssdTransport reads from the engine when no call-back is asked for
        default_language: str = "en"
        home_region: str = "FR"

    class Directory:
        async def lookup(self, msisdn: str) -> None:
            return None  # the default language: no subscriber store in this benchmark

    runtime = TwistedRuntime(reactor)
    links: dict[str, EsmeLink] = {}
    transport = UssdTransport(settings=UssdSettings(service_codes=(SERVICE_CODE,)), engine=Engine(),  # type: ignore[arg-type]
                              directory=Directory(), catalog=MessageCatalog.load(None, {}),  # type: ignore[arg-type]
                              send=lambda name, pdu: links[name].submit(pdu), runtime=runtime, clock=reactor,
                              application=Menu())  # type: ignore[arg-type]
    # USSD never reaches the SMS side of the handler: no store, outbox or commands are needed.
    handler = MoHandler(inbound=None, outbox=None, commands=None, runtime=runtime, clock=reactor,  # type: ignore[arg-type]
                        ussd=transport)
    session = SessionConfig(window=1024, max_unanswered_received=65536, response_timeout=30)
    centre = subprocess.Popen([sys.executable, __file__, "--centre", "--port", str(args.port), "--seconds",
                               str(args.seconds), "--concurrency", str(args.concurrency), "--rate", str(args.rate)],
                              stdout=subprocess.PIPE, text=True)
    assert centre.stdout is not None
    assert centre.stdout.readline().strip() == "READY"
    links["ussdc"] = EsmeLink(LinkConfig("ussdc", f"tcp:host=127.0.0.1:port={args.port}", "roamback", "pw",
                                         session=session), handler, reactor)
    cpu: dict[str, float] = {}
    results: list[dict[str, object]] = []

    def read_centre() -> None:  # a thread: the reactor must not block on the pipe
        for line in centre.stdout:  # type: ignore[union-attr]
            word, _, rest = line.strip().partition(" ")
            reactor.callFromThread(record, word, rest, time.process_time())
        reactor.callFromThread(reactor.stop)

    def record(word: str, rest: str, at: float) -> None:
        name = rest.split(" ", 1)[0]
        if word == "PHASE":
            cpu[name] = at
        elif word == "END":
            result = json.loads(rest.split(" ", 1)[1])
            result["service_cpu_s"] = round(at - cpu[name], 2)
            result["steps_per_service_cpu_s"] = round(int(result["steps"]) / max(at - cpu[name], 1e-9))
            results.append(result)

    import threading

    threading.Thread(target=read_centre, daemon=True).start()
    links["ussdc"].startService()
    reactor.run()
    centre.wait(timeout=10)
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores; "
          f"{args.steps} screens per dialogue, dialect smpp34, one transceiver bind over loopback")
    for result in results:
        print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--rate", type=float, default=2500.0, help="steps/s of the paced phase")
    parser.add_argument("--steps", type=int, default=4, help="screens per dialogue, the last one closing")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--centre", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.centre:
        asyncio.run(centre_main(args.port, args.seconds, args.concurrency, args.rate))
        return
    if not args.port:
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            args.port = probe.getsockname()[1]
    service_main(args)


if __name__ == "__main__":
    main()
