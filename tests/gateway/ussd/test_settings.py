"""The ussd configuration section."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from roamback.gateway.ussd import PRESETS, UssdSettings


def test_defaults() -> None:
    settings = UssdSettings()
    assert settings.dialect == PRESETS["smpp34"]
    assert settings.service_codes == ("123",)
    assert (settings.screen_timeout_seconds, settings.dialogue_timeout_seconds) == (30, 180)
    assert (settings.max_page_chars_gsm, settings.max_page_chars_ucs2) == (182, 80)


def test_from_yaml_like_mapping() -> None:
    settings = UssdSettings.model_validate(
        {"dialect": {"preset": "6d", "data_coding": "auto"}, "service_codes": ["*123#", " *100*5# "],
         "screen_timeout_seconds": 20, "dialogue_timeout_seconds": 120}
    )
    assert settings.dialect.close_op == 0x17 and settings.dialect.data_coding == "auto"
    assert settings.service_codes == ("123", "100*5")
    assert UssdSettings.model_validate({"dialect": "tata"}).dialect == PRESETS["tata"]


@pytest.mark.parametrize(
    ("data", "loc", "words"),
    [
        ({"dialect": {"preset": "6d", "close_op": 2}}, ("dialect", "close_op"), "continue_op"),
        ({"dialect": "nokia"}, ("dialect", "preset"), "'mica'"),
        ({"service_codes": []}, ("service_codes",), "at least 1"),
        ({"service_codes": ["*12a#"]}, ("service_codes",), "not a USSD service code"),
        ({"service_codes": ["*123#", "123"]}, ("service_codes",), "listed twice: 123"),
        ({"screen_timeout_seconds": 0}, ("screen_timeout_seconds",), "greater than 0"),
        ({"screen_timeout_seconds": 60, "dialogue_timeout_seconds": 30}, ("dialogue_timeout_seconds",), "shorter"),
        ({"max_page_chars_gsm": 183}, ("max_page_chars_gsm",), "182"),
        ({"max_page_chars_ucs2": 81}, ("max_page_chars_ucs2",), "80"),
        ({"page_size": 100}, ("page_size",), "Extra inputs"),
    ],
)
def test_errors_name_the_field(data: dict, loc: tuple, words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        UssdSettings.model_validate(data)
    messages = [error["msg"] for error in caught.value.errors() if error["loc"] == loc]
    assert any(words in message for message in messages), caught.value.errors()
