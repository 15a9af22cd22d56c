"""Hypothesis against the SMS command parser, beyond ``test_parsing_never_raises`` in test_commands.py.

That test throws short random text at the default table. Here: every keyword of every language (as typed,
lower case, unaccented) followed by hostile tails (any Unicode, other scripts' digits, separators, long
concatenated texts), with any preferred language and with an operator's table on top. Whatever comes in,
the parser returns a command, never raises, and what it returns is consistent with what was typed: the
language named is one the keyword belongs to, codes are ASCII digits, numbers were in the text. And the
invisible or incidental (format characters, runs of whitespace) never changes the answer.
"""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from roamback.gateway.sms import (
    Balance,
    Callback,
    Conference,
    Confirm,
    Help,
    KeywordTable,
    Language,
    Register,
    Unrecognised,
    Unregister,
    parse_command,
)
from roamback.gateway.sms.keywords import DEFAULT_KEYWORDS

COMMANDS = (Callback, Balance, Register, Unregister, Confirm, Language, Help, Conference, Unrecognised)
FUZZ = settings(max_examples=250, deadline=None)
OPERATOR = KeywordTable.from_config({"en": {"callback": ["RING"]}, "de": {"balance": ["GUTHABEN"]}})
TABLES = {"default": KeywordTable.from_config(), "operator": OPERATOR}
LANGUAGES = {"default": set(DEFAULT_KEYWORDS), "operator": set(DEFAULT_KEYWORDS) | {"de"}}

WORDS = sorted({word for table in DEFAULT_KEYWORDS.values() for words in table.values() for word in words}
               | {"RING", "GUTHABEN"})


def unaccented(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", word) if not unicodedata.combining(c))


keywords = st.sampled_from(WORDS).flatmap(lambda w: st.sampled_from([w, w.lower(), unaccented(w), w.title()]))
digits = st.sampled_from("0123456789٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵６７８９")
numbers = st.tuples(st.sampled_from(["", "+", "00"]),
                    st.lists(digits | st.sampled_from(" -./()"), min_size=1, max_size=20).map("".join)).map("".join)
tails = st.text(max_size=60) | numbers | st.tuples(numbers, st.sampled_from([",", ";", " ", "،"]), numbers).map(
    "".join) | st.from_regex(r"[a-zA-Z]{1,4}", fullmatch=True)
texts = (st.tuples(keywords, st.sampled_from([" ", "  ", "\t", "\n"]), tails).map("".join)
         | numbers | st.text(max_size=200) | st.text(min_size=300, max_size=1000))
preferred = st.none() | st.sampled_from([*sorted(LANGUAGES["operator"]), "xx"])
tables = st.sampled_from(sorted(TABLES))
FORMAT = "\u200b\u200e\u200f\u2066\u2069\ufeff"  # zero-width space, bidi marks and isolates, BOM


def visible(text: str) -> str:
    return " ".join("".join(c for c in text if unicodedata.category(c) != "Cf").split())


@FUZZ
@given(texts, tables, preferred)
def test_any_text_is_a_command_consistent_with_what_was_typed(text, table, language):
    command = parse_command(text, TABLES[table], preferred_language=language)
    assert isinstance(command, COMMANDS)
    shown = visible(text)
    if isinstance(command, Callback | Register | Unregister):
        target = command.destination if isinstance(command, Callback) else command.number
        assert target and target in shown
    if isinstance(command, Conference):
        assert command.first in shown and command.second in shown
    if isinstance(command, Confirm):
        assert command.code.isascii() and command.code.isdigit() and 4 <= len(command.code) <= 8
    if isinstance(command, Language):
        assert command.code.isascii() and command.code.islower() and 2 <= len(command.code) <= 3
    if isinstance(command, Callback) and command.language is None:
        assert not any(c.isalpha() for c in shown)  # a bare number: nothing but digits and separators
    if command.language is not None:
        assert command.language in LANGUAGES[table]
        if language in LANGUAGES[table] and command.language != language:
            assert not _keyword_of(shown, language, table)  # the subscriber's language wins when it fits


def _keyword_of(shown: str, language: str, table: str) -> bool:
    """Whether the first word is a keyword in ``language`` for the kind of command it starts."""
    head = shown.partition(" ")[0]
    match = TABLES[table].lookup(head)
    return match is not None and language in match.languages


@FUZZ
@given(texts, st.data())
def test_invisible_characters_and_whitespace_runs_change_nothing(text, data):
    noisy = []
    for char in text:
        if char.isspace():
            char = data.draw(st.sampled_from([" ", "  ", "\t", " \n "]))
        noisy.append(char + data.draw(st.text(alphabet=FORMAT, max_size=1)))
    noisy_text = data.draw(st.sampled_from(["", " ", "\u200f"])) + "".join(noisy) + " "
    assert parse_command(noisy_text) == parse_command(text)
