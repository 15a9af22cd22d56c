"""classify() and build_reply() for each preset: the op codes and session info each centre sends and expects."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roamback.gateway.ussd import (
    PRESETS,
    Abort,
    Begin,
    Continue,
    Malformed,
    UnknownOp,
    UssdIndication,
    UssdReply,
    build_reply,
    classify,
    dialect,
    dialogue_key,
)

MSISDN = "447700900123"
INFO = b"\x2a\x04"  # session 42, sequence 2, end bit clear
ENDED = b"\x2a\x05"


def ind(op: int, info: bytes | None = INFO, umr: int | None = 7, text: str = "1") -> UssdIndication:
    return UssdIndication(MSISDN, op, text, its_session_info=info, user_message_reference=umr)


# preset, op, session info, expected event
CLASSIFY_TABLE = [
    ("smpp34", 1, INFO, Begin),
    ("smpp34", 18, INFO, Continue),
    ("smpp34", 18, ENDED, Abort),
    ("smpp34", 17, INFO, UnknownOp),
    ("smpp34", 0x81, INFO, UnknownOp),
    ("tata", 1, INFO, Begin),
    ("tata", 2, INFO, Continue),
    ("tata", 18, INFO, Continue),
    ("tata", 17, INFO, Abort),
    ("tata", 2, ENDED, Abort),
    ("tata", 3, INFO, UnknownOp),
    ("6d", 0x01, INFO, Begin),
    ("6d", 0x12, INFO, Continue),
    ("6d", 0x81, INFO, Abort),
    ("6d", 0x12, ENDED, Abort),
    ("6d", 0x02, INFO, UnknownOp),
    ("mica", 0x01, None, Begin),
    ("mica", 0x12, None, Continue),
    ("mica", 0x81, None, Abort),
    ("mica", 0x17, None, Abort),
    ("mica", 0x12, ENDED, Abort),
    ("mica", 0x11, None, UnknownOp),
]


@pytest.mark.parametrize(("name", "op", "info", "expected"), CLASSIFY_TABLE)
def test_classify(name: str, op: int, info: bytes | None, expected: type) -> None:
    indication = ind(op, info)
    event = classify(indication, PRESETS[name])
    assert type(event) is expected
    assert event.indication is indication


@pytest.mark.parametrize(
    ("name", "indication", "key"),
    [
        ("smpp34", ind(1, b"\x2a\x04"), (MSISDN, 42)),
        ("smpp34", ind(18, b"\x2a\x0a"), (MSISDN, 42)),  # the sequence moved on: same dialogue
        ("6d", ind(1, b"\x09\x04"), (MSISDN, 9)),
        ("mica", ind(1, None, umr=513), (MSISDN, 513)),
    ],
)
def test_key_choice(name: str, indication: UssdIndication, key: object) -> None:
    event = classify(indication, PRESETS[name])
    assert event.key == key  # type: ignore[union-attr]


def test_msisdn_key() -> None:
    event = classify(ind(1, None, umr=None), dialect(dialogue_key="msisdn"))
    assert event == Begin(ind(1, None, umr=None), MSISDN)


@pytest.mark.parametrize(
    ("name", "indication", "field"),
    [
        ("smpp34", ind(1, None), "its_session_info"),
        ("smpp34", ind(1, b"\x01"), "its_session_info"),
        ("6d", ind(0x12, b"\x01\x02\x03"), "its_session_info"),
        ("tata", ind(2, None), "its_session_info"),
        ("mica", ind(1, None, umr=None), "user_message_reference"),
        ("mica", ind(1, b"", umr=3), "its_session_info"),  # present but broken is still broken
    ],
)
def test_malformed(name: str, indication: UssdIndication, field: str) -> None:
    assert classify(indication, PRESETS[name]) == Malformed(indication, field)


def test_end_bit_can_be_ignored() -> None:
    event = classify(ind(18, ENDED), dialect(inbound_end_bit_aborts=False))
    assert type(event) is Continue


# preset, close?, expected op, expected session info (from INFO, umr 7 echoed)
REPLY_TABLE = [
    ("smpp34", False, 2, INFO),
    ("smpp34", True, 17, ENDED),
    ("tata", False, 2, INFO),
    ("tata", True, 2, ENDED),
    ("6d", False, 0x02, INFO),
    ("6d", True, 0x17, ENDED),
]


@pytest.mark.parametrize(("name", "close", "op", "info"), REPLY_TABLE)
def test_reply(name: str, close: bool, op: int, info: bytes) -> None:
    reply = build_reply(PRESETS[name], ind(18), "Menu", close=close)
    assert reply == UssdReply(MSISDN, op, "Menu", close, info, 7)


@pytest.mark.parametrize(("close", "op"), [(False, 0x02), (True, 0x17)])
def test_mica_reply_echoes_the_reference(close: bool, op: int) -> None:
    reply = build_reply(PRESETS["mica"], ind(0x12, None, umr=513), "x", close=close)
    assert reply == UssdReply(MSISDN, op, "x", close, None, 513)


def test_reply_clears_an_end_bit_it_was_given_when_continuing() -> None:
    assert build_reply(PRESETS["smpp34"], ind(18, ENDED), "x", close=False).its_session_info == INFO


def test_increment_sequence() -> None:
    counting = dialect(reply_sequence="increment")
    assert build_reply(counting, ind(18, b"\x2a\x04"), "x", close=False).its_session_info == b"\x2a\x06"
    assert build_reply(counting, ind(18, b"\x2a\x04"), "x", close=True).its_session_info == b"\x2a\x07"


def test_end_bit_close_without_session_info_is_our_bug() -> None:
    with pytest.raises(ValueError, match="no its_session_info"):
        build_reply(dialect("tata", dialogue_key="msisdn"), ind(2, None), "bye", close=True)


@given(op=st.integers(0, 255), info=st.none() | st.binary(max_size=3), umr=st.none() | st.integers(0, 0xFFFF),
       name=st.sampled_from(sorted(PRESETS)))
def test_classify_never_raises(op: int, info: bytes | None, umr: int | None, name: str) -> None:
    """Whatever a centre sends, the result is one of the typed events, and keyed events have a key."""
    indication = ind(op, info, umr)
    event = classify(indication, PRESETS[name])
    assert isinstance(event, Begin | Continue | Abort | UnknownOp | Malformed)
    if isinstance(event, Begin | Continue | Abort):
        assert event.key == dialogue_key(indication, PRESETS[name]) is not None
