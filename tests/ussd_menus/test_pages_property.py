"""Property: whatever a subscriber types, in any language and any state, every page fits one USSD message.

Random walks over the default menu with random phone books (names in any script, emoji included, up to the
database's 40 characters), registered numbers, core answers (every refusal and failure text of the catalog,
which are written for SMS and may be longer than a page) and answers (menu keys, numbers, junk).
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roamback.core.model import Subscriber
from roamback.ussd_menus import MenuSession, PageLimits

from .fakes import ALICE, CATALOG, LANGUAGES, FakeActions, make_engine, run

LIMITS = PageLimits()
CORE_KEYS = sorted(key for key in CATALOG._texts["en"] if key.split(".")[0] in ("refusal", "failure", "cancelled"))

answers = st.one_of(
    st.sampled_from(["0", "1", "2", "3", "4", "5", "6", "7", "98", "99", "00", ""]),
    st.sampled_from(["+4915112345678", "0611223344", "1234", "123456", "654321", "fr", "٣"]),
    st.text(max_size=30),
)
names = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40)


class CoreSays(FakeActions):
    """The core's answer is any of its subscriber texts, in the dialogue's language."""

    core_key: str = "accepted"

    async def request_callback(self, msisdn: str, destination: str, callback_number: str | None,
                               language: str) -> str:
        self.callbacks.append((msisdn, destination, callback_number, language))
        if self.core_key == "accepted":
            return CATALOG.render("accepted", language, max_minutes=12)
        return CATALOG.render(self.core_key, language)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    language=st.sampled_from(LANGUAGES),
    book=st.dictionaries(st.integers(1, 20), names, max_size=20),
    registered=st.lists(st.sampled_from(["+33698765432", "+447911123456", "+4915112345678"]), unique=True),
    core_key=st.sampled_from(["accepted", *CORE_KEYS]),
    dial=st.sampled_from(["*123#", "*123*1#", "*123*7#", "*123*+4915112345678#", "*123*5*5#"]),
    walk=st.lists(answers, max_size=12),
)
def test_no_page_ever_exceeds_one_ussd_message(language, book, registered, core_key, dial, walk) -> None:
    actions = CoreSays()
    actions.core_key = core_key
    actions.subscribers[ALICE] = Subscriber(ALICE, "FR", language=language, roaming=True)
    actions.books[ALICE] = {position: (name, f"+336123400{position:02d}") for position, name in book.items()}
    actions.confirmed[ALICE] = registered
    engine, _, _ = make_engine(actions)
    session = MenuSession("p", ALICE)
    screen = run(engine.begin(session, dial))
    for answer in walk:
        used, allowed = LIMITS.units(screen.text)
        assert used <= allowed, (screen.text, used, allowed)
        assert screen.text.strip()
        if screen.close:
            break
        screen = run(engine.answer(session, answer))
    used, allowed = LIMITS.units(screen.text)
    assert used <= allowed, (screen.text, used, allowed)
