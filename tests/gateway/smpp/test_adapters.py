"""The Twisted adapters against each other in memory: our ESME link against our SMSC factory."""

from __future__ import annotations

import pytest
from twisted.internet.defer import Deferred, succeed
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.test.iosim import ConnectionCompleter, IOPump

from roamback.gateway.smpp import (
    Answer,
    CommandId,
    EsmeLink,
    FailureReason,
    HeaderOnly,
    LinkConfig,
    MessageResp,
    PasswordAuthenticator,
    SessionConfig,
    SmppRequestError,
    SmscFactory,
    State,
    Status,
)
from roamback.gateway.smpp.codec import decode, encode

from .helpers import bind_trx, deliver, header, submit

CONFIG = SessionConfig(response_timeout=5, enquire_link_interval=30, bind_timeout=5)


class Recorder:
    """A request handler that records what it got and answers with whatever the test queued."""

    def __init__(self, answer: object = 0) -> None:
        self.received: list[tuple[object, str]] = []
        self.answer = answer

    def handle_request(self, pdu, origin):
        self.received.append((pdu, origin))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


class Harness:
    """A MemoryReactorClock with our SMSC listening and our ESME link pointed at it."""

    def __init__(
        self, password: str = "secret", binds: tuple[str, ...] = ("transceiver",), session: SessionConfig = CONFIG
    ) -> None:
        self.reactor = MemoryReactorClock()
        self.mo = Recorder()
        self.mt = Recorder(Answer(0, "msg-1"))
        self.smsc = SmscFactory(PasswordAuthenticator({"esme": "secret"}), self.mt, self.reactor, config=CONFIG)
        TCP4ServerEndpoint(self.reactor, 2775).listen(self.smsc)
        config = LinkConfig("op1", "tcp:host=127.0.0.1:port=2775", "esme", password, binds=binds, session=session)
        self.link = EsmeLink(config, self.mo, self.reactor, jitter=lambda: 0.0)
        self.completer = ConnectionCompleter(self.reactor)
        self.pumps: list[IOPump] = []

    def connect_all(self) -> None:
        self.link.startService()
        while (pump := self.completer.succeedOnce()) is not None:
            self.pumps.append(pump)
        self.flush()

    def flush(self) -> None:
        for pump in self.pumps:
            pump.flush()

    def advance(self, seconds: float) -> None:
        self.reactor.advance(seconds)
        self.flush()

    def stop(self) -> None:
        stopped = self.link.stopService()
        self.flush()
        assert stopped.called
        assert self.reactor.getDelayedCalls() == []


def result_of(deferred: Deferred) -> object:
    outcome: list[object] = []
    deferred.addBoth(outcome.append)
    assert outcome, "the Deferred has not fired"
    return outcome[0]


def test_link_binds_submits_and_unbinds_cleanly():
    harness = Harness()
    harness.connect_all()
    assert [p.session.state for p in harness.link.bound] == [State.BOUND_TRX]
    assert [p.system_id for p in harness.smsc.bound] == ["esme"]
    answer = harness.link.submit(submit(b"menu"))
    harness.flush()
    assert result_of(answer) == MessageResp(CommandId.SUBMIT_SM_RESP, 0, "msg-1")
    [(pdu, origin)] = harness.mt.received
    assert (pdu.short_message, origin) == (b"menu", "esme")
    harness.stop()
    assert harness.link.bound == () and harness.smsc.bound == []


def test_deliver_sm_status_comes_from_the_application_handler():
    harness = Harness()
    harness.connect_all()

    async def store_later(pdu, origin):
        return Answer(Status.RX_T_APPN)

    harness.mo.handle_request = store_later
    outcome = harness.smsc.deliver("esme", deliver())
    harness.flush()
    failure = result_of(outcome)
    assert isinstance(failure.value, SmppRequestError)
    assert (failure.value.reason, failure.value.status) == (FailureReason.STATUS, Status.RX_T_APPN)
    harness.mo.handle_request = Recorder(0).handle_request
    accepted = harness.smsc.deliver("esme", deliver())
    harness.flush()
    assert result_of(accepted) == MessageResp(CommandId.DELIVER_SM_RESP, 0, "")
    harness.stop()


def test_a_failing_handler_answers_a_temporary_error_so_the_smsc_retries():
    harness = Harness()
    harness.connect_all()
    harness.mo.answer = RuntimeError("database down")
    outcome = harness.smsc.deliver("esme", deliver())
    harness.flush()
    assert result_of(outcome).value.status == Status.RX_T_APPN
    harness.stop()


def test_submits_spread_over_transmitters_and_mo_arrives_on_the_receiver():
    harness = Harness(binds=("transmitter", "transmitter", "receiver"))
    harness.connect_all()
    assert sorted(p.session.state.value for p in harness.link.bound) == ["bound_rx", "bound_tx", "bound_tx"]
    pending = [harness.link.submit(submit()) for _ in range(4)]
    loads = sorted(p.load for p in harness.link.bound)
    assert loads == [0, 2, 2]
    harness.flush()
    assert all(result_of(d).message_id == "msg-1" for d in pending)
    outcome = harness.smsc.deliver("esme", deliver())
    harness.flush()
    assert result_of(outcome).command_status == 0 and len(harness.mo.received) == 1
    harness.stop()


def test_requests_queued_on_a_lost_bind_move_to_another_and_sent_ones_fail():
    harness = Harness(binds=("transceiver", "transceiver"), session=SessionConfig(window=1, response_timeout=5))
    harness.connect_all()
    first, second = harness.link.bound
    in_flight = first.request(submit(b"sent"))
    harness.link.submit(submit(b"other"))  # the idle bind takes it
    queued = harness.link.submit(submit(b"queued"))  # a tie: it waits behind "sent" on the first bind
    assert (first.load, second.load) == (2, 1)
    [pump] = [p for p in harness.pumps if p.clientIO is first.transport]
    pump.clientIO.getOutBuffer()  # the network eats "sent" ...
    first.transport.loseConnection()  # ... and the connection drops
    harness.flush()
    assert result_of(in_flight).value.reason is FailureReason.CONNECTION_LOST
    assert result_of(queued).message_id == "msg-1"
    assert [pdu.short_message for pdu, _ in harness.mt.received] == [b"other", b"queued"]
    harness.stop()


def test_submit_without_a_bound_transmitter_fails_as_not_sent():
    harness = Harness(binds=("receiver",))
    harness.connect_all()
    failure = result_of(harness.link.submit(submit()))
    assert failure.value.reason is FailureReason.NOT_SENT
    harness.stop()


def test_wrong_password_is_refused_and_retried_with_growing_backoff():
    harness = Harness(password="wrong")
    harness.connect_all()
    assert harness.link.bound == () and harness.smsc.bound == []
    delays = []
    for _ in range(3):
        [retry] = harness.reactor.getDelayedCalls()
        delays.append(retry.getTime() - harness.reactor.seconds())
        harness.reactor.advance(delays[-1])
        harness.pumps.append(harness.completer.succeedOnce())
        harness.flush()
    assert delays == [2.0, 4.0, 8.0]  # a TCP connect does not reset it, only a successful bind would
    harness.stop()


def test_dead_link_is_dropped_and_rebound():
    harness = Harness()
    harness.connect_all()
    [old] = harness.link.bound
    pump = harness.pumps.pop()  # stop carrying bytes: the SMSC goes silent
    harness.reactor.advance(30)  # enquire_link goes out
    harness.reactor.advance(5)  # ... and nobody answers it
    assert old.session.state is State.CLOSED
    pump.flush()  # the loss now reaches both sides
    assert harness.link.bound == () and harness.smsc.bound == []
    harness.reactor.advance(2.0)
    harness.pumps.append(harness.completer.succeedOnce())
    harness.flush()
    assert len(harness.link.bound) == 1 and harness.link.bound[0] is not old
    harness.stop()


# -- one protocol on a StringTransport ------------------------------------------------------------------------


def smsc_on_string_transport(authenticator=None) -> tuple[object, StringTransport, Clock]:
    clock = Clock()
    factory = SmscFactory(authenticator or PasswordAuthenticator({"esme": "secret"}), Recorder(), clock, config=CONFIG)
    protocol = factory.buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    return protocol, transport, clock


def written(transport: StringTransport) -> list[tuple[int, int, int]]:
    data, out = transport.value(), []
    transport.clear()
    while data:
        length = int.from_bytes(data[:4], "big")
        sequence, pdu = decode(data[:length])
        out.append((sequence, pdu.command_id, pdu.command_status))
        data = data[length:]
    return out


@pytest.mark.parametrize(
    ("system_id", "password", "status"),
    [("esme", "wrong", Status.RINVPASWD), ("nobody", "secret", Status.RINVSYSID), ("esme", "secret", Status.ROK)],
)
def test_smsc_checks_credentials(system_id, password, status):
    protocol, transport, clock = smsc_on_string_transport()
    protocol.dataReceived(encode(bind_trx(system_id, password), 1))
    assert written(transport) == [(1, CommandId.BIND_TRANSCEIVER_RESP, status)]
    assert transport.disconnecting is (status != Status.ROK)
    protocol.connectionLost(None)
    assert clock.getDelayedCalls() == []


def test_smsc_waits_for_an_asynchronous_authenticator_and_drops_a_late_answer():
    decision: Deferred[int] = Deferred()

    class Slow:
        def authenticate(self, bind):
            return decision

    protocol, transport, clock = smsc_on_string_transport(Slow())
    protocol.dataReceived(encode(bind_trx(), 1))
    assert written(transport) == []
    clock.advance(5)  # bind_timeout
    assert transport.disconnecting
    decision.callback(0)  # too late: nothing is written
    assert written(transport) == []
    protocol.connectionLost(None)
    assert clock.getDelayedCalls() == []


def test_garbage_gets_generic_nack_and_the_bind_stays_up():
    protocol, transport, clock = smsc_on_string_transport(succeed_authenticator())
    protocol.dataReceived(encode(bind_trx(), 1))
    written(transport)
    wire = header(0x0000_0111, 2) + header(CommandId.SUBMIT_SM, 3, body=b"x") + header(CommandId.ENQUIRE_LINK, 4)
    for byte in wire:
        protocol.dataReceived(bytes([byte]))
    assert written(transport) == [
        (2, CommandId.GENERIC_NACK, Status.RINVCMDID),
        (3, CommandId.GENERIC_NACK, Status.RINVCMDLEN),
        (4, CommandId.ENQUIRE_LINK_RESP, 0),
    ]
    assert not transport.disconnecting and protocol.session.state is State.BOUND_TRX
    protocol.dataReceived(b"\x00\x00\x00\x01")  # a length that cannot be framed
    assert written(transport) == [(0, CommandId.GENERIC_NACK, Status.RINVCMDLEN)]
    assert transport.disconnecting
    protocol.connectionLost(None)
    assert clock.getDelayedCalls() == []


def test_one_timer_follows_the_session():
    protocol, transport, clock = smsc_on_string_transport(succeed_authenticator())
    protocol.dataReceived(encode(bind_trx(), 1))
    written(transport)
    assert len(clock.getDelayedCalls()) == 1
    clock.advance(30)
    assert written(transport) == [(1, CommandId.ENQUIRE_LINK, 0)]
    assert len(clock.getDelayedCalls()) == 1
    protocol.dataReceived(encode(HeaderOnly(CommandId.ENQUIRE_LINK_RESP), 1))
    clock.advance(29)
    assert written(transport) == []
    protocol.connectionLost(None)
    assert clock.getDelayedCalls() == []


def succeed_authenticator():
    class Always:
        def authenticate(self, bind):
            return succeed(0)

    return Always()
