"""The whole default menu, in every language, on the real service: SQL store, ledger, simulated switch."""

from __future__ import annotations

import re

import pytest
import pytest_twisted
from twisted.internet import reactor

from roamback.core.messages import format_money
from roamback.core.states import RequestState
from roamback.storage.directory import TableDirectory
from roamback.storage.schema import callback_requests, notice_outbox, phonebook_entries, subscribers
from roamback.ussd_menus import (
    CoreMenuActions,
    MemoryStore,
    MenuEngine,
    MenuSession,
    MenuSettings,
    PageLimits,
    default_menu_path,
    load_menu,
)

from ..core.harness import ALICE, DEST_OK, make_harness, roamer
from .fakes import LANGUAGES

MENU = load_menu(default_menu_path())
OTHER_PHONE = "+33698765432"
LIMITS = PageLimits()


class Dialer:
    """Dials and answers like a handset, checking every page fits one message."""

    def __init__(self, engine: MenuEngine) -> None:
        self.engine = engine
        self.count = 0

    async def walk(self, *answers: str, dial: str = "*123#"):
        self.count += 1
        session = MenuSession(f"walk-{self.count}", ALICE)
        screen = await self.engine.begin(session, dial)
        for answer in answers:
            assert LIMITS.fits(screen.text) and not screen.close, screen
            screen = await self.engine.answer(session, answer)
        assert LIMITS.fits(screen.text), screen
        return screen


@pytest.mark.parametrize("language", LANGUAGES)
@pytest_twisted.ensureDeferred
async def test_every_branch_of_the_default_menu(sqlite_database, language: str) -> None:
    h = await make_harness(sqlite_database)
    await h.add_roamer(roamer(language=language), credit_minor=5000)
    actions = CoreMenuActions(engine=h.engine, db=h.db, directory=TableDirectory(h.db), charging=h.charging,
                              now=h.runtime.now)
    engine = MenuEngine(MENU, actions=actions, store=MemoryStore(), catalog=h.engine.catalog,
                        settings=MenuSettings(), clock=reactor.seconds)
    texts = MENU.texts[language]
    d = Dialer(engine)

    async def idle() -> None:
        await h.until(lambda: h.engine.live_count == 0)

    main = await d.walk()
    assert main.text.startswith(texts["main.title"]) and f"1 {texts['main.call']}" in main.text
    balance = format_money(5000, "EUR", language)
    assert (await d.walk("4")).text == h.engine.catalog.render("balance", language, balance=balance)
    assert (await d.walk("2", "2", "Mum", "+49 151 12345678")).text == texts["phonebook.added"].format(position=1)
    rows = await h.rows(phonebook_entries, msisdn=ALICE)
    assert [(r.position, r.name, r.phone) for r in rows] == [(1, "Mum", DEST_OK)]

    for answers in (("2", "1", "1"), ("3",)):  # call the phone book entry, then redial it
        accepted = (await d.walk(*answers)).text
        assert accepted == h.engine.catalog.render("accepted", language, max_minutes=accepted_minutes(accepted))
        await idle()
    requests = await h.rows(callback_requests, requester=ALICE)
    assert [r.destination for r in requests] == [DEST_OK, DEST_OK]

    code_sent = await d.walk("5", "1", OTHER_PHONE)  # register: the code goes by SMS to the other phone
    assert OTHER_PHONE in code_sent.text and not code_sent.close
    (sms,) = await h.rows(notice_outbox, msisdn=OTHER_PHONE)
    code = re.search(r"\b\d{6}\b", sms.body).group(0)
    assert sms.msg_key == "sms.code_text" and sms.language == language
    assert (await engine.answer(MenuSession(f"walk-{d.count}", ALICE), code)).text == \
        texts["number.confirmed"].format(number=OTHER_PHONE)
    await d.walk("1", "+4915112345678", "2")  # call back on the registered phone
    latest = max(await h.rows(callback_requests, requester=ALICE), key=lambda r: r.created_at)
    assert latest.callback_number == OTHER_PHONE and latest.channel == "ussd"
    await idle()

    assert (await d.walk("7", "2468", "2468")).text == texts["pin.changed"]
    (row,) = await h.rows(subscribers, msisdn=ALICE)
    assert row.pin_hash.startswith("scrypt$") and "2468" not in row.pin_hash
    assert (await d.walk("7", "1111")).text.startswith(texts["pin.wrong"])

    assert (await d.walk("0")).close  # help, from the core's catalog, fitted to one page
    refused = await d.walk(dial="*123*+881234567890#")  # one-shot to a blocked destination
    assert refused.close and refused.text.split(".")[0] in h.engine.catalog.render(
        "refusal.blocked_destination", language)
    assert (await d.walk(dial="*123*1#")).close  # one-shot to phone book position 1
    await idle()
    assert all(r.state in (RequestState.COMPLETED, RequestState.REFUSED) for r in
               await h.rows(callback_requests, requester=ALICE))

    other = "ru" if language != "ru" else "en"
    await d.walk("6", str(MENU.languages.index(other) + 1))
    (row,) = await h.rows(subscribers, msisdn=ALICE)
    assert row.language == other
    assert (await d.walk()).text.startswith(MENU.texts[other]["main.title"])


def accepted_minutes(text: str) -> int:
    found = re.search(r"\d+", text)
    assert found is not None, text
    return int(found.group(0))
