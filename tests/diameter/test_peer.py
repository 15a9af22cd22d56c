"""The peer state machine, driven with plain numbers for time: capabilities, watchdog, disconnect."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roamback.diameter.codec import Message, decode_message, encode, encode_answer, encode_message
from roamback.diameter.dictionary import APP_RELAY, AVP_FLAG_MANDATORY, Command, ResultCode, avp
from roamback.diameter.peer import (
    TRANSITIONS,
    AnswerReceived,
    Input,
    LocalIdentity,
    LocalProtocolError,
    PeerClosed,
    PeerMachine,
    PeerOpened,
    PeerRecovered,
    PeerState,
    PeerSuspected,
    PeerTimers,
    PeerWentDown,
    RequestReceived,
)

S = PeerState
OCS = (encode(avp("Origin-Host"), "ocs1.ocs.test"), encode(avp("Origin-Realm"), "ocs.test"))


def machine() -> PeerMachine:
    return PeerMachine(LocalIdentity("rb.client.test", "client.test", ("127.0.0.1", "::1")),
                       PeerTimers(watchdog=30, cea_timeout=10, dpa_timeout=5))


def sent(peer: PeerMachine) -> list[Message]:
    return [decode_message(frame) for frame in peer.data_to_send()]


def answer_to(request: Message, code: int = ResultCode.SUCCESS, *extra: bytes) -> bytes:
    return encode_answer(request, (encode(avp("Result-Code"), code), *OCS, *extra))


def request(command: Command, *extra: bytes, hop: int = 99) -> bytes:
    return encode_message(command, 0x80, 0, hop, hop, (*OCS, *extra))


def opened(now: float = 0.0) -> PeerMachine:
    peer = machine()
    peer.connection_made(now)
    (cer,) = sent(peer)
    events = peer.receive_data(answer_to(cer, ResultCode.SUCCESS, encode(avp("Auth-Application-Id"), 4)), now)
    assert events == [PeerOpened("ocs1.ocs.test", "ocs.test")] and peer.state is S.OPEN
    return peer


def test_cer_advertises_what_an_ocs_checks():
    peer = machine()
    peer.connection_made(0)
    (cer,) = sent(peer)
    assert cer.command == Command.CAPABILITIES_EXCHANGE and cer.is_request
    assert cer.text(264) == "rb.client.test" and cer.find(264).flags & AVP_FLAG_MANDATORY
    assert cer.text(296) == "client.test" and cer.find(296).flags & AVP_FLAG_MANDATORY
    assert len(cer.find_all(257)) == 2 and cer.u32(266) == 0 and cer.text(269) == "roamback"
    assert not cer.find(269).flags & AVP_FLAG_MANDATORY  # Product-Name must not have M (RFC 6733 5.3.1)
    assert (cer.u32(258), cer.u32(265)) == (4, 10415)
    assert peer.state is S.WAIT_CEA and peer.get_timer() == 10


def test_cea_fed_byte_by_byte_opens_the_link():
    peer = machine()
    peer.connection_made(0)
    (cer,) = sent(peer)
    raw = answer_to(cer, ResultCode.SUCCESS, encode(avp("Auth-Application-Id"), 4))
    events = [event for byte in raw for event in peer.receive_data(bytes((byte,)), 1)]
    assert events == [PeerOpened("ocs1.ocs.test", "ocs.test")] and peer.get_timer() == 31


@pytest.mark.parametrize(("code", "apps", "state"), [
    (ResultCode.SUCCESS, [4], S.OPEN),
    (ResultCode.SUCCESS, [APP_RELAY], S.OPEN),
    (ResultCode.SUCCESS, [16777238], S.DOWN),  # Gx only: no credit control there
    (ResultCode.UNKNOWN_PEER, [4], S.DOWN),
])
def test_capabilities_answer_table(code: int, apps: list[int], state: PeerState):
    peer = machine()
    peer.connection_made(0)
    (cer,) = sent(peer)
    peer.receive_data(answer_to(cer, code, *(encode(avp("Auth-Application-Id"), a) for a in apps)), 0)
    assert peer.state is state


def test_watchdog_suspect_after_one_missed_dwa_down_after_two():
    peer = opened()
    assert peer.handle_timer(29.9) == []
    assert peer.handle_timer(30) == [] and [m.command for m in sent(peer)] == [Command.DEVICE_WATCHDOG]
    assert peer.handle_timer(60) == [PeerSuspected()] and peer.state is S.SUSPECT
    assert peer.handle_timer(90) == [PeerWentDown("no watchdog answer twice")] and peer.state is S.DOWN
    assert peer.get_timer() is None


def test_a_late_dwa_recovers_a_suspect_peer():
    peer = opened()
    peer.handle_timer(30)
    (dwr,) = sent(peer)
    peer.handle_timer(60)
    assert peer.receive_data(answer_to(dwr), 61) == [PeerRecovered()] and peer.state is S.OPEN
    assert peer.get_timer() == 91


def test_any_traffic_postpones_the_watchdog():
    peer = opened()
    peer.receive_data(request(Command.RE_AUTH), 20)
    assert peer.get_timer() == 50 and peer.handle_timer(30) == [] and sent(peer) == []


@pytest.mark.parametrize("state", [S.OPEN, S.SUSPECT, S.CLOSING])
def test_dwr_is_answered_in_every_live_state(state: PeerState):
    peer = opened()
    peer.state = state
    assert peer.receive_data(request(Command.DEVICE_WATCHDOG), 1) == []
    (dwa,) = sent(peer)
    assert (dwa.command, dwa.is_request, dwa.result_code(), dwa.hop_by_hop) == (280, False, 2001, 99)


def test_dpr_from_the_peer_is_answered_and_closes():
    peer = opened()
    events = peer.receive_data(request(Command.DISCONNECT_PEER, encode(avp("Disconnect-Cause"), 0)), 1)
    assert events == [PeerClosed("peer sent DPR (cause 0)")] and peer.state is S.CLOSED
    (dpa,) = sent(peer)
    assert dpa.command == Command.DISCONNECT_PEER and not dpa.is_request


def test_shutdown_sends_dpr_and_waits_for_dpa_or_its_timeout():
    peer = opened()
    assert peer.shutdown(1) == [] and peer.state is S.CLOSING
    (dpr,) = sent(peer)
    assert dpr.u32(273) == 0  # REBOOTING: we will be back
    assert peer.receive_data(answer_to(dpr), 2) == [PeerClosed("DPA received")]
    silent = opened()
    silent.shutdown(1)
    assert silent.handle_timer(6) == [PeerClosed("no DPA")] and silent.state is S.CLOSED


def test_application_messages_pass_through_and_requests_need_an_open_link():
    peer = opened()
    hop = peer.send_request(encode_message(272, 0xC0, 4, 0, 0, OCS), 777)
    (ccr,) = sent(peer)
    assert (ccr.hop_by_hop, ccr.end_to_end) == (hop, 777)
    answer = answer_to(ccr)
    assert peer.receive_data(answer, 1) == [AnswerReceived(decode_message(answer))]
    rar = request(Command.RE_AUTH)
    assert peer.receive_data(rar, 1) == [RequestReceived(decode_message(rar))]
    peer.handle_timer(31)
    peer.handle_timer(61)
    with pytest.raises(LocalProtocolError):
        peer.send_request(b"", 1)  # SUSPECT: new requests go elsewhere


def test_a_protocol_violation_takes_the_link_down():
    peer = opened()
    events = peer.receive_data(encode_answer(decode_message(request(Command.CAPABILITIES_EXCHANGE)), OCS), 1)
    assert events == [PeerWentDown("unexpected cea in state open")] and peer.state is S.DOWN
    garbage = opened()
    assert isinstance(garbage.receive_data(b"\x07" + bytes(19), 1)[0], PeerWentDown)


def test_a_request_with_broken_avps_is_answered_with_the_error_and_the_link_stays():
    peer = opened()
    broken = encode_message(Command.RE_AUTH, 0xC0, 4, 8, 9, [b"\x00\x00\x01\x07\x40\x00\x00\x40"])
    answer = encode_answer(decode_message(request(Command.CREDIT_CONTROL)), [b"\x00\x00\x01\x07\x40\x00\x00\x40"])
    assert peer.receive_data(broken + answer, 1) == [] and peer.state is S.OPEN
    (error,) = sent(peer)  # the broken answer is dropped, the broken request answered
    # 5014 is a permanent failure, not a protocol error: a plain answer without the E bit (RFC 6733 7.1)
    assert not error.is_error and error.result_code() == ResultCode.INVALID_AVP_LENGTH and error.hop_by_hop == 8


INPUT_MESSAGES = {
    Input.CEA: lambda: answer_to(decode_message(request(Command.CAPABILITIES_EXCHANGE)), 2001,
                                 encode(avp("Auth-Application-Id"), 4)),
    Input.CER: lambda: request(Command.CAPABILITIES_EXCHANGE),
    Input.DWR: lambda: request(Command.DEVICE_WATCHDOG),
    Input.DWA: lambda: answer_to(decode_message(request(Command.DEVICE_WATCHDOG))),
    Input.DPR: lambda: request(Command.DISCONNECT_PEER),
    Input.DPA: lambda: answer_to(decode_message(request(Command.DISCONNECT_PEER))),
    Input.REQUEST: lambda: request(Command.RE_AUTH),
    Input.ANSWER: lambda: answer_to(decode_message(request(Command.CREDIT_CONTROL))),
}


@given(st.sampled_from(list(PeerState)), st.sampled_from(list(Input)))
def test_every_state_input_pair_follows_the_table_or_drops_the_link(state: PeerState, kind: Input):
    peer = opened()
    peer.state = state
    peer.data_to_send()
    if kind in INPUT_MESSAGES:
        events = peer.receive_data(INPUT_MESSAGES[kind](), 1000)
    elif kind is Input.TIMER:
        events = peer.handle_timer(10**6) if peer.get_timer() is not None else peer._apply(kind, 10**6, None)
    else:
        events = {Input.CONNECTED: peer.connection_made, Input.LOST: peer.connection_lost,
                  Input.SHUTDOWN: peer.shutdown}[kind](1000)
    entry = TRANSITIONS.get((state, kind))
    if entry is None:
        assert peer.state is S.DOWN and isinstance(events[-1], PeerWentDown)
    elif peer.state is not entry[1]:  # a handler may divert (a failed CEA, a first missed DWA)
        assert (state, kind) in {(S.WAIT_CEA, Input.CEA), (S.OPEN, Input.TIMER)}


def test_a_broken_grouped_avp_read_lazily_is_rejected_and_the_link_stays():
    """Grouped AVPs are decoded when read: a broken Experimental-Result in an answer, or a broken group in a
    request the observer reads, must not escape receive_data (it would drop the connection)."""
    peer = opened()
    seen: list[Message] = []
    peer._observer = lambda message: seen.append(message) or [group.children() for group in message.find_all(297)]
    broken_group = b"\x00\x00\x01\x29\x40\x00\x00\x10" + b"\x00\x00\x01\x2a\x40\x00\x00\x40"  # 297 -> bad child
    answer = encode_answer(decode_message(request(Command.CREDIT_CONTROL)), [*OCS, broken_group])
    assert decode_message(answer).result_code() is None  # the group is broken: no result, no exception
    broken_request = encode_message(Command.RE_AUTH, 0xC0, 4, 8, 9, [*OCS, broken_group])
    assert peer.receive_data(answer + broken_request, 1) is not None and peer.state is S.OPEN
    assert len(seen) == 2
