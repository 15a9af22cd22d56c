"""USSD bookkeeping steps per second: classify + dialogue table + reply, no SMPP and no menu engine.

Each dialogue is a Begin, three Continues and our closing reply (five steps), on the dialect given. Dialogues
run --concurrent at a time in waves, so the table holds that many live dialogues and the heap, the expiry
scan and next_deadline() work at a realistic size; simulated time moves one second per wave. The target is
5,000 steps/s on one core.

    python benchmarks/bench_ussd_dialogues.py --dialogues 100000 --concurrent 5000 --dialect 6d
"""

from __future__ import annotations

import argparse
import platform
import time

from roamback.gateway.ussd import (
    PRESETS,
    Begin,
    Continue,
    Dialogue,
    DialogueTable,
    UssdIndication,
    build_reply,
    classify,
)

CONTINUES = 3
STEPS_PER_DIALOGUE = 2 + CONTINUES  # begin, continues, close


def run(dialogues: int, concurrent: int, dialect_name: str) -> tuple[int, float, int]:
    """Returns (steps, seconds, dialogues expired by the timer: should be 0)."""
    dialect = PRESETS[dialect_name]
    begin_op, continue_op = dialect.begin_ops[0], dialect.continue_ops[0]
    table = DialogueTable(screen_timeout=30, dialogue_timeout=180)
    msisdns = [f"4477009{n:05d}" for n in range(concurrent)]
    steps = expired = 0
    now = 0.0
    started = time.perf_counter()
    for first in range(0, dialogues, concurrent):
        wave = range(min(concurrent, dialogues - first))
        infos = [bytes(((first + n) & 0xFF, 0)) for n in wave]
        dialogues_now: list[Dialogue] = []
        for n in wave:
            indication = UssdIndication(msisdns[n], begin_op, "*123#", infos[n], first + n)
            event = classify(indication, dialect)
            assert isinstance(event, Begin)
            dialogue = table.open(event.key, indication, now).dialogue
            dialogues_now.append(dialogue)
            build_reply(dialect, dialogue, "1 Call back\n2 Balance", close=False)
        for round_ in range(CONTINUES):
            now += 1.0
            for n in wave:
                info = bytes((infos[n][0], (round_ + 1) << 1))
                indication = UssdIndication(msisdns[n], continue_op, "1", info, first + n)
                event = classify(indication, dialect)
                assert isinstance(event, Continue)
                dialogue = table.resume(event.key, indication, now)
                assert isinstance(dialogue, Dialogue)
                build_reply(dialect, dialogue, "Number?", close=False)
            expired += len(table.expire(now))
            table.next_deadline()
        for dialogue in dialogues_now:
            build_reply(dialect, dialogue, "Calling you back now.", close=True)
            table.close(dialogue.key)
        steps += len(wave) * STEPS_PER_DIALOGUE
    return steps, time.perf_counter() - started, expired


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dialogues", type=int, default=100_000)
    parser.add_argument("--concurrent", type=int, default=5_000)
    parser.add_argument("--dialect", choices=sorted(PRESETS), default="smpp34")
    args = parser.parse_args(argv)
    steps, seconds, expired = run(args.dialogues, args.concurrent, args.dialect)
    print(f"python {platform.python_version()} on {platform.machine()}, dialect {args.dialect}")
    print(f"{args.dialogues} dialogues ({args.concurrent} live at a time), {steps} steps in {seconds:.2f} s: "
          f"{steps / seconds:,.0f} steps/s ({args.dialogues / seconds:,.0f} dialogues/s); expired {expired}")


if __name__ == "__main__":
    main()
