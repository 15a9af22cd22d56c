import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roamback.gateway.sms.encoding import GSM_DEFAULT, UCS2, decode
from roamback.gateway.sms.segmenting import ConcatMode, MessageTooLong, segment
from roamback.gateway.sms.udh import ConcatInfo, split_udh

from .strategies import any_texts


def payloads(parts):
    return [split_udh(part.short_message)[1] if part.esm_class_udhi else part.short_message for part in parts]


@pytest.mark.parametrize(
    ("text", "data_coding", "sizes"),
    [
        ("", GSM_DEFAULT, [0]),
        ("a" * 160, GSM_DEFAULT, [160]),
        ("a" * 161, GSM_DEFAULT, [153, 8]),
        ("a" * 306, GSM_DEFAULT, [153, 153]),
        ("a" * 307, GSM_DEFAULT, [153, 153, 1]),
        ("€" * 80, GSM_DEFAULT, [160]),
        ("ж" * 70, UCS2, [140]),
        ("ж" * 71, UCS2, [134, 8]),
        ("😀" * 35, UCS2, [140]),
    ],
)
def test_single_and_multi_part_limits(text, data_coding, sizes):
    parts = segment(text, 7)
    assert [len(payload) for payload in payloads(parts)] == sizes
    assert {part.data_coding for part in parts} == {data_coding}
    assert all(part.esm_class_udhi == (len(sizes) > 1) for part in parts)


def test_single_part_has_no_header_and_no_sar():
    (part,) = segment("hello", 1, mode=ConcatMode.SAR)
    assert part.short_message == b"hello"
    assert (part.esm_class_udhi, part.sar) == (False, None)


def test_udh_mode_prefixes_an_8bit_reference_header():
    parts = segment("a" * 200, 300)  # the counter wraps to 8 bits: 300 % 256 = 44
    assert [part.short_message[:6] for part in parts] == [b"\x05\x00\x03\x2c\x02\x01", b"\x05\x00\x03\x2c\x02\x02"]
    assert all(part.esm_class_udhi and part.sar is None for part in parts)


def test_sar_mode_returns_tlv_values_and_a_bare_payload():
    parts = segment("a" * 200, 70_000)  # default mode is UDH; check SAR below with the same text
    sar_parts = segment("a" * 200, 70_000, mode=ConcatMode.SAR)
    assert [part.sar for part in sar_parts] == [ConcatInfo(70_000 % 65_536, 2, 1), ConcatInfo(4464, 2, 2)]
    assert [part.short_message for part in sar_parts] == payloads(parts)
    assert not any(part.esm_class_udhi for part in sar_parts)


def test_an_escape_pair_is_never_split():
    text = "a" * 152 + "€" + "b" * 10
    first, second = payloads(segment(text, 1))
    assert first == b"a" * 152
    assert second.startswith(b"\x1be")


def test_a_surrogate_pair_is_never_split():
    text = "ж" * 66 + "😀" + "ж" * 10
    first, second = payloads(segment(text, 1))
    assert len(first) == 132
    assert second.startswith("😀".encode("utf-16-be"))


def test_too_many_parts_is_refused():
    with pytest.raises(MessageTooLong) as caught:
        segment("a" * 500, 1, max_parts=3)
    assert (caught.value.parts, caught.value.limit) == (4, 3)
    with pytest.raises(MessageTooLong):
        segment("a" * (153 * 255 + 1), 1)
    assert len(segment("a" * (153 * 255), 1)) == 255


@pytest.mark.parametrize(("reference", "max_parts"), [(-1, 10), (1, 0), (1, 256)])
def test_bad_arguments(reference, max_parts):
    with pytest.raises(ValueError):
        segment("a", reference, max_parts=max_parts)


def test_allow_gsm_false_sends_ucs2():
    (part,) = segment("hello", 1, allow_gsm=False)
    assert part.data_coding == UCS2


@settings(max_examples=120, deadline=None)
@given(any_texts, st.integers(0, 100_000), st.sampled_from(ConcatMode))
def test_any_text_splits_within_limits_and_joins_back(text, reference, mode):
    parts = segment(text, reference, mode=mode)
    chunks = payloads(parts)
    data_coding = parts[0].data_coding
    single, multi = (160, 153) if data_coding == GSM_DEFAULT else (140, 134)
    limit = single if len(parts) == 1 else multi
    assert all(len(chunk) <= limit for chunk in chunks)
    # Every part decodes on its own (no half pair anywhere) and the parts join to the original.
    assert "".join(decode(chunk, data_coding) for chunk in chunks) == text
    for chunk in chunks:
        if data_coding == GSM_DEFAULT:
            assert not chunk.endswith(b"\x1b")
        elif chunk:
            assert not 0xDC00 <= int.from_bytes(chunk[:2], "big") <= 0xDFFF
            assert not 0xD800 <= int.from_bytes(chunk[-2:], "big") <= 0xDBFF
    total = len(parts)
    expected = [ConcatInfo(reference % (256 if mode is ConcatMode.UDH else 65_536), total, n)
                for n in range(1, total + 1)]
    if total > 1 and mode is ConcatMode.UDH:
        assert [split_udh(part.short_message)[0].concat for part in parts] == expected
    if total > 1 and mode is ConcatMode.SAR:
        assert [part.sar for part in parts] == expected
