"""SMS through simnet with our ESME link in memory: MO redelivery with backoff, receipts, rules, rate cap."""

from __future__ import annotations

import smpp34

from roamback.gateway.smpp import Status
from roamback.gateway.sms import Reassembler
from roamback.simnet.handsets import SmsReceived, SmsRetrying, SmsSent

from .helpers import HANDSET, Net

RETRY = {"retry": {"initial_seconds": 1, "max_seconds": 4, "attempts": 4}}


def test_mo_sms_is_offered_again_until_the_service_stores_it() -> None:
    harness = Net(sms=RETRY).bind()
    harness.service.statuses = [Status.RX_T_APPN, Status.RX_T_APPN, Status.ROK]
    reference = harness.network.sms.send_mo(HANDSET, "1234", "BAL")
    harness.flush()
    assert harness.events == [SmsRetrying(reference, 1, Status.RX_T_APPN, 1.0)]
    harness.advance(1.0)
    assert harness.events[-1] == SmsRetrying(reference, 2, Status.RX_T_APPN, 2.0)
    harness.advance(1.9)
    assert len(harness.service.received) == 2
    harness.advance(0.1)
    assert harness.events[-1] == SmsSent(reference, True, 3, Status.ROK)
    first, *others = harness.service.received
    assert (first.source_addr, first.source_addr_ton, first.destination_addr, first.short_message) == (
        HANDSET, 1, "1234", b"BAL")
    assert all(pdu.short_message == b"BAL" for pdu in others)
    harness.stop()


def test_mo_sms_permanent_refusal_and_giving_up() -> None:
    harness = Net(sms=RETRY).bind()
    harness.service.statuses = [0x65]  # ESME_RX_P_APPN: permanent, never offered again
    reference = harness.network.sms.send_mo(HANDSET, "1234", "BAL")
    harness.flush()
    assert harness.events == [SmsSent(reference, False, 1, 0x65)]
    harness.service.statuses = [Status.RX_T_APPN] * 4
    again = harness.network.sms.send_mo(HANDSET, "1234", "BAL")
    harness.flush()
    for delay in (1, 2, 4):
        harness.advance(delay)
    assert [e.delay for e in harness.events if isinstance(e, SmsRetrying)] == [1.0, 2.0, 4.0]
    assert harness.events[-1] == SmsSent(again, False, 4, Status.RX_T_APPN)
    harness.stop()


def test_mo_sms_waits_for_the_service_to_bind() -> None:
    harness = Net(sms=RETRY)
    reference = harness.network.sms.send_mo(HANDSET, "1234", "BAL")
    assert harness.events == [SmsRetrying(reference, 1, None, 1.0)]
    harness.bind()
    harness.advance(1.0)
    assert harness.events[-1] == SmsSent(reference, True, 2, Status.ROK)
    harness.stop()


def test_long_mo_sms_goes_out_in_udh_parts() -> None:
    harness = Net().bind()
    text = "Call me back on 447700900456 please, " * 6 + "€"
    reference = harness.network.sms.send_mo(HANDSET, "1234", text)
    harness.flush()
    parts = harness.service.received
    assert len(parts) == 2 and all(pdu.esm_class & 0x40 for pdu in parts)
    reassembler = Reassembler()
    results = [reassembler.receive(HANDSET, p.short_message, p.data_coding, 0, udhi=True) for p in parts]
    assert results == [None, text]
    assert harness.events == [SmsSent(reference, True, 1, Status.ROK)]
    harness.stop()


def test_receipt_after_the_configured_delay_with_its_fields() -> None:
    harness = Net(sms={"receipt_delay_seconds": 2}).bind()
    resp = harness.submit(smpp34.SubmitSm("1234", "+447700900001", b"Balance 5 EUR", registered_delivery=1))
    assert resp.command_status == 0 and resp.message_id
    assert [type(e) for e in harness.events] == [SmsReceived]
    assert harness.network.handsets.get(HANDSET).inbox[0].text == "Balance 5 EUR"
    harness.advance(1.9)
    assert harness.service.received == []
    harness.advance(0.1)
    [receipt] = harness.service.received
    assert receipt.esm_class == 0x04 and (receipt.source_addr, receipt.destination_addr) == ("+447700900001", "1234")
    text = receipt.short_message.decode()
    assert text == (f"id:{resp.message_id} sub:001 dlvrd:001 submit date:7001010000 done date:7001010000 "
                    "stat:DELIVRD err:000 text:Balance 5 EUR")
    tlvs = {tlv.tag: tlv.value for tlv in receipt.tlvs}
    assert tlvs == {smpp34.TLV_RECEIPTED_MESSAGE_ID: resp.message_id.encode() + b"\0",
                    smpp34.TLV_MESSAGE_STATE: b"\x02"}
    harness.stop()


def test_rules_and_rate_cap() -> None:
    rules = [
        {"match": "666$", "outcome": "undeliverable", "error": 34},
        {"match": "777$", "outcome": "expired"},
        {"match": "^999", "outcome": "reject", "status": 0x0B},
    ]
    harness = Net(sms={"rules": rules, "receipt_delay_seconds": 0, "max_submits_per_second": 3}).bind()
    undeliverable = harness.submit(smpp34.SubmitSm("1234", "447700900666", b"x", registered_delivery=2))
    expired = harness.submit(smpp34.SubmitSm("1234", "447700900777", b"x", registered_delivery=1))
    harness.advance(0)
    states = [(r.short_message.decode().split(" stat:")[1][:15], r.tlvs[1].value) for r in harness.service.received]
    assert states == [("UNDELIV err:034", b"\x05"), ("EXPIRED err:001", b"\x03")]
    assert undeliverable.message_id != expired.message_id
    assert not harness.network.handsets.get("447700900666").inbox  # a failed message never reaches the handset
    assert harness.submit(smpp34.SubmitSm("1234", "999111", b"x")).value.status == 0x0B
    throttled: list[object] = []  # our ESME pauses and resends on ESME_RTHROTTLED by itself
    harness.link.submit(smpp34.SubmitSm("1234", "447700900001", b"x")).addBoth(throttled.append)
    harness.flush()
    assert throttled == [] and harness.link.bound[0].session.send_rate is not None
    harness.advance(1)
    assert [r.command_status for r in throttled] == [0]
    harness.stop()


def test_no_receipt_on_success_when_only_failures_are_asked_for() -> None:
    harness = Net(sms={"receipt_delay_seconds": 0}).bind()
    harness.submit(smpp34.SubmitSm("1234", HANDSET, b"x", registered_delivery=2))
    harness.advance(0)
    assert harness.service.received == []
    harness.stop()
