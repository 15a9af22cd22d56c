from __future__ import annotations

import pytest
import smpp34

from roamback.gateway.smpp import Bind, BindResp, CommandId, DataSm, HeaderOnly, MessageResp, Status
from roamback.gateway.smpp.codec import FrameBuffer, FramingError, UndecodablePdu, decode, encode

from .helpers import FEED_MODES, USSD_TLVS, chunks, deliver, header, submit

ROUND_TRIP = [
    Bind(CommandId.BIND_TRANSCEIVER, "esme", "secret", "USSD", 0x34, 1, 1, "^44"),
    Bind(CommandId.BIND_RECEIVER, "esme", ""),
    BindResp(CommandId.BIND_TRANSMITTER_RESP, 0, "smsc"),
    BindResp(CommandId.BIND_TRANSCEIVER_RESP, Status.RINVPASWD, ""),
    MessageResp(CommandId.SUBMIT_SM_RESP, 0, "msg-1"),
    MessageResp(CommandId.DELIVER_SM_RESP, Status.RX_T_APPN, ""),
    MessageResp(CommandId.DATA_SM_RESP, 0, "7"),
    HeaderOnly(CommandId.ENQUIRE_LINK),
    HeaderOnly(CommandId.ENQUIRE_LINK_RESP),
    HeaderOnly(CommandId.UNBIND),
    HeaderOnly(CommandId.UNBIND_RESP),
    HeaderOnly(CommandId.GENERIC_NACK, Status.RINVCMDID),
    DataSm("123", "447700900456", service_type="USSD", esm_class=0, data_coding=0x0F, tlvs=tuple(USSD_TLVS)),
]


@pytest.mark.parametrize("pdu", ROUND_TRIP, ids=lambda p: type(p).__name__)
def test_fixed_layout_pdus_round_trip(pdu):
    sequence, decoded = decode(encode(pdu, 77))
    assert sequence == 77
    if isinstance(pdu, DataSm):
        assert [(t.tag, t.value) for t in decoded.tlvs] == [(t.tag, t.value) for t in pdu.tlvs]
        assert (decoded.source_addr, decoded.data_coding) == (pdu.source_addr, pdu.data_coding)
    else:
        assert decoded == pdu


@pytest.mark.parametrize("make", [submit, deliver])
def test_messages_keep_every_tlv_and_take_the_session_sequence(make):
    pdu = make()
    sequence, decoded = decode(encode(pdu, 0x7FFFFFFF))
    assert sequence == 0x7FFFFFFF
    assert decoded.sequence_number == 0x7FFFFFFF
    assert decoded.short_message == pdu.short_message
    assert [(t.tag, t.value) for t in decoded.tlvs] == [(t.tag, t.value) for t in pdu.tlvs]


def test_bind_repr_hides_the_password():
    assert "secret" not in repr(Bind(CommandId.BIND_TRANSCEIVER, "esme", "secret"))


@pytest.mark.parametrize("mode", FEED_MODES)
def test_frames_are_cut_the_same_whichever_way_bytes_arrive(mode):
    stream = encode(submit(), 1) + encode(HeaderOnly(CommandId.ENQUIRE_LINK), 2) + encode(deliver(), 3)
    trailing = encode(submit(), 4)[:10]
    buffer = FrameBuffer()
    frames = [frame for piece in chunks(stream + trailing, mode) for frame in buffer.feed(piece)]
    assert [decode(frame)[0] for frame in frames] == [1, 2, 3]
    assert buffer.feed(encode(submit(), 4)[10:])[0] == encode(submit(), 4)


@pytest.mark.parametrize("length", [0, 15, 70_001, 0xFFFFFFFF])
def test_a_length_that_breaks_framing_is_refused(length):
    with pytest.raises(FramingError) as caught:
        FrameBuffer().feed(length.to_bytes(4, "big") + bytes(12))
    assert caught.value.status == Status.RINVCMDLEN


def test_unknown_command_id_is_undecodable_with_its_sequence():
    with pytest.raises(UndecodablePdu) as caught:
        decode(header(0x00000111, 42))
    assert (caught.value.sequence_number, caught.value.status) == (42, Status.RINVCMDID)


@pytest.mark.parametrize(
    "frame",
    [
        header(CommandId.SUBMIT_SM, 9, body=b"abc"),  # body ends inside the fields
        header(CommandId.BIND_TRANSCEIVER, 9, body=b"no-terminator"),
        header(CommandId.ENQUIRE_LINK, 9, body=b"x"),  # header-only PDU with a body
        header(CommandId.DATA_SM, 9, body=b"\0\0\0a\0\0\0b\0\0\0\0" + b"\x04\x24\x00\x09ab"),  # TLV too short
    ],
)
def test_malformed_body_is_undecodable_with_invalid_length(frame):
    with pytest.raises(UndecodablePdu) as caught:
        decode(frame)
    assert (caught.value.sequence_number, caught.value.status) == (9, Status.RINVCMDLEN)


def test_bind_response_error_carries_no_body():
    wire = encode(BindResp(CommandId.BIND_TRANSCEIVER_RESP, Status.RINVPASWD, "ignored"), 1)
    assert len(wire) == 16
    assert decode(wire)[1] == BindResp(CommandId.BIND_TRANSCEIVER_RESP, Status.RINVPASWD, "")


def test_smpp34_decodes_what_we_encode_as_raw():
    raw = smpp34.decode(encode(HeaderOnly(CommandId.ENQUIRE_LINK), 5))
    assert (raw.command_id, raw.sequence_number, raw.command_length) == (0x15, 5, 16)
