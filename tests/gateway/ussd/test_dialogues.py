"""DialogueTable: open, resume, close, abort, replace, the two timeouts, and its memory per dialogue."""

from __future__ import annotations

import gc
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roamback.gateway.ussd import (
    Dialogue,
    DialogueTable,
    Expired,
    NoDialogue,
    Timeout,
    UssdIndication,
)

SCREEN, LIFETIME = 30.0, 180.0


def table() -> DialogueTable:
    return DialogueTable(screen_timeout=SCREEN, dialogue_timeout=LIFETIME)


def ind(msisdn: str = "447700900123", info: bytes = b"\x01\x00", text: str = "*123#") -> UssdIndication:
    return UssdIndication(msisdn, 1, text, its_session_info=info, user_message_reference=5, service_code="123")


def live(dialogues: DialogueTable, key: object) -> Dialogue:
    dialogue = dialogues.get(key)
    assert dialogue is not None
    return dialogue


def test_open_then_resume_then_close() -> None:
    dialogues = table()
    opened = dialogues.open("k", ind(), 100.0, language="fr")
    dialogue = opened.dialogue
    assert opened.replaced is None
    assert (dialogue.key, dialogue.msisdn, dialogue.language) == ("k", "447700900123", "fr")
    assert dialogue.service_code == "123"
    assert (dialogue.screen_deadline, dialogue.dialogue_deadline, dialogue.steps) == (130.0, 280.0, 1)
    assert "k" in dialogues and len(dialogues) == 1
    dialogue.state = {"menu": "main"}

    resumed = dialogues.resume("k", ind(info=b"\x01\x02", text="2"), 110.0)
    assert resumed is dialogue
    assert (dialogue.its_session_info, dialogue.steps, dialogue.screen_deadline) == (b"\x01\x02", 2, 140.0)
    assert dialogue.state == {"menu": "main"}  # the engine's slot is never touched

    assert dialogues.close("k") is dialogue
    assert "k" not in dialogues
    assert dialogues.close("k") is None
    assert dialogues.next_deadline() is None
    assert dialogues.expire(1e9) == []
    counts = dialogues.counts
    assert (counts.opened, counts.closed, counts.aborted, counts.expired) == (1, 1, 0, 0)


def test_abort() -> None:
    dialogues = table()
    dialogue = dialogues.open("k", ind(), 0.0).dialogue
    assert dialogues.abort("k") is dialogue
    assert dialogues.abort("k") is None
    assert dialogues.resume("k", ind(), 1.0) == NoDialogue("k")
    assert (dialogues.counts.aborted, dialogues.counts.unknown) == (1, 1)


def test_unknown_key() -> None:
    dialogues = table()
    assert dialogues.resume(("447700900123", 9), ind(), 0.0) == NoDialogue(("447700900123", 9))
    assert dialogues.counts.unknown == 1


def test_begin_on_a_live_key_replaces_and_reports() -> None:
    dialogues = table()
    first = dialogues.open("k", ind(), 0.0).dialogue
    opened = dialogues.open("k", ind(text="*123*4477#"), 5.0)
    assert opened.replaced is first
    assert live(dialogues, "k") is opened.dialogue and len(dialogues) == 1
    # the old dialogue's timer is gone: only the new one expires, at its own deadline
    assert dialogues.next_deadline() == 35.0
    assert dialogues.expire(34.0) == []
    assert dialogues.expire(35.0) == [Expired(opened.dialogue, Timeout.SCREEN)]
    assert dialogues.counts.replaced == 1


def test_screen_timeout_moves_with_each_step() -> None:
    dialogues = table()
    dialogue = dialogues.open("k", ind(), 0.0).dialogue
    assert dialogues.next_deadline() == 30.0
    dialogues.resume("k", ind(), 20.0)
    assert dialogues.expire(30.0) == []
    assert dialogues.next_deadline() == 50.0
    dialogues.touch(dialogue, 25.0)  # a reply went out a little later than the step came in
    assert dialogues.next_deadline() == 55.0
    assert dialogues.expire(55.0) == [Expired(dialogue, Timeout.SCREEN)]
    assert dialogues.get("k") is None


def test_dialogue_timeout_caps_an_active_dialogue() -> None:
    dialogues = table()
    dialogue = dialogues.open("k", ind(), 0.0).dialogue
    for now in range(20, 180, 20):
        assert dialogues.expire(float(now)) == []
        assert dialogues.resume("k", ind(), float(now)) is dialogue
    assert dialogues.next_deadline() == 180.0
    assert dialogues.expire(180.0) == [Expired(dialogue, Timeout.DIALOGUE)]


def test_expire_returns_earliest_first() -> None:
    dialogues = table()
    late = dialogues.open("late", ind(), 10.0).dialogue
    early = dialogues.open("early", ind(), 0.0).dialogue
    middle = dialogues.open("middle", ind(), 5.0).dialogue
    dialogues.open("alive", ind(), 50.0)
    assert dialogues.expire(45.0) == [Expired(d, Timeout.SCREEN) for d in (early, middle, late)]
    assert len(dialogues) == 1 and dialogues.next_deadline() == 80.0


def test_a_late_timer_does_not_let_a_dead_dialogue_continue() -> None:
    dialogues = table()
    dialogue = dialogues.open("k", ind(), 0.0).dialogue
    assert dialogues.resume("k", ind(), 31.0) == NoDialogue("k", dialogue)
    assert "k" not in dialogues
    assert dialogues.expire(100.0) == []  # reported once, by resume
    assert dialogues.counts.expired == 1


def test_clock_going_back_still_expires_on_time() -> None:
    dialogues = table()
    dialogue = dialogues.open("k", ind(), 100.0).dialogue
    dialogues.touch(dialogue, 50.0)
    assert dialogues.next_deadline() == 80.0
    assert dialogues.expire(80.0) == [Expired(dialogue, Timeout.SCREEN)]
    assert dialogues.next_deadline() is None


def test_timeouts_are_checked() -> None:
    with pytest.raises(ValueError):
        DialogueTable(screen_timeout=60, dialogue_timeout=30)
    with pytest.raises(ValueError):
        DialogueTable(screen_timeout=0, dialogue_timeout=30)


def test_stale_entries_are_compacted() -> None:
    dialogues = table()
    for n in range(5000):
        dialogues.open(n, ind(), 0.0)
        dialogues.close(n)
    assert len(dialogues._heap) <= 1025
    dialogues.open("k", ind(), 1.0)
    assert dialogues.next_deadline() == 31.0


def test_memory_per_dialogue_is_bounded() -> None:
    """Each open dialogue, with its key, heap entry, MSISDN and session info, stays far below 4 KiB."""
    count = 10_000
    dialogues = table()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(count):
            msisdn = f"4477009{n:05d}"
            indication = UssdIndication(msisdn, 1, "*123#", its_session_info=bytes((n & 0xFF, 0)))
            dialogues.open((msisdn, n & 0xFF), indication, float(n) / 1000, language="en").dialogue.state = n
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    per_dialogue = (after - before) / count
    assert len(dialogues) == count
    assert per_dialogue <= 4096, per_dialogue


OPERATIONS = st.lists(
    st.tuples(st.sampled_from(["open", "resume", "close", "abort", "expire"]), st.integers(0, 4),
              st.floats(0, 60)),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(OPERATIONS)
def test_matches_a_naive_model(operations: list[tuple[str, int, float]]) -> None:
    """Against a plain dict of deadlines: same live set, same expiries, earliest first, exact next deadline."""
    dialogues = table()
    model: dict[int, tuple[float, float]] = {}  # key -> (screen deadline, dialogue deadline)
    now = 0.0
    for action, key, step in operations:
        now += step
        if action == "open":
            dialogues.open(key, ind(), now)
            model[key] = (now + SCREEN, now + LIFETIME)
        elif action == "resume":
            result = dialogues.resume(key, ind(), now)
            if key in model and min(model[key]) > now:
                assert isinstance(result, Dialogue)
                model[key] = (now + SCREEN, model[key][1])
            else:
                assert isinstance(result, NoDialogue)
                model.pop(key, None)
        elif action in ("close", "abort"):
            removed = getattr(dialogues, action)(key)
            assert (removed is not None) == (model.pop(key, None) is not None)
        else:
            expired = dialogues.expire(now)
            due = {k for k, deadlines in model.items() if min(deadlines) <= now}
            assert {e.dialogue.key for e in expired} == due
            deadlines = [e.dialogue.deadline for e in expired]
            assert deadlines == sorted(deadlines)
            for k in due:
                del model[k]
        assert set(dialogues._live) == set(model)
        assert dialogues.next_deadline() == min((min(d) for d in model.values()), default=None)
