import pytest

from roamback.gateway.sms.udh import ConcatInfo, UdhError, UserDataHeader, concat_udh, split_udh


def test_split_8bit_concatenation_header():
    header, payload = split_udh(b"\x05\x00\x03\x2a\x03\x02hello")
    assert header.concat == ConcatInfo(0x2A, 3, 2)
    assert payload == b"hello"


def test_split_16bit_concatenation_header_after_another_element():
    # Application port addressing (IEI 0x05) first, then the 16-bit reference element.
    header, payload = split_udh(b"\x0c\x05\x04\x0b\x84\x23\xf0\x08\x04\x12\x34\x02\x01body")
    assert header.elements[0] == (0x05, b"\x0b\x84\x23\xf0")
    assert header.concat == ConcatInfo(0x1234, 2, 1)
    assert payload == b"body"


def test_header_without_concatenation():
    header, payload = split_udh(b"\x04\x05\x02\x0b\x84x")
    assert header.concat is None
    assert payload == b"x"


def test_empty_header_is_allowed():
    assert split_udh(b"\x00abc") == (UserDataHeader(()), b"abc")


@pytest.mark.parametrize(
    "elements",
    [
        ((0x00, b"\x01\x00\x01"),),  # total 0
        ((0x00, b"\x01\x02\x00"),),  # part 0
        ((0x00, b"\x01\x02\x03"),),  # part beyond the total
        ((0x08, b"\x00\x01\x02\x03"),),
    ],
)
def test_concatenation_out_of_range_is_ignored_as_23040_says(elements):
    assert UserDataHeader(elements).concat is None


def test_repeated_concatenation_element_last_wins():
    header = UserDataHeader(((0x00, b"\x01\x02\x01"), (0x00, b"\x07\x03\x03")))
    assert header.concat == ConcatInfo(7, 3, 3)


@pytest.mark.parametrize(
    ("short_message", "message"),
    [
        (b"", "empty"),
        (b"\x06\x00\x03\x01\x02", "exceeds"),
        (b"\x01\x00", "no length"),
        (b"\x03\x00\x05\x01", "claims 5 octets"),
    ],
)
def test_malformed_headers(short_message, message):
    with pytest.raises(UdhError, match=message):
        split_udh(short_message)


def test_concatenation_element_of_the_wrong_size():
    with pytest.raises(UdhError, match="with 2 octets"):
        UserDataHeader(((0x00, b"\x01\x02"),)).concat  # noqa: B018


def test_concat_udh_round_trips():
    info = ConcatInfo(200, 4, 3)
    header, payload = split_udh(concat_udh(info) + b"x")
    assert header.concat == info
    assert payload == b"x"
    with pytest.raises(ValueError, match="8-bit"):
        concat_udh(ConcatInfo(256, 2, 1))


@pytest.mark.parametrize(("reference", "total", "seqnum"), [(0, 0, 1), (0, 256, 1), (0, 2, 0), (0, 2, 3), (-1, 2, 1),
                                                            (65_536, 2, 1)])
def test_concat_info_ranges(reference, total, seqnum):
    with pytest.raises(UdhError):
        ConcatInfo(reference, total, seqnum)
