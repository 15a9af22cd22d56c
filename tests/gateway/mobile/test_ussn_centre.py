"""simnet's USSD centre takes a network-initiated USSN strictly: only outside a dialogue, only to a handset
that is on, naming no dialogue, in one USSD string, and only when the dialect has a USSN op code."""

from __future__ import annotations

import pytest
import smpp34

from roamback.gateway.smpp import SmppRequestError, Status
from roamback.simnet.handsets import UssdScreen
from roamback.simnet.ussdc import ESME_RINVMSGLEN, ESME_RINVOPTPARAMVAL, ESME_RSUBMITFAIL

from ...simnet.helpers import HANDSET, Net

USSN = 0x03


def push(to: str, text: str, *tlvs: smpp34.Tlv, op: int = USSN) -> smpp34.SubmitSm:
    return smpp34.SubmitSm("123", to, text.encode("utf-16-be"), service_type="USSD", data_coding=0x08,
                           tlvs=[smpp34.Tlv(smpp34.TLV_USSD_SERVICE_OP, bytes([op])), *tlvs])


def refused_with(outcome: object) -> int:
    assert isinstance(getattr(outcome, "value", None), SmppRequestError), outcome
    return outcome.value.status  # type: ignore[union-attr]


@pytest.fixture
def net():
    harness = Net().bind()
    yield harness
    harness.stop()


def test_a_push_is_shown_at_once_and_asks_for_no_answer(net):
    assert net.submit(push(HANDSET, "Number busy, we will retry in 1 min")).command_status == Status.ROK
    assert net.events == [UssdScreen("Number busy, we will retry in 1 min", open=False)]
    assert not net.network.ussd.open_dialogue(HANDSET)
    assert net.service.received == []  # no confirmation comes back to the service


def test_a_push_is_refused_while_the_handset_is_in_a_dialogue_or_off(net):
    net.network.ussd.dial(HANDSET, "*123#")
    net.flush()
    assert refused_with(net.submit(push(HANDSET, "busy"))) == ESME_RSUBMITFAIL
    assert refused_with(net.submit(push("447700900999", "nobody attached"))) == ESME_RSUBMITFAIL
    assert net.events == []
    assert net.network.handsets.attached("447700900999") is False


def test_a_push_names_no_dialogue_and_fits_one_string(net):
    session = smpp34.Tlv(smpp34.TLV_ITS_SESSION_INFO, b"\x01\x00")
    reference = smpp34.Tlv(smpp34.TLV_USER_MESSAGE_REFERENCE, b"\x00\x01")
    assert refused_with(net.submit(push(HANDSET, "x", session))) == ESME_RINVOPTPARAMVAL
    assert refused_with(net.submit(push(HANDSET, "x", reference))) == ESME_RINVOPTPARAMVAL
    assert refused_with(net.submit(push(HANDSET, "x" * 81))) == ESME_RINVMSGLEN  # 162 octets of UCS2
    assert net.events == []


def test_a_centre_whose_dialect_has_no_ussn_refuses_the_push():
    harness = Net(ussd={"dialect": "6d"}).bind()
    try:
        assert refused_with(harness.submit(push(HANDSET, "hello"))) == ESME_RSUBMITFAIL
        assert harness.events == []
    finally:
        harness.stop()
