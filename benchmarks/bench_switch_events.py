"""Concurrent calls tracked by one process, and leg events handled per second, per switch adapter.

Three parts, each in its own process so that one's memory does not count against another's:
- ``simulated``: N calls on the SimulatedSwitch (fake clock), held bridged; every leg event goes through
  the engine's fast path (CallTracker lookup, ``LiveCall.observe``, ``pending_states``) as in
  ``CallbackEngine._on_leg_event``, without the database behind it.
- ``ari``: N calls through ``AriSwitch``'s event routing and per-call state machine, with the ARI events
  Asterisk sends for a completed call (Dial, StasisStart, PlaybackFinished, ChannelEnteredBridge,
  ChannelDestroyed); REST answers come from an in-memory stub, so this is the adapter's own cost.
- ``amqp``: decoding, de-duplicating and acknowledging leg-event messages as ``AmqpSwitchBus`` does.

Targets (issue 6): 10,000 concurrent calls in <= 300 MiB RSS; >= 20,000 leg events handled per second.

    python benchmarks/bench_switch_events.py --calls 10000
"""

from __future__ import annotations

import argparse
import heapq
import json
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from twisted.internet.defer import Deferred

from roamback.core.calls import CallTracker
from roamback.core.model import CallbackRequest, CallMode, CallPlan, Channel, LegEvent, Prompt
from roamback.runtime import TwistedRuntime


class HeapClock:
    """Fake time on a heap: ``task.Clock`` re-sorts its whole list on every callLater, which at tens of
    thousands of pending timers measures the fake clock, not the code under test."""

    class _Call:
        __slots__ = ("args", "cancelled", "fn", "time")

        def __init__(self, when: float, fn: Any, args: tuple[Any, ...]) -> None:
            self.time, self.fn, self.args, self.cancelled = when, fn, args, False

        def __lt__(self, other: HeapClock._Call) -> bool:
            return self.time < other.time

        def cancel(self) -> None:
            self.cancelled = True

    def __init__(self) -> None:
        self.now = 0.0
        self.heap: list[HeapClock._Call] = []

    def seconds(self) -> float:
        return self.now

    def callLater(self, delay: float, fn: Any, *args: Any) -> HeapClock._Call:
        call = self._Call(self.now + delay, fn, args)
        heapq.heappush(self.heap, call)
        return call

    def advance(self, seconds: float) -> None:
        self.now += seconds
        while self.heap and self.heap[0].time <= self.now:
            call = heapq.heappop(self.heap)
            if not call.cancelled:
                call.fn(*call.args)


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    import resource

    return pages * resource.getpagesize() / 2**20


def plan(i: int, mode: CallMode = CallMode.A_FIRST) -> CallPlan:
    return CallPlan(call_id=f"call-{i}", request_id=f"req-{i}", attempt=1, leg_a_number=f"+3361{i:07d}",
                    leg_a_caller_id="+33100000000", leg_b_number=f"+4477009{i:05d}", leg_b_caller_id=f"+3361{i:07d}",
                    leg_a_limit=7200, leg_b_limit=7200, ring_timeout=30,
                    prompt=Prompt(language="en", max_seconds=7200, balance_minor=5000, currency="EUR"), mode=mode)


class EngineFastPath:
    """What ``CallbackEngine._on_leg_event`` does for an event that needs no database write."""

    def __init__(self, calls: int) -> None:
        self.tracker = CallTracker()
        self.handled = 0
        now = datetime.now(UTC)
        for i in range(calls):
            request = CallbackRequest(id=f"req-{i}", channel=Channel.API, requester=f"+3361{i:07d}",
                                      destination_raw="x", callback_raw=None, language="en", created_at=now)
            live = self.tracker.track(request, 5000, "EUR")
            live.start_attempt(plan(i))
            self.tracker.bind(f"call-{i}", live)

    def __call__(self, event: LegEvent) -> None:
        live = self.tracker.by_call(event.call_id)
        if live is not None:
            live.observe(event)
            live.pending_states()
        self.handled += 1


def bench_simulated(calls: int) -> dict[str, Any]:
    from roamback.switch_adapters.simulated import SimulatedSwitch

    clock = HeapClock()
    switch = SimulatedSwitch(TwistedRuntime(clock), ring_seconds=4, prompt_seconds=5, talk_seconds=3600)
    engine = EngineFastPath(calls)
    switch.subscribe(engine)
    base = rss_mib()
    started = time.perf_counter()
    for i in range(calls):
        Deferred.fromCoroutine(switch.originate(plan(i)))
    for step in (0, 4, 5, 4):  # dial A, A answers, prompt over and B dialled, B answers: all bridged
        clock.advance(step)
    held_rss = rss_mib()
    for i in range(calls):
        Deferred.fromCoroutine(switch.hangup(f"call-{i}"))
    elapsed = time.perf_counter() - started
    return {"calls": calls, "events": engine.handled, "events_per_s": engine.handled / elapsed,
            "rss_mib_held": held_rss, "rss_mib_before": base}


class _StubRest:
    """ARI REST answered in memory: every request succeeds at once."""

    async def _ok(self, *args: Any, **kwargs: Any) -> None:
        return None

    originate = hangup = play = ring = ring_stop = set_variable = create_bridge = add_channel = _ok
    play_bridge = delete_bridge = _ok

    async def close(self) -> None:
        return None


def _ari_events(i: int, t0: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    def ts(seconds: float) -> str:
        return (t0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"

    a, b, bridge = f"rb-call-{i}-a", f"rb-call-{i}-b", {"id": f"rb-call-{i}-bridge"}
    setup = [
        {"type": "Dial", "peer": {"id": a}, "dialstatus": "RINGING", "timestamp": ts(1)},
        {"type": "StasisStart", "channel": {"id": a}, "timestamp": ts(4)},
        {"type": "PlaybackFinished", "playback": {"id": f"rb-call-{i}-prompt"}, "timestamp": ts(9)},
        {"type": "ChannelEnteredBridge", "channel": {"id": a}, "bridge": bridge, "timestamp": ts(9)},
        {"type": "Dial", "peer": {"id": b}, "dialstatus": "RINGING", "timestamp": ts(10)},
        {"type": "StasisStart", "channel": {"id": b}, "timestamp": ts(13)},
        {"type": "ChannelEnteredBridge", "channel": {"id": b}, "bridge": bridge, "timestamp": ts(13)},
    ]
    teardown = [
        {"type": "ChannelDestroyed", "channel": {"id": b}, "cause": 16, "timestamp": ts(60)},
        {"type": "ChannelDestroyed", "channel": {"id": a}, "cause": 16, "timestamp": ts(60)},
    ]
    return setup, teardown


def bench_ari(calls: int) -> dict[str, Any]:
    from roamback.switch_adapters.ari import AriSettings, AriSwitch

    clock = HeapClock()
    switch = AriSwitch(clock, AriSettings(id_prefix="rb-"), runtime=TwistedRuntime(clock))
    switch._rest = _StubRest()  # type: ignore[assignment]
    switch.connected_now = True
    engine = EngineFastPath(calls)
    switch.subscribe(engine)
    t0 = datetime.now(UTC)
    scripts = [_ari_events(i, t0) for i in range(calls)]
    base = rss_mib()
    started, cpu_started = time.perf_counter(), time.process_time()
    for i in range(calls):
        Deferred.fromCoroutine(switch.originate(plan(i)))
    fed = 0
    for setup, _ in scripts:
        for message in setup:
            switch.event(message)
        fed += len(setup)
    held_rss = rss_mib()
    for _, teardown in scripts:
        for message in teardown:
            switch.event(message)
        fed += len(teardown)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    assert engine.handled == calls * 8, engine.handled  # DIALLING/ANSWERED x2, BRIDGED, ENDED x2, CALL_ENDED
    # CPU time (originates included) is steadier than wall time on a shared VM.
    return {"calls": calls, "ari_events": fed, "ari_events_per_s": fed / elapsed, "leg_events": engine.handled,
            "cpu_us_per_ari_event": cpu / fed * 1e6, "rss_mib_held": held_rss, "rss_mib_before": base}


class _StubChannel:
    def basic_ack(self, delivery_tag: int) -> None:
        return None

    def basic_reject(self, delivery_tag: int, requeue: bool) -> None:
        return None


def bench_amqp(calls: int) -> dict[str, Any]:
    from roamback.switch_adapters.amqp_bus import AmqpBusSettings, AmqpSwitchBus, encode_event
    from roamback.switch_adapters.amqp_bus._messages import originate_command

    clock = HeapClock()
    bus = AmqpSwitchBus(clock, AmqpBusSettings(), runtime=TwistedRuntime(clock))
    engine = EngineFastPath(calls)
    bus.subscribe(engine)
    t0 = datetime.now(UTC)
    kinds = ["dialling", "answered", "dialling", "answered", "bridged", "ended", "ended", "call_ended"]
    legs = ["A", "A", "B", "B", None, "B", "A", None]
    bodies = []
    for i in range(calls):
        for n, (kind, leg) in enumerate(zip(kinds, legs, strict=True)):
            message = {"version": 1, "event_id": f"{i}-{n}", "call_id": f"call-{i}", "kind": kind,
                       "at": (t0 + timedelta(seconds=n)).isoformat(), "leg": leg,
                       "cause": "normal" if kind == "ended" else None}
            bodies.append(json.dumps(message).encode())
    channel = _StubChannel()
    started = time.perf_counter()
    for tag, body in enumerate(bodies):
        bus._on_message(channel, tag, body)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    encode_started = time.perf_counter()
    for i in range(calls):
        json.dumps(originate_command(plan(i), t0))
    encode_elapsed = time.perf_counter() - encode_started
    assert encode_event  # the switch side's encoder is the same module: imported to keep the contract in view
    return {"events": len(bodies), "events_per_s": len(bodies) / elapsed,
            "commands_encoded_per_s": calls / encode_elapsed, "rss_mib": rss_mib()}


PARTS = {"simulated": bench_simulated, "ari": bench_ari, "amqp": bench_amqp}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--part", choices=[*PARTS, "all"], default="all")
    args = parser.parse_args()
    if args.part != "all":
        print(json.dumps(PARTS[args.part](args.calls)))
        return
    print(f"# {platform.machine()} Python {platform.python_version()}, {args.calls} concurrent calls")
    for part in PARTS:
        out = subprocess.run([sys.executable, __file__, "--part", part, "--calls", str(args.calls)],
                             check=True, capture_output=True, text=True).stdout
        print(f"{part:10s} " + ", ".join(f"{k}={v:,.1f}" if isinstance(v, float) else f"{k}={v:,}"
                                         for k, v in json.loads(out).items()))


if __name__ == "__main__":
    main()
