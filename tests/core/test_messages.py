from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
import yaml

from roamback.core.messages import (
    CatalogError,
    MessageCatalog,
    format_duration,
    format_money,
    placeholders,
)
from roamback.core.reasons import CancelReason, FailureReason, RefusalReason

LANGUAGES = {"en", "fr", "es", "pt", "ar", "ru"}
REQUIRED = (
    {f"refusal.{r.value}" for r in RefusalReason}
    | {f"failure.{r.value}" for r in FailureReason}
    | {f"cancelled.{r.value}" for r in CancelReason}
    | {"accepted", "completed", "completed_no_balance", "balance", "help"}
    | {f"sms.{key}" for key in ("code_sent", "code_pending", "code_text", "registered", "already_registered",
                                "own_number", "code_wrong", "code_invalid", "unregistered", "not_registered",
                                "language_set", "language_unknown", "balance_unavailable")}
    | {"ussd.menu_hint", "ussd.session_expired", "ussd.unavailable"}
)
EXPECTED_PLACEHOLDERS = {
    "accepted": {"max_minutes"},
    "completed": {"destination", "duration", "cost", "balance"},
    "completed_no_balance": {"destination", "duration", "cost"},
    "balance": {"balance"},
    "sms.code_sent": {"number", "minutes"},
    "sms.code_pending": {"number", "minutes"},
    "sms.code_text": {"requester", "code", "minutes"},
    **{f"sms.{key}": {"number"} for key in ("registered", "already_registered", "own_number", "unregistered",
                                             "not_registered")},
    "sms.code_wrong": {"attempts"},
    "sms.language_unknown": {"languages"},
    "ussd.menu_hint": {"code"},
}
# The widest values the engine passes, so length checks hold for real texts, not just templates.
WIDEST = {"max_minutes": "60", "destination": "+491512345678901", "duration": "60:00",
          "cost": "1234,56 EUR", "balance": "12345,67 EUR", "number": "+491512345678901",
          "minutes": "10", "requester": "+491512345678901", "code": "123456", "attempts": "2",
          "languages": "ar, en, es, fr, pt, ru"}


def _raw_files() -> dict[str, dict]:
    folder = resources.files("roamback.core").joinpath("messages")
    return {
        entry.name.removesuffix(".yaml"): yaml.safe_load(entry.read_text("utf-8"))
        for entry in folder.iterdir() if entry.name.endswith(".yaml")
    }


def _flat(data: dict, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


@pytest.fixture(scope="module")
def catalog() -> MessageCatalog:
    return MessageCatalog.load(None, {})


def test_every_language_file_has_exactly_the_required_keys_and_placeholders() -> None:
    files = {lang: _flat(data) for lang, data in _raw_files().items()}
    assert set(files) == LANGUAGES
    for lang, texts in files.items():
        assert set(texts) == REQUIRED, lang
        for key, text in texts.items():
            assert placeholders(text) == EXPECTED_PLACEHOLDERS.get(key, set()), (lang, key)


def test_texts_fit_an_sms(catalog: MessageCatalog) -> None:
    for lang in LANGUAGES:
        for key in REQUIRED:
            text = catalog.render(key, lang, **WIDEST)
            assert len(text) <= 160, (lang, key, len(text))
            if lang in {"ar", "ru"} and key.split(".")[0] in {"refusal", "failure", "cancelled"}:
                assert len(text) <= 70, (lang, key, len(text))  # one UCS-2 segment


def test_arabic_and_russian_are_translated_not_copied(catalog: MessageCatalog) -> None:
    for key in REQUIRED:
        english = catalog.render(key, "en", **WIDEST)
        assert catalog.render(key, "ar", **WIDEST) != english
        assert any("\u0600" <= ch <= "\u06ff" for ch in catalog.render(key, "ar", **WIDEST)), key
        assert any("\u0400" <= ch <= "\u04ff" for ch in catalog.render(key, "ru", **WIDEST)), key


def test_render_fills_placeholders(catalog: MessageCatalog) -> None:
    assert catalog.render("balance", "en", balance="3.20 EUR") == "Your balance is 3.20 EUR."
    assert "45" in catalog.render("accepted", "fr", max_minutes=45)


def test_render_falls_back_to_default_language_then_english(tmp_path: Path) -> None:
    (tmp_path / "de.yaml").write_text('balance: "Ihr Guthaben: {balance}."\n', encoding="utf-8")
    catalog = MessageCatalog.load(tmp_path, {}, default_language="fr")
    assert catalog.render("balance", "de", balance="1") == "Ihr Guthaben: 1."
    assert catalog.render("help", "de").startswith("Rappel")  # de lacks it: the default language
    assert catalog.render("help", "xx").startswith("Rappel")  # unknown language: the default language
    english = MessageCatalog.load(None, {}, default_language="xx")
    assert english.render("help", "yy").startswith("Call-back")
    assert "de" in catalog.languages


def test_render_raises_keyerror_only_for_unknown_keys(catalog: MessageCatalog) -> None:
    with pytest.raises(KeyError):
        catalog.render("refusal.nonexistent", "en")
    with pytest.raises(ValueError, match="balance"):
        catalog.render("balance", "en")


def test_operator_overrides_apply_over_directory_files(tmp_path: Path) -> None:
    (tmp_path / "fr.yaml").write_text("refusal:\n  no_credit: Rechargez.\n", encoding="utf-8")
    catalog = MessageCatalog.load(tmp_path, {"en": {"balance": "Credit left: {balance}"}})
    assert catalog.render("refusal.no_credit", "fr") == "Rechargez."
    assert catalog.render("balance", "en", balance="2") == "Credit left: 2"
    assert catalog.render("refusal.daily_cap", "fr").startswith("Vous avez atteint")


def test_overrides_may_drop_but_not_invent_placeholders(tmp_path: Path) -> None:
    catalog = MessageCatalog.load(None, {"en": {"completed": "Call ended. Balance {balance}."}})
    assert catalog.render("completed", "en", **WIDEST) == "Call ended. Balance 12345,67 EUR."
    (tmp_path / "ru.yaml").write_text('refusal.nope: "x"\n', encoding="utf-8")
    with pytest.raises(CatalogError) as info:
        MessageCatalog.load(tmp_path, {"fr": {"balance": "Solde {solde}", "accepted": "ok {"}})
    problems = {(p.language, p.key): p.message for p in info.value.problems}
    assert problems[("ru", "refusal.nope")] == "unknown key"
    assert "{solde}" in problems[("fr", "balance")]
    assert "braces" in problems[("fr", "accepted")]
    assert "language 'fr', key 'balance'" in str(info.value)


@pytest.mark.parametrize(("seconds", "text"), [(0, "0:00"), (59, "0:59"), (75, "1:15"), (3600, "60:00"),
                                                (61.9, "1:01")])
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(("minor", "currency", "language", "text"), [
    (1250, "EUR", "en", "12.50 EUR"),
    (1250, "EUR", "fr", "12,50 EUR"),
    (1250, "EUR", "ru", "12,50 EUR"),
    (5, "GBP", "en", "0.05 GBP"),
    (-300, "EUR", "es", "-3,00 EUR"),
    (1500, "JPY", "en", "1500 JPY"),
    (12345, "KWD", "ar", "12.345 KWD"),
    (1250, "", "en", "12.50"),
])
def test_format_money(minor: int, currency: str, language: str, text: str) -> None:
    assert format_money(minor, currency, language) == text
