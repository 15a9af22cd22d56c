import pytest

from roamback.gateway.sms.keywords import DEFAULT_KEYWORDS, CommandKind, KeywordError, KeywordTable, Match, fold


def test_defaults_cover_every_command_in_every_language():
    assert set(DEFAULT_KEYWORDS) == {"en", "fr", "es", "pt", "ar", "ru"}
    for commands in DEFAULT_KEYWORDS.values():
        assert set(commands) == set(CommandKind)
        assert all(commands.values())
    KeywordTable.from_config()  # the defaults validate


@pytest.mark.parametrize(
    ("typed", "folded"),
    [
        ("Código", "codigo"),
        ("CODIGO", "codigo"),
        ("ＣＢ", "cb"),  # full-width Latin
        ("إلغاء", "الغاء"),
        ("مُسَاعَدَة", "مساعده"),  # harakat and teh marbuta
        ("رصـــيد", "رصيد"),  # tatweel
        ("ЁЛКА", "елка"),
    ],
)
def test_fold(typed, folded):
    assert fold(typed) == folded


def test_shared_words_report_every_language_in_table_order():
    table = KeywordTable.from_config()
    assert table.lookup("saldo") == Match(CommandKind.BALANCE, ("es", "pt"))
    assert table.lookup("CONFERENCE") == Match(CommandKind.CONFERENCE, ("en", "fr"))
    assert table.lookup("nope") is None


def test_overrides_replace_a_commands_words_in_one_language():
    table = KeywordTable.from_config({"fr": {"callback": ["RAPPELLE-MOI"]}})
    assert table.lookup("rappelle-moi") == Match(CommandKind.CALLBACK, ("fr",))
    assert table.lookup("rappel") is None
    assert table.lookup("cb") == Match(CommandKind.CALLBACK, ("en",))


def test_overrides_add_a_language_and_withdraw_a_command():
    table = KeywordTable.from_config({"de": {"balance": ["GUTHABEN"]}, "en": {"conference": []}})
    assert table.lookup("Guthaben") == Match(CommandKind.BALANCE, ("de",))
    assert table.lookup("conf") == Match(CommandKind.CONFERENCE, ("fr",))
    assert table.lookup("conference") == Match(CommandKind.CONFERENCE, ("fr",))


def test_languages_limit_what_is_accepted():
    table = KeywordTable.from_config(languages=["en", "ru"])
    assert table.lookup("БАЛАНС") == Match(CommandKind.BALANCE, ("ru",))
    assert table.lookup("solde") is None


def test_a_keyword_meaning_two_commands_is_an_error_naming_it():
    with pytest.raises(KeywordError) as caught:
        KeywordTable.from_config({"en": {"callback": ["CB", "SOLDE"]}})
    assert caught.value.problems == (
        "keyword 'SOLDE' (fr) means both callback (en) and balance",
    )


def test_a_conflict_inside_one_language_is_caught_too():
    with pytest.raises(KeywordError, match=r"keyword 'HELP' \(en\) means both balance \(en\) and help"):
        KeywordTable.from_config({"en": {"balance": ["HELP"]}})


def test_every_problem_is_reported_at_once():
    with pytest.raises(KeywordError) as caught:
        KeywordTable.from_config(
            {
                "en": {"dial": ["D"], "balance": "BAL", "help": ["", "TWO WORDS", "CB1", "+X", 7]},
            },
            languages=["en", "xx"],
        )
    assert caught.value.problems == (
        "en.dial: unknown command, expected one of callback, balance, register, unregister, confirm, language, "
        "help, conference",
        "en.balance: expected a list of words, got the string 'BAL'",
        "en.help: '' must be one word",
        "en.help: 'TWO WORDS' must be one word",
        "en.help: 'CB1' has digits or '+', it would read as a number",
        "en.help: '+X' has digits or '+', it would read as a number",
        "en.help: 7 must be one word",
        "xx: no keywords for this language",
    )
