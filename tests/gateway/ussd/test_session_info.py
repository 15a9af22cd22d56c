"""its_session_info: two octets, session number then 7-bit sequence << 1 | end bit."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roamback.gateway.ussd.session_info import SessionInfo, decode, has_end_bit, next_sequence, with_end_bit

TABLE = [
    (b"\x00\x00", SessionInfo(0, 0, False)),
    (b"\x2a\x01", SessionInfo(42, 0, True)),
    (b"\x2a\x02", SessionInfo(42, 1, False)),
    (b"\xff\xff", SessionInfo(255, 127, True)),
    (b"\x07\xfe", SessionInfo(7, 127, False)),
]


@pytest.mark.parametrize(("raw", "info"), TABLE)
def test_round_trip_table(raw: bytes, info: SessionInfo) -> None:
    assert decode(raw) == info
    assert info.encode() == raw
    assert has_end_bit(raw) is info.end


@pytest.mark.parametrize("raw", [b"", b"\x01", b"\x01\x02\x03"])
def test_wrong_size_is_refused(raw: bytes) -> None:
    for function in (decode, has_end_bit, with_end_bit, next_sequence):
        with pytest.raises(ValueError, match="2 octets"):
            function(raw)


@pytest.mark.parametrize(("session", "sequence"), [(-1, 0), (256, 0), (0, -1), (0, 128)])
def test_out_of_range_fields(session: int, sequence: int) -> None:
    with pytest.raises(ValueError):
        SessionInfo(session, sequence)


def test_end_bit_and_sequence_helpers() -> None:
    assert with_end_bit(b"\x2a\x04") == b"\x2a\x05"
    assert with_end_bit(b"\x2a\x05", end=False) == b"\x2a\x04"
    assert next_sequence(b"\x2a\x04") == b"\x2a\x06"
    assert next_sequence(b"\x2a\xff") == b"\x2a\x01"  # 127 wraps to 0, the end bit stays


raw_info = st.binary(min_size=2, max_size=2)


@given(raw_info)
def test_decode_encode_round_trip(raw: bytes) -> None:
    assert decode(raw).encode() == raw


@given(st.integers(0, 255), st.integers(0, 127), st.booleans())
def test_encode_decode_round_trip(session: int, sequence: int, end: bool) -> None:
    info = SessionInfo(session, sequence, end)
    assert decode(info.encode()) == info


@given(raw_info, st.booleans())
def test_end_bit_touches_nothing_else(raw: bytes, end: bool) -> None:
    changed = decode(with_end_bit(raw, end))
    assert (changed.session, changed.sequence, changed.end) == (raw[0], raw[1] >> 1, end)


@given(raw_info)
def test_next_sequence_moves_by_one(raw: bytes) -> None:
    before, after = decode(raw), decode(next_sequence(raw))
    assert (after.session, after.end) == (before.session, before.end)
    assert after.sequence == (before.sequence + 1) % 128
