"""Menu files: the default one loads; every kind of mistake is reported with its file and line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from roamback.ussd_menus import MenuError, MenuSession, default_menu_path, load_menu

from .fakes import ALICE, make_engine, run


@pytest.fixture
def menu_copy(tmp_path: Path) -> Path:
    """A private copy of the default menu and its texts, for tests that break it."""
    source = default_menu_path()
    shutil.copytree(source.parent / "texts", tmp_path / "texts")
    target = tmp_path / "menu.yaml"
    shutil.copy(source, target)
    return target


def edit(path: Path, old: str, new: str) -> int:
    """Replace ``old`` (which must occur once) and return the 1-based line it was on."""
    text = path.read_text("utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), "utf-8")
    return text[: text.index(old)].count("\n") + 1


def problems(path: Path) -> list[str]:
    with pytest.raises(MenuError) as caught:
        load_menu(path)
    return [str(problem) for problem in caught.value.problems]


def test_default_menu_loads_with_every_language_on_one_page_per_menu() -> None:
    menu = load_menu(default_menu_path())
    assert menu.languages == ("en", "fr", "es", "pt", "ar", "ru")
    assert menu.start == "main" and len(menu.version) == 12
    for language in menu.languages:
        assert len(menu.pages[("main", language)]) == 1  # '0 Help' is only allowed while main is one page


def test_unknown_action_names_file_and_line(menu_copy: Path) -> None:
    line = edit(menu_copy, "action: balance}", "action: balanse}")
    (found,) = problems(menu_copy)
    assert found.startswith(f"{menu_copy}:{line}: ") and "unknown action 'balanse'" in found


def test_dangling_goto_names_file_and_line(menu_copy: Path) -> None:
    line = edit(menu_copy, "goto: phonebook}", "goto: phone_book}")
    (found,) = problems(menu_copy)
    assert found == f"{menu_copy}:{line}: option '2' of screen 'main': goto 'phone_book', but there is no such screen"


def test_unrouted_outcome_and_bad_route_are_errors(menu_copy: Path) -> None:
    line = edit(menu_copy, "on: {has_pin: pin_current, no_pin: pin_new}", "on: {has_pin: pin_current, nopin: x}")
    found = problems(menu_copy)
    assert any(f":{line}: " in p and "has no outcome 'nopin'" in p for p in found)
    assert any(f":{line}: " in p and "outcome 'no_pin' of 'start_pin_change' must be routed" in p for p in found)


def test_page_that_can_never_fit_names_the_text_file_and_line(menu_copy: Path) -> None:
    ru = menu_copy.parent / "texts" / "ru.yaml"
    line = edit(ru, 'confirmed: "{number} добавлен: теперь звоним и на него."',
                'confirmed: "{number} добавлен: теперь мы можем перезванивать вам и на этот номер тоже."')
    (found,) = problems(menu_copy)
    assert found.startswith(f"{ru}:{line}: text 'number.confirmed' is 8") and "one page holds 80" in found


def test_screen_too_long_for_a_page_names_the_screen(menu_copy: Path) -> None:
    ar = menu_copy.parent / "texts" / "ar.yaml"
    edit(ar, 'invalid_pin: "الرمز من 4 إلى 6 أرقام."', 'invalid_pin: "' + "رمز " * 20 + '"')
    line = edit(menu_copy, "  pin_current:\n", "  pin_current:\n") + 1
    found = problems(menu_copy)
    assert any(p.startswith(f"{menu_copy}:{line}: screen 'pin_current' cannot fit one page in 'ar'") for p in found)


def test_unknown_placeholder_missing_text_and_duplicate_key(menu_copy: Path) -> None:
    fr = menu_copy.parent / "texts" / "fr.yaml"
    edit(fr, '  help: "Aide"\n', "")
    line = edit(fr, 'wrong_code: "Code erroné."', 'wrong_code: "Code {code} erroné."')
    found = problems(menu_copy)
    assert f"{fr}:{line}: text 'number.wrong_code': unknown placeholder {{code}}" in " ".join(found)
    assert any("text 'main.help' is missing from" in p and str(fr) in p for p in found)
    dup = edit(menu_copy, "  call_on:\n", "  main:\n    title: main.title\n  call_on:\n")
    (duplicate,) = problems(menu_copy)
    assert duplicate.startswith(f"{menu_copy}:{dup}: ") and "'main' appears twice" in duplicate


def test_yaml_syntax_error_and_collected_problems(menu_copy: Path) -> None:
    line = edit(menu_copy, "keys: {more: \"98\", back: \"0\"}", "keys: {more: \"98\", back: [\"0\"}")
    (found,) = problems(menu_copy)
    assert found.startswith(f"{menu_copy}:{line}:")
    menu_copy.write_text("start: nowhere\nlanguages: [en, xx]\nscreens: {a: {title: t}}\n", "utf-8")
    found = problems(menu_copy)
    assert f"{menu_copy}:2: language 'xx' has no text file" in " ".join(found)
    assert any(p.startswith(f"{menu_copy}:3: screen 'a' needs exactly one of") for p in found)


def test_failed_reload_keeps_the_running_menu(menu_copy: Path) -> None:
    engine, actions, _ = make_engine()
    actions.add()
    version = engine.menu.version
    edit(menu_copy, "action: balance}", "action: nope}")
    with pytest.raises(MenuError):
        engine.reload(menu_copy)
    assert engine.menu.version == version


def test_reload_keeps_open_dialogues_by_screen_id(menu_copy: Path) -> None:
    engine, actions, _ = make_engine()
    actions.add()
    on_phonebook, on_language = MenuSession("a", ALICE), MenuSession("b", ALICE)
    run(engine.begin(on_phonebook, "*123#"))
    run(engine.answer(on_phonebook, "2"))
    run(engine.begin(on_language, "*123#"))
    run(engine.answer(on_language, "6"))
    edit(menu_copy.parent / "texts" / "en.yaml", 'add: "Add an entry"', 'add: "New entry"')
    edit(menu_copy, "  language:\n    title: language.title", "  languages:\n    title: language.title")
    edit(menu_copy, "goto: language}", "goto: languages}")
    assert engine.reload(menu_copy) != load_menu(default_menu_path()).version
    assert "2 New entry" in run(engine.answer(on_phonebook, "9")).text  # same screen, new texts
    restarted = run(engine.answer(on_language, "1"))  # its screen is gone: back at the start, not dropped
    assert not restarted.close and restarted.text.startswith("Call-back\n1 Call back a number")
