"""USSD dialogues between simnet's USSD centre and our own ESME link, in every preset dialect.

The service's side is played with the service's own dialect code (``classify``, ``build_reply``): simnet
reads the same ``UssdDialect`` from the other side, so a dialogue that runs here is one both agree on.
"""

from __future__ import annotations

import pytest

from roamback.gateway.smpp import DataSm, SmppRequestError, Status
from roamback.gateway.ussd import PRESETS, Abort, Begin, Continue, build_reply, classify
from roamback.simnet.handsets import UssdEnded, UssdScreen
from roamback.simnet.ussdc import ESME_RSUBMITFAIL, UssdError

from .helpers import HANDSET, Net, indication_of, reply_pdu

DIALECTS = sorted(PRESETS)


def net(dialect: str, **ussd: object) -> Net:
    return Net(ussd={"dialect": dialect, **ussd}).bind()


def last_indication(harness: Net):
    return indication_of(harness.service.received[-1])


@pytest.mark.parametrize("name", DIALECTS)
def test_begin_menu_answer_close(name: str) -> None:
    harness = net(name)
    dialect = PRESETS[name]
    harness.network.ussd.dial(HANDSET, "*123*447700900456#")
    harness.flush()
    [begin] = harness.service.received
    assert (begin.service_type, begin.destination_addr, begin.source_addr) == ("USSD", "123", HANDSET)
    indication = indication_of(begin)
    assert indication.text == "*123*447700900456#"
    assert isinstance(classify(indication, dialect), Begin)

    menu = build_reply(dialect, indication, "1. Call now\n2. Балансе", close=False)
    assert harness.submit(reply_pdu(menu)).command_status == Status.ROK
    assert harness.events == [UssdScreen("1. Call now\n2. Балансе", open=True)]

    harness.network.ussd.answer(HANDSET, "2")
    harness.flush()
    answer = last_indication(harness)
    assert answer.text == "2" and isinstance(classify(answer, dialect), Continue)
    assert classify(answer, dialect).key == classify(indication, dialect).key

    final = build_reply(dialect, answer, "We call you back", close=True)
    assert harness.submit(reply_pdu(final)).command_status == Status.ROK
    assert harness.events[-1] == UssdScreen("We call you back", open=False)
    assert not harness.network.ussd.open_dialogue(HANDSET)
    harness.stop()


def test_tata_closes_by_end_bit_only() -> None:
    harness = net("tata")
    dialect = PRESETS["tata"]
    harness.network.ussd.dial(HANDSET, "*123#")
    harness.flush()
    begin = last_indication(harness)
    same_op_open = build_reply(dialect, begin, "Menu", close=False)
    same_op_close = build_reply(dialect, begin, "Bye", close=True)
    assert same_op_open.op == same_op_close.op == 0x02
    harness.submit(reply_pdu(same_op_open))
    assert harness.events[-1] == UssdScreen("Menu", open=True)
    harness.submit(reply_pdu(same_op_close))
    assert harness.events[-1] == UssdScreen("Bye", open=False)
    harness.stop()


def test_mica_keys_dialogues_by_user_message_reference() -> None:
    harness = net("mica")
    dialect = PRESETS["mica"]
    harness.network.ussd.dial(HANDSET, "*123#")
    harness.flush()
    begin = last_indication(harness)
    assert begin.its_session_info is None and begin.user_message_reference is not None
    wrong = build_reply(dialect, begin, "Menu", close=False)
    wrong = type(wrong)(wrong.msisdn, wrong.op, wrong.text, wrong.close, None, begin.user_message_reference + 1)
    refused = harness.submit(reply_pdu(wrong))
    assert isinstance(refused.value, SmppRequestError) and refused.value.status == ESME_RSUBMITFAIL
    assert harness.submit(reply_pdu(build_reply(dialect, begin, "Menu", close=False))).command_status == 0
    assert harness.events == [UssdScreen("Menu", open=True)]
    harness.stop()


@pytest.mark.parametrize("name", DIALECTS)
def test_screen_timeout_aborts_towards_the_service(name: str) -> None:
    harness = net(name, screen_timeout_seconds=30)
    dialect = PRESETS[name]
    harness.network.ussd.dial(HANDSET, "*123#")
    harness.flush()
    begin = last_indication(harness)
    harness.submit(reply_pdu(build_reply(dialect, begin, "Menu", close=False)))
    harness.advance(29.9)
    assert len(harness.service.received) == 1
    harness.advance(0.2)
    assert harness.events[-1] == UssdEnded("timeout")
    abort = last_indication(harness)
    assert isinstance(classify(abort, dialect), Abort)
    late = harness.submit(reply_pdu(build_reply(dialect, begin, "Too late", close=True)))
    assert late.value.status == ESME_RSUBMITFAIL
    harness.stop()


def test_dialogue_timeout_while_the_service_stays_silent() -> None:
    harness = net("smpp34", dialogue_timeout_seconds=60)
    harness.network.ussd.dial(HANDSET, "*123#")
    harness.flush()
    harness.advance(59.9)
    assert harness.events == []
    harness.advance(0.1)
    assert harness.events == [UssdEnded("timeout")]
    assert not harness.network.ussd.open_dialogue(HANDSET)
    harness.stop()


def test_release_busy_and_bad_requests() -> None:
    harness = net("6d")
    ussd = harness.network.ussd
    with pytest.raises(UssdError, match="not a USSD string"):
        ussd.dial(HANDSET, "hello")
    with pytest.raises(UssdError, match="no USSD menu"):
        ussd.answer(HANDSET, "1")
    ussd.dial(HANDSET, "*123#")
    with pytest.raises(UssdError, match="already open"):
        ussd.dial(HANDSET, "*124#")
    ussd.release(HANDSET)
    harness.flush()
    assert harness.events == [UssdEnded("released")]
    assert indication_of(harness.service.received[-1]).op == 0x81
    harness.stop()


def test_reply_with_an_op_outside_the_dialect_is_refused() -> None:
    harness = net("6d")
    harness.network.ussd.dial(HANDSET, "*123#")
    harness.flush()
    begin = last_indication(harness)
    reply = build_reply(PRESETS["6d"], begin, "Menu", close=False)
    odd = type(reply)(reply.msisdn, 0x33, reply.text, False, reply.its_session_info, None)
    assert harness.submit(reply_pdu(odd)).value.status == 0xC4
    too_long = type(reply)(reply.msisdn, reply.op, "é" * 81, False, reply.its_session_info, None)
    assert harness.submit(reply_pdu(too_long)).value.status == 0x01
    harness.stop()


def test_no_bound_service_ends_the_dialogue_at_once() -> None:
    harness = Net()
    harness.network.ussd.dial(HANDSET, "*123#")
    assert harness.events == [UssdEnded("unavailable")]
    assert not harness.network.ussd.open_dialogue(HANDSET)
    assert harness.reactor.getDelayedCalls() == []


def test_data_sm_is_not_simulated() -> None:
    harness = net("smpp34")
    assert harness.network.handle_request(DataSm("1", "2"), "roamback") == Status.RINVCMDID
    harness.stop()
