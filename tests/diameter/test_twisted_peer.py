"""The Twisted adapter in memory: a fake reactor and clock, string transports, no sockets and no sleeps."""

from __future__ import annotations

import pytest
from twisted.internet.address import IPv4Address
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.logger import capturedLogs

from roamback.diameter.codec import Message, decode_message, encode, encode_answer, encode_message
from roamback.diameter.dictionary import Command, ResultCode, avp
from roamback.diameter.peer import LocalIdentity, PeerTimers
from roamback.diameter.routing import OutgoingRequest, PeerRoute
from roamback.diameter.twisted_peer import DiameterNode, PeerEndpoint, RequestNotAnswered

from .test_routing import build

OCS = (encode(avp("Origin-Host"), "ocs1.ocs.test"), encode(avp("Origin-Realm"), "ocs.test"))


class Harness:
    def __init__(self) -> None:
        self.reactor = MemoryReactorClock()
        peers = [PeerEndpoint(PeerRoute("ocs1", frozenset({"ocs.test"})), "tcp:host=127.0.0.1:port=3868")]
        self.node = DiameterNode(self.reactor, LocalIdentity("rb.client.test", "client.test"), peers,
                                 timers=PeerTimers(watchdog=30, cea_timeout=5, dpa_timeout=2), tx=10, tc=3,
                                 trace=True)
        self.transport = StringTransport()

    def connect(self) -> None:
        factory = self.reactor.tcpClients[-1][2]
        protocol = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 3868))
        self.transport = StringTransport()
        protocol.makeConnection(self.transport)
        self.protocol = protocol

    def written(self) -> list[Message]:
        data, out = self.transport.value(), []
        self.transport.clear()
        while data:
            length = int.from_bytes(data[1:4], "big")
            out.append(decode_message(data[:length]))
            data = data[length:]
        return out

    def feed(self, raw: bytes) -> None:
        self.protocol.dataReceived(raw)

    def open(self) -> None:
        self.node.startService()
        self.connect()
        (cer,) = self.written()
        self.feed(encode_answer(cer, (encode(avp("Result-Code"), 2001), *OCS,
                                      encode(avp("Auth-Application-Id"), 4))))
        assert self.node.links["ocs1"].machine.state == "open"


@pytest.fixture
def harness():
    harness = Harness()
    yield harness
    harness.node.stopService()
    harness.reactor.advance(5)  # DPA timeout, at most
    assert not [call for call in harness.reactor.getDelayedCalls() if call.active()]


def answer(request: Message, code: int = ResultCode.SUCCESS) -> bytes:
    return encode_answer(request, (encode(avp("Result-Code"), code), *OCS))


def test_a_request_resolves_with_its_answer_and_both_are_traced(harness: Harness):
    harness.open()
    results: list[Message] = []
    with capturedLogs() as events:
        harness.node.request(OutgoingRequest(build, "ocs.test")).addCallback(results.append)
        (ccr,) = harness.written()
        harness.feed(answer(ccr))
    assert results[0].result_code() == 2001 and results[0].hop_by_hop == ccr.hop_by_hop
    traced = [(e["direction"], e["line"].split()[0]) for e in events if "line" in e]
    assert traced == [("out", "CCR"), ("in", "CCA")]


def test_tx_expiry_fails_the_request(harness: Harness):
    harness.open()
    failures: list[object] = []
    harness.node.request(OutgoingRequest(build, "ocs.test")).addErrback(failures.append)
    harness.reactor.advance(9.9)
    assert failures == []
    harness.reactor.advance(0.1)
    assert failures[0].check(RequestNotAnswered)


def test_no_open_peer_fails_at_once(harness: Harness):
    harness.node.startService()
    failures: list[object] = []
    harness.node.request(OutgoingRequest(build, "ocs.test")).addErrback(failures.append)
    assert failures[0].value.reason.value == "no_route"


def test_watchdog_timer_fires_on_the_clock(harness: Harness):
    harness.open()
    harness.reactor.advance(30)
    assert [m.command for m in harness.written()] == [Command.DEVICE_WATCHDOG]


def test_a_lost_connection_is_reopened_after_tc(harness: Harness):
    harness.open()
    attempts = len(harness.reactor.tcpClients)
    harness.transport.loseConnection()
    harness.protocol.connectionLost(None)
    assert harness.node.links["ocs1"].machine.state == "down"
    harness.reactor.advance(2.9)
    assert len(harness.reactor.tcpClients) == attempts
    harness.reactor.advance(0.2)
    assert len(harness.reactor.tcpClients) == attempts + 1


def test_server_requests_without_a_handler_get_command_unsupported(harness: Harness):
    harness.open()
    harness.feed(encode_message(Command.RE_AUTH, 0xC0, 4, 7, 7, OCS))
    (raa,) = harness.written()
    assert raa.is_error and raa.result_code() == ResultCode.COMMAND_UNSUPPORTED and raa.hop_by_hop == 7


def test_shutdown_sends_dpr_and_finishes_on_dpa(harness: Harness):
    harness.open()
    stopped: list[object] = []
    harness.node.stopService().addCallback(stopped.append)
    (dpr,) = harness.written()
    assert dpr.command == Command.DISCONNECT_PEER and stopped == []
    harness.feed(answer(dpr))
    assert harness.transport.disconnecting and stopped == []  # ClientService waits for the socket to close
    harness.protocol.connectionLost(None)
    assert stopped


def test_requests_still_waiting_at_shutdown_fail_instead_of_hanging(harness: Harness):
    harness.open()
    failures: list[object] = []
    harness.node.request(OutgoingRequest(build, "ocs.test")).addErrback(failures.append)
    harness.written()
    harness.node.stopService()
    (dpr,) = harness.written()
    harness.feed(answer(dpr))
    harness.protocol.connectionLost(None)
    assert failures[0].value.reason.value == "shutdown"
