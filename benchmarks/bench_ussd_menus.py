"""USSD menu transitions per second in process, and memory per open dialogue.

Drives the real ``MenuEngine`` on the packaged default menu with the in-process ``MemoryStore`` and a
``MenuActions`` that only knows the subscribers (navigation never calls the rest of the service). Each
dialogue opens with ``*123#`` and then walks sub-menus and back (main -> phone book -> back -> callback
numbers -> back -> language -> back ...); every answer is one transition, rendered page included. Dialogues
are interleaved --concurrent at a time, so the store holds that many. Targets: 50,000 transitions/s on one
core; at most 4 KiB per open dialogue.

    python benchmarks/bench_ussd_menus.py --dialogues 20000 --steps 10 --concurrent 5000
"""

from __future__ import annotations

import argparse
import gc
import platform
import time
import tracemalloc
from typing import Any

from roamback.core.messages import MessageCatalog
from roamback.core.model import Subscriber
from roamback.ussd_menus import MemoryStore, MenuEngine, MenuSession, MenuSettings, default_menu_path, load_menu

WALK = ("2", "0", "5", "0", "6", "0", "98", "1", "0", "2")  # "98" on a one-page menu is an invalid answer


class SubscribersOnly:
    """Navigation needs only the subscriber (language, home region) at the start of a dialogue."""

    def __init__(self, subscribers: dict[str, Subscriber]) -> None:
        self._subscribers = subscribers

    async def subscriber(self, msisdn: str) -> Subscriber | None:
        return self._subscribers.get(msisdn)


def run(coro: Any) -> Any:
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    raise RuntimeError("a navigation step waited on I/O")


def build(count: int, language: str) -> tuple[MenuEngine, list[MenuSession]]:
    msisdns = [f"+3361{n:07d}" for n in range(count)]
    subscribers = {m: Subscriber(m, "FR", language=language, roaming=True) for m in msisdns}
    clock = [0.0]
    engine = MenuEngine(load_menu(default_menu_path()), actions=SubscribersOnly(subscribers),  # type: ignore[arg-type]
                        store=MemoryStore(), catalog=MessageCatalog.load(None, {}),
                        settings=MenuSettings(max_errors=1000), clock=lambda: clock[0])
    return engine, [MenuSession(f"smpp:{m}:{n % 256}", m) for n, m in enumerate(msisdns)]


def transitions(dialogues: int, steps: int, concurrent: int, language: str) -> tuple[int, float]:
    engine, sessions = build(concurrent, language)
    done = 0
    started = time.perf_counter()
    for _ in range(0, dialogues, concurrent):
        for session in sessions:
            run(engine.begin(session, "*123#"))
        for step in range(steps):
            answer = WALK[step % len(WALK)]
            for session in sessions:
                screen = run(engine.answer(session, answer))
                assert not screen.close
        done += steps * len(sessions)
    return done, time.perf_counter() - started


def memory_per_dialogue(count: int, language: str) -> float:
    engine, sessions = build(count, language)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for session in sessions:  # two screens deep, a name typed: a realistic open dialogue
        run(engine.begin(session, "*123#"))
        for answer in ("2", "2", "Someone"):
            run(engine.answer(session, answer))
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    return sum(stat.size_diff for stat in after.compare_to(before, "filename")) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dialogues", type=int, default=20_000)
    parser.add_argument("--steps", type=int, default=10, help="answers per dialogue after *123#")
    parser.add_argument("--concurrent", type=int, default=5_000)
    parser.add_argument("--language", default="en")
    args = parser.parse_args()
    count, seconds = transitions(args.dialogues, args.steps, args.concurrent, args.language)
    per_dialogue = memory_per_dialogue(10_000, args.language)
    print(f"{platform.python_implementation()} {platform.python_version()} on {platform.machine()}, "
          f"language {args.language}")
    print(f"transitions: {count} in {seconds:.2f}s = {count / seconds:,.0f}/s (target 50,000/s)")
    print(f"memory: {per_dialogue:,.0f} bytes per open dialogue (target <= 4096)")


if __name__ == "__main__":
    main()
