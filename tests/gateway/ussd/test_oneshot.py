"""Dialled strings: one-shot call-back, menu, or a typed refusal; sloppy spacing and '#' tolerated."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roamback.core.model import CallbackTrigger, Channel
from roamback.gateway.ussd import (
    CallbackDial,
    MenuDial,
    NotRecognised,
    NotRecognisedReason,
    normalise_service_code,
    parse_dial,
)

CODES = ("*123#", "456", "100*5")
R = NotRecognisedReason

TABLE = [
    ("*123*447700900456#", CallbackDial("123", "447700900456")),
    ("*123*+447700900456#", CallbackDial("123", "+447700900456")),
    ("*123*00447700900456#", CallbackDial("123", "00447700900456")),
    ("*123*0612345678", CallbackDial("123", "0612345678")),  # '#' missing
    (" *123 * 4477 0090 0456 # ", CallbackDial("123", "447700900456")),  # spaces
    ("*123#", MenuDial("123")),
    ("*123", MenuDial("123")),
    ("*456#", MenuDial("456")),
    ("*456*1#", CallbackDial("456", "1")),  # the core refuses such a number, in the subscriber's language
    ("*100*5#", MenuDial("100*5")),  # the longest configured code wins
    ("*100*5*447700900456#", CallbackDial("100*5", "447700900456")),
    ("*123*1*447700900456#", NotRecognised("*123*1*447700900456#", R.SUB_SERVICE)),
    ("*123*12*34*56#", NotRecognised("*123*12*34*56#", R.SUB_SERVICE)),
    ("*123*#", NotRecognised("*123*#", R.NOT_A_NUMBER)),
    ("*123*44a77#", NotRecognised("*123*44a77#", R.NOT_A_NUMBER)),
    ("*123*44+77#", NotRecognised("*123*44+77#", R.NOT_A_NUMBER)),
    ("*123**447700900456#", NotRecognised("*123**447700900456#", R.MALFORMED)),
    ("*123*447700900456**#", NotRecognised("*123*447700900456**#", R.MALFORMED)),
    ("*124#", NotRecognised("*124#", R.UNKNOWN_SERVICE_CODE)),
    ("*1234#", NotRecognised("*1234#", R.UNKNOWN_SERVICE_CODE)),  # a code is not a prefix match
    ("*100#", NotRecognised("*100#", R.UNKNOWN_SERVICE_CODE)),
    ("*#", NotRecognised("*#", R.UNKNOWN_SERVICE_CODE)),
    ("123*447700900456#", NotRecognised("123*447700900456#", R.MALFORMED)),
    ("#123#", NotRecognised("#123#", R.MALFORMED)),
    ("*123#447700900456#", NotRecognised("*123#447700900456#", R.MALFORMED)),
    ("*123##", NotRecognised("*123##", R.MALFORMED)),
    ("", NotRecognised("", R.MALFORMED)),
    ("   ", NotRecognised("   ", R.MALFORMED)),
    ("hello", NotRecognised("hello", R.MALFORMED)),
]


@pytest.mark.parametrize(("text", "expected"), TABLE)
def test_parse(text: str, expected: object) -> None:
    assert parse_dial(text, CODES) == expected


def test_trigger_for_the_core() -> None:
    trigger = CallbackDial("123", "+447700900456").trigger("33612345678", language="fr", reference="m-1")
    assert trigger == CallbackTrigger(Channel.USSD, "33612345678", "+447700900456", language="fr", reference="m-1")


@pytest.mark.parametrize(("code", "bare"), [("*123#", "123"), ("123", "123"), (" *100*5# ", "100*5"), ("*123", "123")])
def test_normalise_service_code(code: str, bare: str) -> None:
    assert normalise_service_code(code) == bare


@pytest.mark.parametrize("code", ["", "*#", "12a", "*123**4#", "#123#", "*123#4"])
def test_bad_service_codes(code: str) -> None:
    with pytest.raises(ValueError, match="not a USSD service code"):
        normalise_service_code(code)


@given(st.text(alphabet="0123456789*#+ a", max_size=30))
def test_never_raises(text: str) -> None:
    assert isinstance(parse_dial(text, CODES), CallbackDial | MenuDial | NotRecognised)


@given(st.from_regex(r"\+?[0-9]{1,15}", fullmatch=True))
def test_any_number_is_returned_as_typed(number: str) -> None:
    assert parse_dial(f"*123*{number}#", CODES) == CallbackDial("123", number)
