"""Hypothesis against the PDU reader: whatever a peer sends, a bound session answers it or closes cleanly.

Four kinds of input, each fed whole, byte by byte and in uneven pieces: random bytes; well-framed PDUs of
any command with random bodies; real submit_sm/deliver_sm frames with mutated bodies (length kept
consistent); and frames whose command_length lies. The rules checked are the spec's: a frame that cannot
be decoded gets a generic_nack carrying its sequence number and the link stays up; only a length that
breaks framing closes it, after a generic_nack, with ``RemoteProtocolError``. Nothing else may escape,
and everything the session writes back must itself decode.
"""

from __future__ import annotations

import struct

import smpp34
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from roamback.gateway.smpp import (
    CommandId,
    HeaderOnly,
    InvalidPduReceived,
    PasswordAuthenticator,
    RemoteProtocolError,
    RequestReceived,
    SmppSession,
    SmscFactory,
    State,
    Status,
    Unbound,
)
from roamback.gateway.smpp.codec import HEADER_LENGTH, MAX_PDU_LENGTH, decode, encode

from .helpers import FEED_MODES, Pair, chunks, deliver, header, submit

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LEAVE = frozenset({CommandId.UNBIND, CommandId.UNBIND_RESP})
"""The two commands after which a session may rightly stop being bound."""
KNOWN = [int(command) for command in CommandId if command not in LEAVE]
command_ids = st.sampled_from(KNOWN) | st.integers(0, 0xFFFFFFFF).filter(lambda c: c not in LEAVE)
modes = st.sampled_from(FEED_MODES)


def bound(role: str) -> SmppSession:
    """A transceiver bind, ESME or SMSC side, nothing left to read."""
    pair = Pair().bound()
    session = pair.esme if role == "esme" else pair.smsc
    session.data_to_send()
    session.next_events()
    return session


def feed(session: SmppSession, wire: bytes, mode: str) -> RemoteProtocolError | None:
    """Feed the peer's bytes; only a framing error may come out, and it ends the feed."""
    for piece in chunks(wire, mode):
        try:
            session.receive_data(piece, 0.0)
        except RemoteProtocolError as error:
            return error
    return None


def written(session: SmppSession) -> list[tuple[int, object]]:
    """Decode everything the session wants to send: our own output must always be readable."""
    return frames_in(session.data_to_send())


def frames_in(data: bytes) -> list[tuple[int, object]]:
    """Our decoder and an independent one (smpp34's) must both read what we wrote."""
    frames = []
    while data:
        (length,) = struct.unpack_from(">I", data)
        assert smpp34.decode(data[:length]).command_length == length
        frames.append(decode(data[:length]))
        data = data[length:]
    return frames


def answered_or_handed_over(session: SmppSession, sequence: int, command_id: int) -> bool:
    """A request frame gets a reply on the wire with its sequence number, or goes to the application."""
    events = session.next_events()
    replies = written(session)
    to_application = any(isinstance(e, RequestReceived) and e.sequence_number == sequence for e in events)
    return to_application or any(seq == sequence for seq, _ in replies) or command_id & 0x80000000 != 0


@FUZZ
@given(st.sampled_from(["esme", "smsc"]), st.binary(max_size=400), modes)
def test_random_bytes_never_raise_anything_but_a_framing_error(role, wire, mode):
    session = bound(role)
    error = feed(session, wire, mode)
    replies = written(session)
    events = session.next_events()
    if error is not None:
        assert error.status == Status.RINVCMDLEN
        assert session.state is State.CLOSED
        assert replies[-1] == (0, HeaderOnly(CommandId.GENERIC_NACK, Status.RINVCMDLEN))
    else:  # still bound, unless the bytes happened to hold an unbind
        assert session.state is State.BOUND_TRX or Unbound(by_peer=True) in events


@FUZZ
@given(st.sampled_from(["esme", "smsc"]), command_ids, st.integers(0, 0x7FFFFFFF), st.integers(0, 0xFFFFFFFF),
       st.binary(max_size=300), modes)
def test_any_well_framed_pdu_keeps_the_link_up_and_is_answered(role, command_id, sequence, status, body, mode):
    session = bound(role)
    state = session.state
    assert feed(session, header(command_id, sequence, status, body), mode) is None
    assert session.state is state
    assert answered_or_handed_over(session, sequence, command_id)


def mutated(wire: bytes, data: st.DataObject) -> bytes:
    """The same PDU with its body changed: bytes flipped, cut out or added, the length kept true."""
    body = bytearray(wire[HEADER_LENGTH:])
    for _ in range(data.draw(st.integers(1, 6))):
        action = data.draw(st.sampled_from(["flip", "cut", "add"]))
        at = data.draw(st.integers(0, len(body)))
        if action == "flip" and body:
            body[min(at, len(body) - 1)] ^= data.draw(st.integers(1, 255))
        elif action == "cut":
            del body[at : at + data.draw(st.integers(1, 20))]
        else:
            body[at:at] = data.draw(st.binary(min_size=1, max_size=20))
    head = struct.unpack_from(">IIII", wire)
    return struct.pack(">IIII", HEADER_LENGTH + len(body), *head[1:]) + bytes(body)


@FUZZ
@given(st.data(), modes)
def test_mutated_messages_get_a_generic_nack_or_reach_the_application(data, mode):
    role = data.draw(st.sampled_from(["esme", "smsc"]))
    session = bound(role)
    message = deliver(data.draw(st.binary(max_size=160))) if role == "esme" else submit(data.draw(st.binary(
        max_size=160)))
    wire = mutated(encode(message, 7), data)
    assert feed(session, wire + encode(HeaderOnly(CommandId.ENQUIRE_LINK), 8), mode) is None
    events = session.next_events()
    replies = written(session)
    assert session.state is State.BOUND_TRX
    handed = [e for e in events if isinstance(e, RequestReceived) and e.sequence_number == 7]
    nacked = [(seq, pdu) for seq, pdu in replies if seq == 7]
    assert len(handed) + len(nacked) == 1
    if nacked:
        assert nacked[0][1].command_id == CommandId.GENERIC_NACK
        assert any(isinstance(e, InvalidPduReceived) and e.sequence_number == 7 for e in events)
    assert (8, HeaderOnly(CommandId.ENQUIRE_LINK_RESP)) in replies  # the stream is still in step


@FUZZ
@given(st.integers(0, HEADER_LENGTH - 1) | st.integers(MAX_PDU_LENGTH + 1, 0xFFFFFFFF), modes)
def test_a_length_outside_the_frame_bounds_closes_after_a_generic_nack(length, mode):
    session = bound("esme")
    error = feed(session, struct.pack(">I", length) + bytes(12), mode)
    assert error is not None and error.status == Status.RINVCMDLEN
    assert written(session) == [(0, HeaderOnly(CommandId.GENERIC_NACK, Status.RINVCMDLEN))]
    assert session.state is State.CLOSED


@FUZZ
@given(st.integers(0, 2000), st.data())
def test_a_frame_cut_short_waits_for_the_rest_and_then_is_read(body_size, data):
    session = bound("esme")
    second = header(CommandId.DELIVER_SM, 6, body=bytes(body_size))
    whole = header(CommandId.ENQUIRE_LINK, 5) + second
    missing = data.draw(st.integers(1, len(second)))
    assert feed(session, whole[:-missing], "whole") is None
    assert session.state is State.BOUND_TRX
    assert written(session) == [(5, HeaderOnly(CommandId.ENQUIRE_LINK_RESP))]
    assert session.next_events() == []
    assert feed(session, whole[-missing:], "whole") is None
    assert answered_or_handed_over(session, 6, CommandId.DELIVER_SM)
    assert session.state is State.BOUND_TRX


class _Nobody:
    def handle_request(self, pdu: object, origin: str) -> int:
        return Status.ROK


@FUZZ
@given(st.binary(max_size=300), modes)
def test_the_twisted_adapter_never_lets_bad_bytes_escape(wire, mode):
    """dataReceived catches the framing error itself, writes the nack and closes the connection."""
    factory = SmscFactory(PasswordAuthenticator({"esme": "secret"}), _Nobody(), Clock())
    protocol = factory.buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    for piece in chunks(wire, mode):
        protocol.dataReceived(piece)
    if protocol.session is not None and protocol.session.state is State.CLOSED:
        assert transport.disconnecting
    frames_in(transport.value())
