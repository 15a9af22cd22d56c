"""Dialect presets and overrides: what each centre expects, and errors that name the field to fix."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from roamback.gateway.ussd import PRESETS, CloseStrategy, DialogueKey, UssdDialect, dialect

# preset: begin, continue, abort (inbound), continue, close (outbound), close strategy, dialogue key
PRESET_TABLE = [
    ("smpp34", (1,), (18,), (), 2, 17, CloseStrategy.OP_CODE, DialogueKey.ITS_SESSION_INFO),
    ("tata", (1,), (2, 18), (17,), 2, 2, CloseStrategy.END_BIT, DialogueKey.ITS_SESSION_INFO),
    ("6d", (0x01,), (0x12,), (0x81,), 0x02, 0x17, CloseStrategy.OP_CODE, DialogueKey.ITS_SESSION_INFO),
    ("mica", (0x01,), (0x12,), (0x81, 0x17), 0x02, 0x17, CloseStrategy.OP_CODE, DialogueKey.USER_MESSAGE_REFERENCE),
]


@pytest.mark.parametrize(("name", "begin", "cont", "abort", "out_cont", "out_close", "strategy", "key"), PRESET_TABLE)
def test_presets(name, begin, cont, abort, out_cont, out_close, strategy, key) -> None:
    preset = PRESETS[name]
    assert preset.preset == name
    assert (preset.begin_ops, preset.continue_ops, preset.abort_ops) == (begin, cont, abort)
    assert (preset.continue_op, preset.close_op) == (out_cont, out_close)
    assert (preset.close_strategy, preset.dialogue_key) == (strategy, key)
    assert UssdDialect.model_validate(name) == preset  # a bare name, as written in YAML


def test_defaults_are_smpp34() -> None:
    assert UssdDialect() == PRESETS["smpp34"]
    assert PRESETS["smpp34"].service_type == "USSD"
    assert PRESETS["smpp34"].data_coding == 0x0F


def test_override_keeps_the_rest_of_the_preset() -> None:
    custom = dialect("6d", data_coding="auto", abort_ops=0x81)
    assert custom.data_coding == "auto"
    assert custom.close_op == 0x17
    assert custom.abort_ops == (0x81,)  # a single op code is accepted for a list
    assert UssdDialect.model_validate({"preset": "6d", "data_coding": "auto", "abort_ops": [0x81]}) == custom


def test_a_preset_dialect_is_frozen() -> None:
    with pytest.raises(ValidationError):
        PRESETS["6d"].close_op = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"preset": "ericsson"}, ("preset",), "'smpp34'"),
        ({"begin_ops": []}, ("begin_ops",), "at least 1"),
        ({"continue_ops": [1, 18]}, ("continue_ops",), "also in begin_ops"),
        ({"abort_ops": [18]}, ("abort_ops",), "also in continue_ops"),
        ({"abort_ops": [256]}, ("abort_ops", 0), "less than or equal to 255"),
        ({"close_op": 2}, ("close_op",), "equals continue_op"),
        ({"preset": "tata", "close_strategy": "op_code"}, ("close_op",), "end_bit"),
        ({"dialogue_key": "session"}, ("dialogue_key",), "its_session_info"),
        ({"data_coding": "ucs2"}, ("data_coding",), "auto"),
        ({"service_type": "USSD-X"}, ("service_type",), "at most 5"),
        ({"close_op_code": 17}, ("close_op_code",), "Extra inputs"),
    ],
)
def test_errors_name_the_field(data, field, words) -> None:
    with pytest.raises(ValidationError) as caught:
        UssdDialect.model_validate(data)
    messages = [error["msg"] for error in caught.value.errors() if error["loc"][: len(field)] == field]
    assert any(words in message for message in messages), caught.value.errors()


def test_tata_may_reuse_the_continue_op_to_close() -> None:
    assert dialect("smpp34", close_strategy="end_bit", close_op=2).close_op == 2


def test_which_dialects_need_its_session_info() -> None:
    assert PRESETS["smpp34"].needs_session_info
    assert PRESETS["tata"].needs_session_info
    assert not PRESETS["mica"].needs_session_info
    assert dialect("mica", close_strategy="end_bit", close_op=2).needs_session_info
    assert not dialect(dialogue_key="msisdn").needs_session_info
