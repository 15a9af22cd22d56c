"""The engine on the default menu over an in-memory double: every screen kind, navigation, one-shots,
errors, timeouts on a fake clock, secrets, and the memory one dialogue costs."""

from __future__ import annotations

import gc
import tracemalloc

from roamback.ussd_menus import EndReason, MemoryStore, MenuSession

from .fakes import ALICE, make_engine, run

S = MenuSession("s1", ALICE)


def walk(engine, *answers: str, session: MenuSession = S, dial: str = "*123#"):
    screen = run(engine.begin(session, dial))
    for answer in answers:
        assert not screen.close, screen
        screen = run(engine.answer(session, answer))
    return screen


def test_call_back_a_number_closes_with_the_cores_text() -> None:
    engine, actions, _ = make_engine()
    actions.add()
    screen = walk(engine, "1", "0049 151 12345678")
    assert screen.close and screen.text.startswith("Call-back accepted")
    assert actions.callbacks == [(ALICE, "+4915112345678", ALICE, "en")]  # normalised, own phone as leg A
    assert len(engine.store) == 0  # a closed dialogue leaves nothing behind


def test_registered_number_offers_a_choice_of_leg_a() -> None:
    engine, actions, _ = make_engine()
    actions.add()
    actions.confirmed[ALICE] = ["+33698765432"]
    screen = walk(engine, "1", "+4915112345678")
    assert screen.text == "Call you on:\n1 This phone\n2 +33698765432\n0 Back"
    assert run(engine.answer(S, "2")).close
    assert actions.callbacks[-1][2] == "+33698765432"


def test_invalid_answers_reprompt_then_close_after_max_errors() -> None:
    engine, actions, _ = make_engine(max_errors=2)
    actions.add()
    assert walk(engine, "9").text.startswith("Invalid choice.\n1 Call back a number")  # error replaces the title
    assert run(engine.answer(S, "1")).text == "Number to call, with country code:\n0 Back"
    assert run(engine.answer(S, "12")).text == "Invalid number.\nNumber to call, with country code:\n0 Back"
    assert run(engine.answer(S, "x")).text == "Too many errors. Please dial again."


def test_back_returns_to_the_previous_screen() -> None:
    engine, actions, _ = make_engine()
    actions.add()
    assert walk(engine, "5", "1", "0", "0").text.startswith("Call-back\n1 Call back")


def test_long_phone_book_paginates_with_more_and_back() -> None:
    engine, actions, _ = make_engine()
    actions.add(language="ru")
    actions.books[ALICE] = {n: (f"Контакт {n}", f"+3361234{n:04d}") for n in range(1, 21)}
    first = walk(engine, "2", "1")
    assert first.text.startswith("Выберите контакт:\n1 Контакт 1 +33612340001") and "98 Далее" in first.text
    seen, screen = [first.text], first
    while "98 Далее" in screen.text:
        screen = run(engine.answer(S, "98"))
        seen.append(screen.text)
    assert len(seen) > 3 and all(len(page) <= 80 for page in seen)
    assert "20 Контакт 20" in seen[-1] and run(engine.answer(S, "0")).text == seen[-2]
    assert run(engine.answer(S, "17")).close  # any position, not only those on the page shown
    assert actions.callbacks[-1][1] == "+33612340017"


def test_one_shot_number_index_and_unknown_code() -> None:
    engine, actions, _ = make_engine()
    actions.add()
    actions.books[ALICE] = {3: ("Mum", "+33611111111")}
    assert run(engine.begin(S, "*123*3#")).close
    assert actions.callbacks[-1][1] == "+33611111111"
    assert run(engine.begin(S, "*123*4#")).text == "There is no entry 4."
    assert run(engine.begin(S, "*123*+4915112345678#")).text.startswith("Call-back accepted")
    assert run(engine.begin(S, "*999#")).text == "Not recognised. Dial *123# for the menu."
    assert run(engine.begin(MenuSession("x", "+33699999999"), "*123#")).text.startswith(
        "Call-back is not available for this number.")


def test_phonebook_add_remove_and_redial() -> None:
    engine, actions, _ = make_engine()
    actions.add()
    assert walk(engine, "3").text == "You have no earlier call-back to redial."
    assert walk(engine, "2", "2", "Léa", "06 11 22 33 44").text == "Saved as entry 1."
    assert actions.books[ALICE][1] == ("Léa", "+33611223344")
    assert walk(engine, "2", "3", "1").text == "Entry 1 removed."
    assert walk(engine, "2", "1").text == "Your phone book is empty."
    walk(engine, "1", "+4915112345678")
    assert walk(engine, "3").close and actions.callbacks[-1][1] == "+4915112345678"


def test_register_and_confirm_a_callback_number() -> None:
    engine, actions, _ = make_engine()
    actions.add()
    assert walk(engine, "5", "1", "+44 7911 123456").text == "Enter the code sent by SMS to +447911123456:\n0 Back"
    assert run(engine.answer(S, "000000")).text.startswith("Wrong code.\nEnter the code sent by SMS to")
    assert run(engine.answer(S, "123456")).text == "+447911123456 is registered: we can now call you on it."
    assert walk(engine, "5", "1", ALICE).text == f"{ALICE} is your own number: no need to register it."


def test_language_change_answers_in_the_new_language() -> None:
    engine, actions, _ = make_engine()
    actions.add()
    assert walk(engine, "6", "5").text == "اللغة: العربية."
    assert actions.subscribers[ALICE].language == "ar"
    assert walk(engine).text.startswith("القائمة\n1 اتصل برقم")


def test_pin_change_keeps_no_pin_in_the_dialogue() -> None:
    engine, actions, _ = make_engine()
    actions.add()
    assert walk(engine, "7").text.startswith("New PIN")  # no PIN yet: no current PIN asked
    assert run(engine.answer(S, "1234")).text.startswith("Repeat the new PIN")
    state = run(engine.store.get(S.id))
    assert "1234" not in repr(state)
    assert run(engine.answer(S, "1235")).text.startswith("The PINs differ.")
    assert "pin_new" not in run(engine.store.get(S.id)).values  # consumed by the action, even on failure
    actions.pins[ALICE] = "1234"
    assert walk(engine, "7", "9999").text.startswith("Wrong PIN.\nCurrent PIN")
    assert walk(engine, "7", "1234", "654321", "654321").text == "Your PIN has been changed."
    assert actions.pins[ALICE] == "654321"


def test_failing_action_closes_with_unavailable() -> None:
    engine, actions, _ = make_engine()
    actions.add()
    actions.fail = True
    assert walk(engine, "1", "+4915112345678").text == "Service unavailable. Please try again later."
    assert len(engine.store) == 0


def test_screen_and_dialogue_timeouts_on_a_fake_clock() -> None:
    engine, actions, clock = make_engine(screen_timeout=30, dialogue_timeout=100, notify_on_timeout=True)
    actions.add(language="fr")
    walk(engine, "2")
    clock.advance(31)
    assert run(engine.answer(S, "1")).text == "Votre session est terminée. Veuillez recomposer."
    assert actions.notices == [(ALICE, "fr", "ussd.timeout",
                                "Le menu de rappel a expiré. Composez *123# pour recommencer.")]
    walk(engine)
    for step in range(3):  # each answer restarts the screen timer, not the dialogue's
        clock.advance(29)
        assert not run(engine.answer(S, "2" if step % 2 == 0 else "0")).close
    clock.advance(14)
    assert run(engine.answer(S, "2")).close
    assert len(actions.notices) == 2


def test_expire_sweeps_idle_dialogues_and_end_forgets() -> None:
    engine, actions, clock = make_engine(screen_timeout=30, notify_on_timeout=True)
    actions.add()
    walk(engine, session=MenuSession("a", ALICE))
    walk(engine, session=MenuSession("b", ALICE))
    clock.advance(10)
    run(engine.end("b", EndReason.ABORTED))
    assert run(engine.expire()) == 0 and len(engine.store) == 1
    clock.advance(25)
    assert run(engine.expire()) == 1 and len(engine.store) == 0
    assert [notice[2] for notice in actions.notices] == ["ussd.timeout"]  # none for the abort


def test_answer_from_another_msisdn_is_not_served() -> None:
    engine, actions, _ = make_engine()
    actions.add()
    walk(engine)
    assert run(engine.answer(MenuSession(S.id, "+33600000000"), "4")).text.startswith("Your session has ended")


def test_one_dialogue_costs_under_4_kib() -> None:
    engine, actions, _ = make_engine()
    actions.add()
    store = engine.store
    assert isinstance(store, MemoryStore)
    sessions = [MenuSession(f"smpp:+3361234{n:04d}:{n % 256}", ALICE) for n in range(2000)]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for session in sessions:  # each dialogue two screens deep with a value typed: a realistic state
        run(engine.begin(session, "*123#"))
        run(engine.answer(session, "2"))
        run(engine.answer(session, "2"))
        run(engine.answer(session, "Someone"))
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    per_dialogue = sum(stat.size_diff for stat in after.compare_to(before, "filename")) / len(sessions)
    assert len(store) == len(sessions)
    assert 100 < per_dialogue <= 4096, per_dialogue
