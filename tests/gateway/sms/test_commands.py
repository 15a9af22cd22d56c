import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roamback.gateway.sms.commands import (
    Balance,
    Callback,
    Conference,
    Confirm,
    Help,
    Language,
    Register,
    Unrecognised,
    Unregister,
    parse_command,
)
from roamback.gateway.sms.keywords import DEFAULT_KEYWORDS, CommandKind, KeywordTable

# For each command: the arguments typed after the keyword, and the command expected without its language.
ARGUMENTS = {
    CommandKind.CALLBACK: ("+44 7700 900456", lambda lang: Callback("+44 7700 900456", lang)),
    CommandKind.BALANCE: ("", Balance),
    CommandKind.REGISTER: ("0612345678", lambda lang: Register("0612345678", lang)),
    CommandKind.UNREGISTER: ("+33612345678", lambda lang: Unregister("+33612345678", lang)),
    CommandKind.CONFIRM: ("123456", lambda lang: Confirm("123456", lang)),
    CommandKind.LANGUAGE: ("FR", lambda lang: Language("fr", lang)),
    CommandKind.HELP: ("", Help),
    CommandKind.CONFERENCE: ("+4477 1, 0612", lambda lang: Conference("+4477 1", "0612", lang)),
}
EVERY_KEYWORD = [
    (language, kind, word)
    for language, commands in DEFAULT_KEYWORDS.items()
    for kind, words in commands.items()
    for word in words
]


@pytest.mark.parametrize(("language", "kind", "word"), EVERY_KEYWORD)
@pytest.mark.parametrize("shape", ["{w} {a}", "  {lw}   {a}  ", "\t{uw}\n{a}\n", "{w} {a}."])
def test_every_keyword_in_every_language(language, kind, word, shape):
    arguments, expected = ARGUMENTS[kind]
    text = shape.format(w=word, lw=word.lower(), uw=word.upper(), a=arguments)
    assert parse_command(text, preferred_language=language) == expected(language)


def test_without_a_preference_the_first_language_with_the_word_is_reported():
    assert parse_command("saldo") == Balance("es")
    assert parse_command("saldo", preferred_language="pt") == Balance("pt")
    assert parse_command("saldo", preferred_language="ru") == Balance("es")
    assert parse_command("SOLDE") == Balance("fr")


@pytest.mark.parametrize(
    "text",
    ["0612345678", "+447700900456", "+44 7700 900456", "06.12.34.56.78", "(0)6-12-34-56-78", "٠٦١٢٣٤٥٦٧٨",
     "  0044 7700 900456  ", "0612345678."],
)
def test_a_bare_number_is_a_callback_without_a_language(text):
    assert parse_command(text) == Callback(" ".join(text.split()).rstrip("."))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Unrecognised("empty")),
        ("   \n", Unrecognised("empty")),
        ("\u200f", Unrecognised("empty")),
        ("hello", Unrecognised("unknown_keyword")),
        ("CB0612345678", Unrecognised("unknown_keyword")),
        ("CB", Unrecognised("missing_argument", "en")),
        ("rappel", Unrecognised("missing_argument", "fr")),
        ("CB mum", Unrecognised("not_a_number", "en")),
        ("ЗВОНОК +7abc", Unrecognised("not_a_number", "ru")),
        ("REG +", Unrecognised("not_a_number", "en")),
        ("UNREG me", Unrecognised("not_a_number", "en")),
        ("BAL now", Unrecognised("unexpected_argument", "en")),
        ("CODE", Unrecognised("missing_argument", "en")),
        ("CODE 12", Unrecognised("bad_code", "en")),
        ("CODE 123456789", Unrecognised("bad_code", "en")),
        ("CODE 12a456", Unrecognised("bad_code", "en")),
        ("LANG", Unrecognised("missing_argument", "en")),
        ("LANG french", Unrecognised("bad_language", "en")),
        ("LANG f", Unrecognised("bad_language", "en")),
        ("LANG fr en", Unrecognised("bad_language", "en")),
        ("CONF", Unrecognised("missing_argument", "en")),
        ("CONF 0612345678", Unrecognised("needs_two_numbers", "en")),
        ("CONF 1 2 3", Unrecognised("needs_two_numbers", "en")),
        ("CONF 1, 2, 3", Unrecognised("needs_two_numbers", "en")),
        ("CONF 1,", Unrecognised("needs_two_numbers", "en")),
        ("CONF 1, bob", Unrecognised("not_a_number", "en")),
    ],
)
def test_malformed_inputs_are_unrecognised_with_a_reason(text, expected):
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("HELP?", Help("en")),
        ("?", Help("en")),
        ("help me please", Help("en")),
        ("مساعدة؟", Help("ar")),
        ("\u200fرصيد\u200f", Balance("ar")),
        ("اتصل ٠٦١٢٣٤٥٦٧٨", Callback("٠٦١٢٣٤٥٦٧٨", "ar")),
        ("رمز ١٢٣٤٥٦", Confirm("123456", "ar")),
        ("code 123 456", Confirm("123456", "en")),
        ("Código 1234", Confirm("1234", "es")),
        ("codigo 1234", Confirm("1234", "es")),
        ("ＣＢ 0612", Callback("0612", "en")),
        ("Désinscrire 0612", Unregister("0612", "fr")),
        ("conf 0612 0044", Conference("0612", "0044", "en")),
        ("КОНФ +7 900 1; +7 900 2", Conference("+7 900 1", "+7 900 2", "ru")),
        ("مؤتمر ١، ٢", Conference("١", "٢", "ar")),
    ],
)
def test_tolerated_variants(text, expected):
    assert parse_command(text) == expected


def test_operator_keywords():
    table = KeywordTable.from_config({"en": {"callback": ["RING"]}, "de": {"balance": ["GUTHABEN"]}})
    assert parse_command("ring 0612", table) == Callback("0612", "en")
    assert parse_command("cb 0612", table) == Unrecognised("unknown_keyword")
    assert parse_command("Guthaben", table) == Balance("de")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40) | st.from_regex(r"(CB|CONF|CODE|LANG|BAL|REG)[ ,;+0-9a-z]{0,20}", fullmatch=True))
def test_parsing_never_raises(text):
    result = parse_command(text)
    assert isinstance(result, Callback | Balance | Register | Unregister | Confirm | Language | Help | Conference
                      | Unrecognised)
