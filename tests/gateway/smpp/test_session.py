from __future__ import annotations

import pytest

from roamback.gateway.smpp import (
    Bind,
    BindFailed,
    BindRequested,
    BindSucceeded,
    CommandId,
    DataSm,
    FailureReason,
    HeaderOnly,
    InvalidPduReceived,
    LinkDead,
    LocalProtocolError,
    MessageResp,
    RemoteProtocolError,
    RequestFailed,
    RequestReceived,
    ResponseReceived,
    Role,
    SendRateChanged,
    SessionConfig,
    SmppSession,
    State,
    Status,
    Unbound,
)
from roamback.gateway.smpp.codec import decode, encode

from .helpers import FEED_MODES, Pair, bind_trx, chunks, deliver, header, submit


def sent(session: SmppSession) -> list:
    """Decode everything the session wants to send."""
    data, frames = session.data_to_send(), []
    while data:
        length = int.from_bytes(data[:4], "big")
        frames.append(decode(data[:length]))
        data = data[length:]
    return frames


def answered(session: SmppSession) -> list[tuple[int, int, int]]:
    """(sequence, command_id, status) of everything the session wants to send."""
    return [(sequence, pdu.command_id, pdu.command_status) for sequence, pdu in sent(session)]


def bound_esme(config: SessionConfig | None = None) -> SmppSession:
    esme = SmppSession(Role.ESME, config, now=0.0)
    esme.bind(bind_trx(), 0.0)
    sequence = sent(esme)[0][0]
    esme.receive_data(header(CommandId.BIND_TRANSCEIVER_RESP, sequence, body=b"smsc\0"), 0.0)
    assert esme.next_events() == [BindSucceeded(State.BOUND_TRX, "smsc")]
    return esme


def answer(esme: SmppSession, sequence: int, status: int = 0, now: float = 0.0, message_id: str = "m") -> None:
    esme.receive_data(encode(MessageResp(CommandId.SUBMIT_SM_RESP, status, message_id), sequence), now)


# -- binding ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command_id", "state"),
    [
        (CommandId.BIND_TRANSMITTER, State.BOUND_TX),
        (CommandId.BIND_RECEIVER, State.BOUND_RX),
        (CommandId.BIND_TRANSCEIVER, State.BOUND_TRX),
    ],
)
def test_each_bind_kind_reaches_its_state_on_both_sides(command_id, state):
    pair = Pair()
    pair.esme.bind(Bind(command_id, "esme", "pw"), 0.0)
    assert pair.esme.state is State.BINDING
    _, smsc_events = pair.pump()
    assert smsc_events == [BindRequested(Bind(command_id, "esme", "pw"))]
    assert pair.smsc.state is State.BINDING
    pair.smsc.accept_bind("smsc", 0.0)
    esme_events, smsc_events = pair.pump()
    assert esme_events == [BindSucceeded(state, "smsc")]
    assert smsc_events == [BindSucceeded(state, "esme")]
    assert pair.esme.state is pair.smsc.state is state


@pytest.mark.parametrize("mode", FEED_MODES)
def test_bind_response_is_understood_however_it_is_split(mode):
    esme = SmppSession(Role.ESME, now=0.0)
    esme.bind(bind_trx(), 0.0)
    wire = header(CommandId.BIND_TRANSCEIVER_RESP, 1, body=b"smsc\0") + header(CommandId.ENQUIRE_LINK, 2)
    for piece in chunks(wire, mode):
        esme.receive_data(piece, 0.0)
    assert esme.next_events() == [BindSucceeded(State.BOUND_TRX, "smsc")]
    assert sent(esme)[-1] == (2, HeaderOnly(CommandId.ENQUIRE_LINK_RESP))


def test_rejected_bind_closes_both_sides_with_the_status():
    pair = Pair()
    pair.esme.bind(bind_trx(), 0.0)
    pair.pump()
    pair.smsc.reject_bind(Status.RINVPASWD, 0.0)
    esme_events, smsc_events = pair.pump()
    assert esme_events == [BindFailed(Status.RINVPASWD)]
    assert smsc_events == [BindFailed(Status.RINVPASWD)]
    assert pair.esme.state is pair.smsc.state is State.CLOSED


def test_unanswered_bind_fails_after_the_bind_timeout():
    esme = SmppSession(Role.ESME, SessionConfig(bind_timeout=5), now=0.0)
    esme.bind(bind_trx(), 0.0)
    assert esme.get_timer() == 5.0
    esme.handle_timer(4.9)
    assert esme.state is State.BINDING
    esme.handle_timer(5.0)
    assert esme.next_events() == [BindFailed(None)]
    assert esme.state is State.CLOSED
    assert esme.get_timer() is None


def test_smsc_closes_a_connection_that_never_binds():
    smsc = SmppSession(Role.SMSC, SessionConfig(bind_timeout=3), now=10.0)
    assert smsc.get_timer() == 13.0
    smsc.handle_timer(13.0)
    assert smsc.next_events() == [BindFailed(None)]
    assert smsc.state is State.CLOSED


# -- illegal transitions and PDUs ---------------------------------------------------------------------------


def test_local_illegal_moves_raise_local_protocol_errors():
    esme = SmppSession(Role.ESME, now=0.0)
    with pytest.raises(LocalProtocolError):
        esme.send_request(submit(), 0.0)  # not bound
    with pytest.raises(LocalProtocolError):
        esme.accept_bind("x", 0.0)  # an ESME is never asked to bind
    esme.bind(bind_trx(), 0.0)
    with pytest.raises(LocalProtocolError):
        esme.bind(bind_trx(), 0.0)  # already binding
    smsc = SmppSession(Role.SMSC, now=0.0)
    with pytest.raises(LocalProtocolError):
        smsc.bind(bind_trx(), 0.0)
    with pytest.raises(LocalProtocolError):
        smsc.reject_bind(Status.RINVPASWD, 0.0)  # nothing to reject


@pytest.mark.parametrize(
    ("command_id", "pdu"),
    [
        (CommandId.BIND_TRANSMITTER, submit()),
        (CommandId.BIND_RECEIVER, submit()),
        (CommandId.BIND_RECEIVER, DataSm("1", "2")),
    ],
)
def test_esme_may_send_only_what_its_bind_allows(command_id, pdu):
    pair = Pair().bound(Bind(command_id, "esme", "pw"))
    if command_id == CommandId.BIND_TRANSMITTER:
        pair.esme.send_request(pdu, 0.0)
        with pytest.raises(LocalProtocolError):
            pair.smsc.send_request(deliver(), 0.0)  # the ESME cannot receive on a transmitter bind
    else:
        with pytest.raises(LocalProtocolError) as caught:
            pair.esme.send_request(pdu, 0.0)
        assert caught.value.status == Status.RINVBNDSTS


def test_peer_request_illegal_in_the_state_is_refused_with_invalid_bind_status():
    smsc = SmppSession(Role.SMSC, now=0.0)
    smsc.receive_data(encode(submit(), 5), 0.0)  # submit before any bind
    assert answered(smsc) == [(5, CommandId.SUBMIT_SM_RESP, Status.RINVBNDSTS)]
    esme = SmppSession(Role.ESME, now=0.0)
    esme.receive_data(encode(bind_trx(), 6), 0.0)  # an SMSC does not bind to an ESME
    assert answered(esme) == [(6, CommandId.BIND_TRANSCEIVER_RESP, Status.RINVBNDSTS)]
    assert smsc.state is esme.state is State.OPEN
    assert smsc.next_events() == esme.next_events() == []


def test_second_bind_on_a_bound_session_is_already_bound():
    pair = Pair().bound()
    pair.smsc.receive_data(encode(bind_trx(), 9), 0.0)
    assert answered(pair.smsc) == [(9, CommandId.BIND_TRANSCEIVER_RESP, Status.RALYBND)]
    assert pair.smsc.state is State.BOUND_TRX


def test_deliver_sm_on_a_transmitter_bind_is_refused():
    pair = Pair().bound(Bind(CommandId.BIND_TRANSMITTER, "esme", "pw"))
    pair.esme.receive_data(encode(deliver(), 3), 0.0)
    assert answered(pair.esme) == [(3, CommandId.DELIVER_SM_RESP, Status.RINVBNDSTS)]
    assert pair.esme.next_events() == []


def test_answering_an_unknown_request_is_a_local_error():
    with pytest.raises(LocalProtocolError):
        Pair().bound().esme.send_response(99)


# -- requests, responses, window ----------------------------------------------------------------------------


def test_deliver_sm_waits_for_the_application_status_and_keeps_its_tlvs():
    pair = Pair().bound()
    request_id = pair.smsc.send_request(deliver(), 0.0)
    esme_events, _ = pair.pump()
    [received] = esme_events
    assert isinstance(received, RequestReceived)
    assert [(t.tag, t.value) for t in received.pdu.tlvs] == [(0x0501, b"\x01"), (0x1383, b"\x2a\x02")]
    assert pair.smsc.outstanding == 1  # no automatic deliver_sm_resp
    pair.esme.send_response(received.sequence_number, Status.RX_T_APPN)
    _, smsc_events = pair.pump()
    assert smsc_events == [RequestFailed(request_id, FailureReason.STATUS, Status.RX_T_APPN)]


def test_submit_round_trip_with_message_id():
    pair = Pair().bound()
    request_id = pair.esme.send_request(submit(), 0.0)
    _, [received] = pair.pump()
    pair.smsc.send_response(received.sequence_number, message_id="abc")
    esme_events, _ = pair.pump()
    assert esme_events == [ResponseReceived(request_id, MessageResp(CommandId.SUBMIT_SM_RESP, 0, "abc"))]


def test_window_holds_requests_in_a_queue_until_answers_come_back():
    esme = bound_esme(SessionConfig(window=3))
    ids = [esme.send_request(submit(), 0.0) for _ in range(5)]
    first = sent(esme)
    assert len(first) == 3 and (esme.outstanding, esme.queued) == (3, 2)
    answer(esme, first[0][0])
    assert [e.request_id for e in esme.next_events()] == [ids[0]]
    assert len(sent(esme)) == 1 and (esme.outstanding, esme.queued) == (3, 1)


def test_sequence_numbers_wrap_before_the_sign_bit():
    esme = bound_esme()
    esme._next_sequence = 0x7FFFFFFF
    esme.send_request(submit(), 0.0)
    esme.send_request(submit(), 0.0)
    assert [s for s, _ in sent(esme)] == [0x7FFFFFFF, 1]


def test_unanswered_request_times_out_and_a_late_answer_is_ignored():
    esme = bound_esme(SessionConfig(response_timeout=2, enquire_link_interval=100))
    request_id = esme.send_request(submit(), 1.0)
    [(sequence, _)] = sent(esme)
    assert esme.get_timer() == 3.0
    esme.handle_timer(3.0)
    assert esme.next_events() == [RequestFailed(request_id, FailureReason.TIMEOUT)]
    answer(esme, sequence, now=4.0)
    assert esme.next_events() == []


def test_peer_status_and_generic_nack_fail_the_request():
    esme = bound_esme()
    first, second = esme.send_request(submit(), 0.0), esme.send_request(submit(), 0.0)
    (s1, _), (s2, _) = sent(esme)
    answer(esme, s1, 0x0B)  # ESME_RINVDSTADR
    esme.receive_data(encode(HeaderOnly(CommandId.GENERIC_NACK, Status.RSYSERR), s2), 0.0)
    assert esme.next_events() == [
        RequestFailed(first, FailureReason.STATUS, 0x0B),
        RequestFailed(second, FailureReason.STATUS, Status.RSYSERR),
    ]


def test_too_many_unanswered_peer_requests_are_throttled_back():
    pair = Pair(SessionConfig(max_unanswered_received=1)).bound()
    pair.smsc.send_request(deliver(), 0.0)
    second = pair.smsc.send_request(deliver(), 0.0)
    esme_events, smsc_events = pair.pump()
    assert len(esme_events) == 1
    assert smsc_events[0] == SendRateChanged(1.0)  # our own SMSC side backs off in turn
    assert pair.smsc.queued == 1 and second


# -- throttling and rate cap --------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [Status.RTHROTTLED, Status.RMSGQFUL])
def test_throttled_request_is_resent_after_a_pause_at_half_the_rate(status):
    esme = bound_esme(SessionConfig(submit_rate=100, throttle_pause=1.0, enquire_link_interval=100))
    request_id = esme.send_request(submit(b"same"), 0.0)
    [(sequence, original)] = sent(esme)
    answer(esme, sequence, status)
    assert esme.next_events() == [SendRateChanged(50.0)]
    assert esme.send_rate == 50.0 and sent(esme) == []
    assert esme.get_timer() == 1.0
    esme.handle_timer(1.0)
    [(new_sequence, resent)] = sent(esme)
    assert new_sequence != sequence and resent.short_message == original.short_message == b"same"
    answer(esme, new_sequence, now=1.0)
    assert [type(e) for e in esme.next_events()] == [ResponseReceived]
    assert request_id


def test_rate_recovers_towards_the_cap():
    esme = bound_esme(SessionConfig(submit_rate=100, throttle_pause=1.0, rate_recovery_interval=5.0))
    esme.send_request(submit(), 0.0)
    answer(esme, sent(esme)[0][0], Status.RTHROTTLED)
    esme.handle_timer(1.0)
    answer(esme, sent(esme)[0][0], Status.RTHROTTLED, now=1.0)
    assert esme.send_rate == 25.0
    esme.send_request(submit(), 7.0)
    assert esme.send_rate == 50.0
    esme.send_request(submit(), 12.0)
    assert esme.send_rate == 100.0


def test_throttling_without_a_cap_halves_the_observed_rate_then_returns_to_no_cap():
    esme = bound_esme(SessionConfig(throttle_pause=0.5, rate_recovery_interval=1.0))
    for _ in range(40):
        esme.send_request(submit(), 0.0)
    sequences = [s for s, _ in sent(esme)]
    for sequence in sequences[:-1]:
        answer(esme, sequence)
    answer(esme, sequences[-1], Status.RTHROTTLED)
    assert esme.send_rate == 20.0
    esme.send_request(submit(), 2.0)
    assert esme.send_rate is None


def test_endlessly_throttled_request_finally_fails():
    esme = bound_esme(SessionConfig(max_throttle_resends=2, throttle_pause=0.0, response_timeout=100))
    request_id = esme.send_request(submit(), 0.0)
    now = 0.0
    for _ in range(3):
        esme.handle_timer(now)
        answer(esme, sent(esme)[0][0], Status.RTHROTTLED, now=now)
        now += 5
    assert esme.next_events()[-1] == RequestFailed(request_id, FailureReason.STATUS, Status.RTHROTTLED)


def test_rate_cap_spaces_submits():
    esme = bound_esme(SessionConfig(submit_rate=10, enquire_link_interval=100))
    for _ in range(5):
        esme.send_request(submit(), 0.0)
    assert len(sent(esme)) == 1  # burst of max(1, rate/10)
    assert esme.get_timer() == pytest.approx(0.1)
    esme.handle_timer(0.1)
    assert len(sent(esme)) == 1
    esme.handle_timer(0.35)
    assert len(sent(esme)) == 1  # the bucket holds at most one token
    esme.handle_timer(1.0)
    assert len(sent(esme)) == 1 and esme.queued == 1


# -- enquire_link, unbind, garbage --------------------------------------------------------------------------


def test_enquire_link_after_silence_and_link_dead_when_unanswered():
    esme = bound_esme(SessionConfig(enquire_link_interval=30, response_timeout=5))
    request_id = esme.send_request(submit(), 0.0)
    sent(esme)
    esme.receive_data(header(CommandId.ENQUIRE_LINK_RESP, 999), 4.0)  # traffic resets the silence clock
    esme.handle_timer(4.0)
    assert esme.get_timer() == 5.0  # the request's own timeout comes first
    esme.handle_timer(5.0)
    esme.next_events()
    assert esme.get_timer() == 34.0
    esme.handle_timer(34.0)
    [(sequence, probe)] = sent(esme)
    assert probe == HeaderOnly(CommandId.ENQUIRE_LINK)
    esme.receive_data(header(CommandId.ENQUIRE_LINK_RESP, sequence), 35.0)
    assert esme.get_timer() == 65.0
    esme.handle_timer(65.0)
    sent(esme)
    esme.handle_timer(70.0)
    assert esme.next_events() == [LinkDead()]
    assert esme.state is State.CLOSED and request_id


def test_both_roles_answer_enquire_link_themselves():
    pair = Pair().bound()
    pair.esme.receive_data(header(CommandId.ENQUIRE_LINK, 7), 0.0)
    pair.smsc.receive_data(header(CommandId.ENQUIRE_LINK, 8), 0.0)
    assert sent(pair.esme) == [(7, HeaderOnly(CommandId.ENQUIRE_LINK_RESP))]
    assert sent(pair.smsc) == [(8, HeaderOnly(CommandId.ENQUIRE_LINK_RESP))]


def test_clean_unbind_fails_queued_requests_as_not_sent():
    pair = Pair(SessionConfig(window=1)).bound()
    in_flight = pair.esme.send_request(submit(), 0.0)
    queued = pair.esme.send_request(submit(), 0.0)
    pair.esme.unbind(0.0)
    assert pair.esme.state is State.UNBINDING
    esme_events, smsc_events = pair.pump()
    assert RequestFailed(queued, FailureReason.NOT_SENT) in esme_events
    assert RequestFailed(in_flight, FailureReason.CONNECTION_LOST) in esme_events
    assert esme_events[-1] == Unbound(by_peer=False)
    assert smsc_events[-1] == Unbound(by_peer=True)
    assert pair.esme.state is pair.smsc.state is State.CLOSED
    with pytest.raises(LocalProtocolError):
        pair.esme.unbind(0.0)


def test_unbind_without_answer_closes_after_the_response_timeout():
    esme = bound_esme(SessionConfig(response_timeout=2))
    esme.unbind(1.0)
    esme.handle_timer(3.0)
    assert esme.next_events() == [Unbound(by_peer=False)]
    assert esme.state is State.CLOSED


def test_unbind_before_bound_just_closes():
    esme = SmppSession(Role.ESME, now=0.0)
    esme.unbind(0.0)
    assert esme.next_events() == [Unbound(by_peer=False)]
    assert esme.state is State.CLOSED and esme.data_to_send() == b""


@pytest.mark.parametrize("mode", FEED_MODES)
def test_garbage_pdus_get_generic_nack_and_the_link_stays_up(mode):
    esme = bound_esme()
    wire = header(0x00000111, 41) + header(CommandId.DELIVER_SM, 42, body=b"\0\0") + encode(deliver(), 43)
    for piece in chunks(wire, mode):
        esme.receive_data(piece, 0.0)
    events = esme.next_events()
    assert events[:2] == [
        InvalidPduReceived(41, 0x111, Status.RINVCMDID),
        InvalidPduReceived(42, CommandId.DELIVER_SM, Status.RINVCMDLEN),
    ]
    assert isinstance(events[2], RequestReceived) and events[2].sequence_number == 43
    assert sent(esme) == [
        (41, HeaderOnly(CommandId.GENERIC_NACK, Status.RINVCMDID)),
        (42, HeaderOnly(CommandId.GENERIC_NACK, Status.RINVCMDLEN)),
    ]
    assert esme.state is State.BOUND_TRX


def test_undecodable_response_fails_its_request():
    esme = bound_esme()
    request_id = esme.send_request(submit(), 0.0)
    [(sequence, _)] = sent(esme)
    esme.receive_data(header(CommandId.SUBMIT_SM_RESP, sequence, body=b"no-nul"), 0.0)
    assert esme.next_events()[-1] == RequestFailed(request_id, FailureReason.STATUS, Status.RINVCMDLEN)


def test_broken_framing_nacks_raises_and_closes():
    esme = bound_esme()
    request_id = esme.send_request(submit(), 0.0)
    sent(esme)
    with pytest.raises(RemoteProtocolError) as caught:
        esme.receive_data(b"\xff\xff\xff\xff" + bytes(12), 0.0)
    assert caught.value.status == Status.RINVCMDLEN
    assert sent(esme) == [(0, HeaderOnly(CommandId.GENERIC_NACK, Status.RINVCMDLEN))]
    assert esme.next_events() == [RequestFailed(request_id, FailureReason.CONNECTION_LOST)]
    assert esme.state is State.CLOSED


def test_connection_lost_fails_everything_and_ignores_late_answers():
    pair = Pair(SessionConfig(window=1)).bound()
    pair.esme.send_request(submit(), 0.0)
    pair.esme.send_request(submit(), 0.0)
    _, [received] = pair.pump()
    pair.esme.connection_lost()
    pair.smsc.connection_lost()
    reasons = [e.reason for e in pair.esme.next_events()]
    assert reasons == [FailureReason.CONNECTION_LOST, FailureReason.NOT_SENT]
    pair.smsc.send_response(received.sequence_number)  # dropped, no error
    assert pair.smsc.data_to_send() == b""
