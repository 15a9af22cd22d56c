"""Pages and their alphabets: GSM pages get 182 septets, any other script 80 UCS2 units, decided per page."""

from __future__ import annotations

import pytest

from roamback.gateway.sms.encoding import GSM_DEFAULT, UCS2, choose_data_coding, decode, encode_as
from roamback.ussd_menus import MenuSession, PageLimits, fit_text, paginate
from roamback.ussd_menus.render import Nav, PageOverflow

from .fakes import ALICE, make_engine, run

NAV = Nav("98", "More", "0", "Back")


def test_limit_is_decided_by_each_pages_own_text() -> None:
    limits = PageLimits()
    assert limits.units("a" * 182) == (182, 182)
    assert limits.units("€" * 91) == (182, 182)  # extension table: two septets each
    assert limits.units("Zoë" + "a" * 77) == (80, 80)  # one non-GSM letter: the page goes UCS2
    lines = [f"{n} {'Zoë' if n == 1 else 'Bob'} +3361234000{n}" for n in range(1, 10)]
    pages = paginate("Entries:", lines, NAV, limits, back=True)
    assert all(limits.fits(page) for page in pages)
    assert "Zoë" in pages[0] and limits.units(pages[0])[1] == 80
    assert len(pages[0].splitlines()) < len(pages[1].splitlines())  # later GSM pages hold more lines


def test_pagination_keeps_every_line_once_in_order() -> None:
    lines = [f"{n} Entry {n}" for n in range(1, 60)]
    pages = paginate("Title", lines, NAV, PageLimits(gsm=60, ucs2=30), back=False)
    shown = [line for page in pages for line in page.splitlines() if line not in ("Title", "98 More", "0 Back")]
    assert shown == lines
    assert "0 Back" not in pages[0] and all("0 Back" in page for page in pages[1:])
    assert all("98 More" in page for page in pages[:-1]) and "98 More" not in pages[-1]
    with pytest.raises(PageOverflow):
        paginate("Title", ["x" * 50], NAV, PageLimits(gsm=40, ucs2=20), back=True)


def test_fit_text_drops_advice_sentences_then_cuts_at_a_word() -> None:
    limits = PageLimits(gsm=182, ucs2=80)
    text = "Ваш баланс слишком мал для обратного звонка. Пожалуйста, пополните счёт и попробуйте снова."
    assert fit_text(text, limits) == "Ваш баланс слишком мал для обратного звонка."
    long_sentence = "слово " * 30
    cut = fit_text(long_sentence, limits)
    assert cut.endswith("...") and limits.fits(cut) and cut.startswith("слово слово")
    assert fit_text("short", limits) == "short"


@pytest.mark.parametrize(("language", "first_line"), [("ar", "القائمة"), ("ru", "Меню")])
def test_arabic_and_cyrillic_pages_travel_as_ucs2_in_logical_order(language: str, first_line: str) -> None:
    engine, actions, _ = make_engine()
    actions.add(language=language)
    screen = run(engine.begin(MenuSession("s", ALICE), "*123#"))
    lines = screen.text.splitlines()
    assert lines[0] == first_line
    assert [line.split(" ", 1)[0] for line in lines[1:]] == ["1", "2", "3", "4", "5", "6", "7", "0"]
    assert not any(ch in screen.text for ch in "\u200e\u200f\u202a\u202b\u202c\u202d\u202e")  # no bidi controls
    assert choose_data_coding(screen.text) == UCS2
    payload = encode_as(screen.text, UCS2)
    assert len(payload) <= 160 and decode(payload, UCS2) == screen.text  # 80 UCS2 units = 160 octets


def test_english_and_french_menus_stay_in_the_gsm_alphabet() -> None:
    for language in ("en", "fr", "es", "pt"):
        engine, actions, _ = make_engine()
        actions.add(language=language)
        screen = run(engine.begin(MenuSession("s", ALICE), "*123#"))
        assert choose_data_coding(screen.text) == GSM_DEFAULT, language
        assert decode(encode_as(screen.text, GSM_DEFAULT), GSM_DEFAULT) == screen.text
