import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roamback.gateway.sms.encoding import UCS2, SmsDecodeError, UnsupportedDataCoding
from roamback.gateway.sms.reassembly import Reassembler, ReassemblyStats, split_concat
from roamback.gateway.sms.segmenting import ConcatMode, segment
from roamback.gateway.sms.udh import ConcatInfo, UdhError

from .strategies import any_texts

LONG = "Votre solde est de 12,50 €. " * 16  # GSM with escape pairs, 4 parts
SOURCE = "+447700900456"


def feed(reassembler, parts, now=0.0, source=SOURCE):
    return [
        reassembler.receive(source, part.short_message, part.data_coding, now, udhi=part.esm_class_udhi, sar=part.sar)
        for part in parts
    ]


@pytest.mark.parametrize("mode", list(ConcatMode))
def test_out_of_order_parts_complete_on_the_last_one(mode):
    parts = segment(LONG, 9, mode=mode)
    assert len(parts) == 4
    results = feed(Reassembler(), [parts[2], parts[0], parts[3], parts[1]])
    assert results == [None, None, None, LONG]


def test_single_part_messages_are_decoded_at_once():
    reassembler = Reassembler()
    assert reassembler.receive(SOURCE, b"BAL", 0, 0.0) == "BAL"
    assert reassembler.receive(SOURCE, "رصيد".encode("utf-16-be"), UCS2, 0.0) == "رصيد"
    # A header carrying something else than concatenation (a port) is stripped.
    assert reassembler.receive(SOURCE, b"\x04\x05\x02\x0b\x84HELP", 0, 0.0, udhi=True) == "HELP"
    # A one-part "long" message is a message.
    assert reassembler.receive(SOURCE, b"\x05\x00\x03\x01\x01\x01HI", 0, 0.0, udhi=True) == "HI"
    assert reassembler.stats.pending == 0


def test_16bit_reference_parts():
    reassembler = Reassembler()
    first = b"\x06\x08\x04\x12\x34\x02\x01" + b"Hello "
    second = b"\x06\x08\x04\x12\x34\x02\x02" + b"world"
    assert reassembler.receive(SOURCE, second, 0, 0.0, udhi=True) is None
    assert reassembler.receive(SOURCE, first, 0, 0.0, udhi=True) == "Hello world"


def test_duplicates_are_ignored_and_counted():
    parts = segment(LONG, 3)
    reassembler = Reassembler()
    assert feed(reassembler, [parts[0], parts[0], parts[1], parts[1], parts[2], parts[3]]) == [
        None, None, None, None, None, LONG
    ]
    assert reassembler.stats == ReassemblyStats(pending=0, duplicates=2, expired=0, evicted=0)


def test_a_late_duplicate_after_completion_waits_then_expires():
    parts = segment(LONG, 3)
    reassembler = Reassembler(timeout=60)
    feed(reassembler, parts, now=0.0)
    assert feed(reassembler, [parts[3]], now=1.0) == [None]
    assert reassembler.stats.pending == 1
    assert reassembler.expire(61.0) == 1
    assert reassembler.stats.pending == 0


def test_parts_of_different_senders_references_or_totals_never_mix():
    reassembler = Reassembler()
    two = segment("a" * 200, 5)
    three = segment("b" * 400, 5)
    other_ref = segment("c" * 200, 6)
    assert feed(reassembler, [two[0], three[0], other_ref[0]]) == [None] * 3
    assert feed(reassembler, two[1:2], source="+33612345678") == [None]
    assert feed(reassembler, [other_ref[1], two[1], three[2], three[1]]) == ["c" * 200, "a" * 200, None, "b" * 400]


def test_incomplete_messages_expire_after_the_timeout():
    parts = segment(LONG, 3)
    reassembler = Reassembler(timeout=10)
    assert reassembler.next_deadline() is None
    feed(reassembler, parts[:2], now=100.0)
    assert reassembler.next_deadline() == 110.0
    assert reassembler.expire(109.9) == 0
    assert reassembler.expire(110.0) == 1
    assert reassembler.stats.expired == 1
    assert reassembler.next_deadline() is None
    # The rest arriving afterwards starts over rather than completing with stale parts.
    assert feed(reassembler, parts[2:], now=111.0) == [None, None]


def test_receive_expires_stale_messages_even_without_a_timer():
    parts = segment(LONG, 3)
    reassembler = Reassembler(timeout=10)
    feed(reassembler, parts[:3], now=0.0)
    assert feed(reassembler, parts[3:], now=10.0) == [None]
    assert reassembler.stats == ReassemblyStats(pending=1, duplicates=0, expired=1, evicted=0)


def test_the_number_of_waiting_messages_is_bounded_oldest_dropped():
    reassembler = Reassembler(max_pending=2)
    messages = [segment(letter * 200, ref) for ref, letter in enumerate("xyz")]
    for now, parts in enumerate(messages):
        feed(reassembler, parts[:1], now=float(now))
    assert reassembler.stats == ReassemblyStats(pending=2, duplicates=0, expired=0, evicted=1)
    assert reassembler.next_deadline() == 1.0 + 300.0
    assert feed(reassembler, messages[0][1:], now=3.0) == [None]  # x was dropped: its last part waits alone
    assert reassembler.stats.evicted == 2  # ... and pushed out y
    assert feed(reassembler, messages[2][1:], now=3.0) == ["z" * 200]


def test_sloppy_senders_splitting_pairs_are_read_correctly():
    reassembler = Reassembler()
    udh = b"\x05\x00\x03\x07\x02"
    assert reassembler.receive(SOURCE, udh + b"\x0110 \x1b", 0, 0.0, udhi=True) is None
    assert reassembler.receive(SOURCE, udh + b"\x02e", 0, 0.0, udhi=True) == "10 €"
    smile = "😀".encode("utf-16-be")
    assert reassembler.receive(SOURCE, udh + b"\x01" + smile[:2], UCS2, 0.0, udhi=True) is None
    assert reassembler.receive(SOURCE, udh + b"\x02" + smile[2:], UCS2, 0.0, udhi=True) == "😀"


def test_parts_in_different_codings_are_decoded_run_by_run():
    reassembler = Reassembler()
    udh = b"\x05\x00\x03\x07\x02"
    reassembler.receive(SOURCE, udh + b"\x02" + "ж".encode("utf-16-be"), UCS2, 0.0, udhi=True)
    assert reassembler.receive(SOURCE, udh + b"\x01ab", 0, 0.0, udhi=True) == "abж"


def test_an_odd_ucs2_part_is_refused_and_the_others_still_wait():
    reassembler = Reassembler()
    udh = b"\x05\x00\x03\x07\x02"
    with pytest.raises(SmsDecodeError, match="odd"):
        reassembler.receive(SOURCE, udh + b"\x01\x00a\x00", UCS2, 0.0, udhi=True)
    reassembler.receive(SOURCE, udh + b"\x01\x00a", UCS2, 0.0, udhi=True)
    assert reassembler.receive(SOURCE, udh + b"\x02\x00b", UCS2, 0.0, udhi=True) == "ab"


def test_unreadable_parts_raise_typed_errors():
    reassembler = Reassembler()
    with pytest.raises(UdhError):
        reassembler.receive(SOURCE, b"\x09\x00\x03", 0, 0.0, udhi=True)
    with pytest.raises(UnsupportedDataCoding):
        reassembler.receive(SOURCE, b"\x00\x01", 0x04, 0.0)
    udh = b"\x05\x00\x03\x07\x02"
    reassembler.receive(SOURCE, udh + b"\x01a", 0x02, 0.0, udhi=True)
    with pytest.raises(UnsupportedDataCoding):
        reassembler.receive(SOURCE, udh + b"\x02b", 0x02, 0.0, udhi=True)
    assert reassembler.stats.pending == 0


def test_split_concat_prefers_the_header_over_sar():
    sar = ConcatInfo(1, 2, 2)
    assert split_concat(b"plain", udhi=False, sar=sar) == (b"plain", sar)
    assert split_concat(b"\x05\x00\x03\x09\x03\x01x", udhi=True, sar=sar) == (b"x", ConcatInfo(9, 3, 1))
    assert split_concat(b"\x00x", udhi=True, sar=sar) == (b"x", sar)


@pytest.mark.parametrize(("timeout", "max_pending"), [(0, 1), (-1, 1), (1, 0)])
def test_bad_limits(timeout, max_pending):
    with pytest.raises(ValueError):
        Reassembler(timeout=timeout, max_pending=max_pending)


@settings(max_examples=60, deadline=None)
@given(any_texts, st.integers(0, 1000), st.sampled_from(ConcatMode), st.randoms(use_true_random=False))
def test_any_text_survives_segmenting_shuffling_and_reassembly(text, reference, mode, random):
    parts = list(segment(text, reference, mode=mode))
    random.shuffle(parts)
    results = feed(Reassembler(), parts + parts[:1])
    assert results[:-2] == [None] * (len(parts) - 1)
    assert results[-2] == text
