"""The codec: round trips, framing under any segmentation, and agreement with python-diameter both ways."""

from __future__ import annotations

import pytest
from diameter.message import Message as PdMessage
from diameter.message.avp.dictionary import AVP_DICTIONARY, AVP_VENDOR_DICTIONARY
from diameter.message.avp.grouped import FinalUnitIndication, GrantedServiceUnit
from diameter.message.commands import CreditControlAnswer, CreditControlRequest
from hypothesis import given
from hypothesis import strategies as st

from roamback.diameter import codec
from roamback.diameter.codec import Avp, DecodeError, Framer, decode_message, encode, encode_avp, encode_message
from roamback.diameter.credit_control import CcrEncoder, ServiceUsage, SessionFacts, read_answer
from roamback.diameter.dictionary import (
    _DEFS,
    AVP_FLAG_MANDATORY,
    AvpType,
    CcRequestType,
    ReportingReason,
    ResultCode,
    avp,
)

avps = st.builds(
    Avp, code=st.integers(0, 2**32 - 1), flags=st.sampled_from([0, 0x40, 0x20, 0x60]),
    vendor=st.integers(0, 2**32 - 1), data=st.binary(max_size=64),
).map(lambda a: a._replace(flags=a.flags | (0x80 if a.vendor else 0)))


def encode_all(items: list[Avp]) -> bytes:
    return b"".join(encode_avp(a.code, a.flags, a.vendor, a.data) for a in items)


@given(st.lists(avps, max_size=8), st.integers(0, 2**24 - 1), st.sampled_from([0, 0x80, 0xC0, 0x20, 0x90]))
def test_messages_round_trip(items: list[Avp], command: int, flags: int):
    raw = encode_message(command, flags, 4, 0x1234, 0x5678, [encode_all(items)])
    message = decode_message(raw)
    assert (message.command, message.flags, message.application) == (command, flags, 4)
    assert (message.hop_by_hop, message.end_to_end) == (0x1234, 0x5678)
    assert message.avps == items


@given(st.lists(avps, min_size=1, max_size=4), st.lists(avps, max_size=4))
def test_grouped_avps_nest(inner: list[Avp], outer: list[Avp]):
    group = encode_avp(456, 0x40, 0, encode_all(inner))
    (decoded, *rest) = codec.decode_avps(group + encode_all(outer))
    assert decoded.children() == inner and rest == outer


@given(st.lists(st.lists(avps, max_size=3), min_size=1, max_size=4), st.data())
def test_framing_survives_any_segmentation(messages: list[list[Avp]], data: st.DataObject):
    stream = b"".join(encode_message(272, 0x80, 4, i, i, [encode_all(m)]) for i, m in enumerate(messages))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    framer, frames, start = Framer(), [], 0
    for cut in [*cuts, len(stream)]:
        frames += framer.feed(stream[start:cut])
        start = max(start, cut)
    assert [decode_message(f).avps for f in frames] == messages


def test_framing_byte_by_byte_keeps_trailing_data():
    one = encode_message(280, 0x80, 0, 1, 1, [encode(avp("Origin-Host"), "a.test")])
    framer = Framer()
    out = [frame for byte in one + one[:7] for frame in framer.feed(bytes((byte,)))]
    assert out == [one]
    assert framer.feed(one[7:]) == [one]


@given(st.binary(max_size=80))
def test_garbage_raises_decode_errors_only(junk: bytes):
    try:
        decode_message(junk)
    except DecodeError as exc:
        assert exc.result_code in set(ResultCode)


@pytest.mark.parametrize(("raw", "code"), [
    (b"\x02\x00\x00\x14" + bytes(16), ResultCode.UNSUPPORTED_VERSION),
    (b"\x01\x00\x00\x13" + bytes(16), ResultCode.INVALID_MESSAGE_LENGTH),
])
def test_framer_rejects_bad_headers(raw: bytes, code: ResultCode):
    with pytest.raises(DecodeError) as error:
        Framer().feed(raw)
    assert error.value.result_code is code


def test_avp_overrunning_its_message_is_invalid_length():
    raw = encode_message(272, 0, 4, 1, 1, [b"\x00\x00\x01\x07\x40\x00\x00\x40"])
    with pytest.raises(DecodeError) as error:
        decode_message(raw)
    assert error.value.result_code is ResultCode.INVALID_AVP_LENGTH


def test_dictionary_agrees_with_python_diameter():
    """Same codes, vendors and wire widths; the M bit of every row matches RFC 6733/4006/32.299."""
    width = {AvpType.UNSIGNED32: 4, AvpType.ENUMERATED: 4}
    for definition in _DEFS:
        table = AVP_VENDOR_DICTIONARY[definition.vendor] if definition.vendor else AVP_DICTIONARY
        theirs = table[definition.code]
        assert theirs["name"] == definition.name
        if definition.type in width:
            assert theirs["type"].__name__ in ("AvpUnsigned32", "AvpInteger32"), definition.name
    not_mandatory = {d.name for d in _DEFS if not d.mandatory}
    assert not_mandatory == {"Product-Name", "Error-Message", "Firmware-Revision"}  # RFC 6733 4.5 / 5.3


def _ccr(kind: CcRequestType, destination_host: str | None) -> bytes:
    encoder = CcrEncoder(origin_host="rb.client.test", origin_realm="client.test", destination_realm="ocs.test",
                         service_context_id="32260@3gpp.org")
    session = encoder.session_parts(SessionFacts("rb.client.test;1;2", "+447700900100", "234150999999999",
                                                 "+447700900100", "+33612345678"))
    usages = [ServiceUsage(100, 1, requested_seconds=630, used_seconds=12, reporting_reason=ReportingReason.FINAL),
              ServiceUsage(200, 2, requested_seconds=600)]
    return encoder.build(session, kind, 3, usages, destination_host)


def test_our_ccr_reads_the_same_in_python_diameter():
    ours = _ccr(CcRequestType.UPDATE, "ocs1.ocs.test")
    theirs = PdMessage.from_bytes(ours)
    assert isinstance(theirs, CreditControlRequest)
    assert theirs.session_id == "rb.client.test;1;2"
    assert (theirs.origin_host, theirs.destination_host) == (b"rb.client.test", b"ocs1.ocs.test")
    assert (theirs.cc_request_type, theirs.cc_request_number, theirs.service_context_id) == (2, 3, "32260@3gpp.org")
    assert [(s.subscription_id_type, s.subscription_id_data) for s in theirs.subscription_id] == [
        (0, "447700900100"), (1, "234150999999999")]
    first, second = theirs.multiple_services_credit_control
    assert (first.rating_group, first.service_identifier, first.requested_service_unit.cc_time) == (100, [1], 630)
    assert first.used_service_unit[0].cc_time == 12 and second.rating_group == 200
    ims = theirs.service_information.ims_information
    assert (ims.calling_party_address, ims.called_party_address) == (["tel:+447700900100"], "tel:+33612345678")
    assert theirs.as_bytes() is not None  # python-diameter re-encodes what it decoded


def test_origin_host_and_realm_carry_the_m_bit():
    message = decode_message(_ccr(CcRequestType.INITIAL, None))
    for code in (264, 296, 283, 263):
        found = message.find(code)
        assert found is not None and found.flags & AVP_FLAG_MANDATORY, code
    assert message.find(293) is None  # no Destination-Host on a CCR-I


def test_python_diameter_cca_reads_the_same_in_ours():
    cca = CreditControlAnswer()
    cca.header.hop_by_hop_identifier, cca.header.end_to_end_identifier = 7, 9
    cca.session_id, cca.origin_host, cca.origin_realm = "s;1", b"ocs1.ocs.test", b"ocs.test"
    cca.result_code, cca.cc_request_type, cca.cc_request_number = 2001, 1, 0
    cca.credit_control_failure_handling = 2
    cca.add_multiple_services_credit_control(
        rating_group=100, service_identifier=1, result_code=2001, validity_time=30,
        granted_service_unit=GrantedServiceUnit(cc_time=120))
    cca.add_multiple_services_credit_control(
        rating_group=200, service_identifier=2, result_code=4012,
        final_unit_indication=FinalUnitIndication(final_unit_action=0))
    answer = read_answer(decode_message(cca.as_bytes()))
    assert (answer.result_code, answer.origin_host, answer.failure_handling) == (2001, "ocs1.ocs.test", 2)
    leg_a, leg_b = answer.service(100, 1), answer.service(200, 2)
    assert leg_a is not None and (leg_a.granted_seconds, leg_a.validity_seconds, leg_a.final) == (120, 30, False)
    assert leg_b is not None and (leg_b.result_code, leg_b.granted_seconds, leg_b.final) == (4012, None, True)
