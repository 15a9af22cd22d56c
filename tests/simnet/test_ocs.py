"""simnet's Diameter Ro OCS: our own Ro client, raw Diameter and python-diameter's Node against it, over loopback."""

from __future__ import annotations

import itertools
import struct
import sys
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Protocol

from roamback.core.model import ChargingContext, Leg, Subscriber
from roamback.core.ports import ChargingRefused
from roamback.core.reasons import RefusalReason
from roamback.demo_data import DEMO_SUBSCRIBERS, demo_subscriber
from roamback.diameter import RoCharging
from roamback.diameter.codec import Framer, Message, decode_message, encode, encode_avp, encode_message, with_ids
from roamback.diameter.credit_control import CcrEncoder, ServiceUsage, SessionFacts
from roamback.diameter.dictionary import (
    APP_CREDIT_CONTROL,
    HEADER_FLAG_ERROR,
    HEADER_FLAG_REQUEST,
    CcRequestType,
    Command,
    ResultCode,
    avp,
)
from roamback.diameter.peer import LocalIdentity, PeerClosed, PeerOpened
from roamback.ledger.accounts import DEFAULT_RATES
from roamback.ledger.rating import call_cost_minor, cost_minor, longest_prefix, max_talk_seconds
from roamback.simnet import SimnetConfigError, parse_config, start_simnet
from roamback.simnet.ocs import AccountSettings, Book, OcsSettings, RunningOcs, start_ocs
from roamback.simnet.ocs._responder import Responder

from ..diameter.peers import CLIENT_HOST, CLIENT_REALM, free_port, missing, start_peer, wait_until

OCS_REALM = "ocs.test"
UK = "+447700900123"
ALLOWANCE = 45
_REQUESTS = itertools.count(1)
RATES = {leg: {row.rate.prefix: row.rate for row in DEFAULT_RATES if row.leg is leg} for leg in Leg}


def settings(**overrides: Any) -> OcsSettings:
    return OcsSettings(listen="127.0.0.1:0", origin_host="ocs1.ocs.test", origin_realm=OCS_REALM, **overrides)


def context(name: str, *, max_call: int = 600, destination: str = UK) -> ChargingContext:
    subscriber = demo_subscriber(name, "FR")
    return ChargingContext(
        request_id=f"req-{next(_REQUESTS)}", subscriber=subscriber, leg_a_number=subscriber.msisdn,
        leg_b_number=destination, max_call_seconds=max_call, setup_allowance_seconds=ALLOWANCE,
    )


def ledger_talk(leg_a_digits: str, credit: int, max_call: int, destination: str = UK) -> int:
    """What the built-in ledger grants the same subscriber: its own rating function on the same rates."""
    rate_a, rate_b = longest_prefix(RATES[Leg.A], leg_a_digits), longest_prefix(RATES[Leg.B], destination[1:])
    assert rate_a is not None and rate_b is not None
    return max_talk_seconds(rate_a, rate_b, credit, ALLOWANCE, max_call)


async def running_ocs(**overrides: Any) -> RunningOcs:
    return start_ocs(settings(**overrides), reactor)


async def started_backend(ocs: RunningOcs) -> RoCharging:
    backend = RoCharging.from_settings(
        ocs.ro_settings(origin_host=CLIENT_HOST, origin_realm=CLIENT_REALM, tx_seconds=3.0, tc_seconds=0.5), reactor
    )
    backend.service.startService()
    await wait_until(lambda: backend.service.links["simnet-ocs"].machine.state == "open", 10, "CEA")
    return backend


@pytest_twisted.async_yield_fixture
async def ocs():
    running = await running_ocs()
    yield running
    await running.stop()


@pytest_twisted.async_yield_fixture
async def backend(ocs: RunningOcs):
    charging = await started_backend(ocs)
    yield charging
    await charging.service.stopService()


# -- our Ro client against the OCS -------------------------------------------------------------------


@pytest.mark.parametrize(("name", "max_call"), [("alice", 600), ("alice", 3600), ("carla", 3600)])
@pytest_twisted.ensureDeferred
async def test_grant_is_what_the_ledger_would_grant(ocs: RunningOcs, backend: RoCharging, name: str, max_call: int):
    msisdn = DEMO_SUBSCRIBERS[name]
    account = ocs.account(msisdn)
    assert account is not None
    credit = account.balance_minor
    grant = await backend.reserve(context(name, max_call=max_call))
    talk = ledger_talk(account.leg_a_digits, credit, max_call)
    assert grant.max_talk_seconds == talk
    assert (grant.leg_a_limit, grant.leg_b_limit) == (talk + ALLOWANCE, talk)
    rate_a, rate_b = longest_prefix(RATES[Leg.A], account.leg_a_digits), RATES[Leg.B]["44"]
    assert rate_a is not None
    assert account.reserved_minor == call_cost_minor(rate_a, rate_b, talk, ALLOWANCE)
    assert grant.validity_seconds is None  # either all granted, or a final grant: nothing to come back for
    await backend.terminate(grant.reservation_id, {Leg.A: 0, Leg.B: 0})
    assert (account.balance_minor, account.reserved_minor) == (credit, 0)


@pytest_twisted.ensureDeferred
async def test_balance_limited_grant_is_final(ocs: RunningOcs, backend: RoCharging):
    """alice cannot pay an hour: she gets what her 10 EUR buy, with Final-Unit-Indication (no CCR-U)."""
    grant = await backend.reserve(context("alice", max_call=3600))
    assert 60 < grant.max_talk_seconds < 3600
    again = await backend.update(grant.reservation_id, {Leg.A: 100, Leg.B: 55})
    assert again == grant
    session = ocs.factory.application.sessions[grant.reservation_id]
    assert session.legs[Leg.A].used_seconds == 0  # final: the client sent no CCR-U
    await backend.terminate(grant.reservation_id, {Leg.A: 100, Leg.B: 55})


@pytest_twisted.ensureDeferred
async def test_no_credit_is_refused_and_nothing_is_reserved(ocs: RunningOcs, backend: RoCharging):
    """bruno (20 cents, in the USA) is refused by the ledger too: leg A's first minute costs 45."""
    assert ledger_talk("1", 20, 600) == 0
    with pytest.raises(ChargingRefused) as refused:
        await backend.reserve(context("bruno"))
    assert refused.value.reason is RefusalReason.NO_CREDIT
    account = ocs.account(DEMO_SUBSCRIBERS["bruno"])
    assert account is not None and (account.balance_minor, account.reserved_minor) == (20, 0)
    assert ocs.factory.application.sessions == {}


@pytest_twisted.ensureDeferred
async def test_unknown_subscriber(backend: RoCharging):
    unknown = ChargingContext(
        request_id="req-unknown", subscriber=Subscriber(msisdn="+33699999999", home_region="FR"),
        leg_a_number="+33699999999", leg_b_number=UK, max_call_seconds=600, setup_allowance_seconds=ALLOWANCE,
    )
    with pytest.raises(ChargingRefused) as refused:
        await backend.reserve(unknown)
    assert refused.value.reason is RefusalReason.UNKNOWN_SUBSCRIBER


@pytest_twisted.ensureDeferred
async def test_update_and_termination_debit_the_account(ocs: RunningOcs, backend: RoCharging):
    account = ocs.account(DEMO_SUBSCRIBERS["alice"])
    assert account is not None
    grant = await backend.reserve(context("alice"))
    updated = await backend.update(grant.reservation_id, {Leg.A: 40, Leg.B: 20})
    assert updated.max_talk_seconds == grant.max_talk_seconds == 600
    # Spain 10 c/min 30+6 s: 40 s bill 42 s = 7 c; UK 12 c/min 30+6 s: 20 s bill 30 s = 6 c
    assert account.balance_minor == 1000 - 13
    settlement = await backend.terminate(grant.reservation_id, {Leg.A: 75, Leg.B: 61})
    assert settlement.billed_seconds == {Leg.A: 75, Leg.B: 61}
    # cumulative, not per report: 75 s bill 78 s = 13 c; 61 s bill 66 s = 13.2 -> 14 c
    assert cost_minor(RATES[Leg.A]["34"], 75) + cost_minor(RATES[Leg.B]["44"], 61) == 27
    assert (account.balance_minor, account.reserved_minor) == (1000 - 27, 0)
    assert ocs.factory.application.sessions == {}


@pytest_twisted.ensureDeferred
async def test_validity_time_makes_the_client_come_back():
    ocs = await running_ocs(validity_seconds=60)
    backend = await started_backend(ocs)
    try:
        grant = await backend.reserve(context("carla"))
        assert grant.validity_seconds == 60 - 3 - 2  # Validity-Time minus the client's Tx and margin
    finally:
        await backend.service.stopService()
        await ocs.stop()


@pytest_twisted.ensureDeferred
async def test_stopping_the_ocs_says_dpr_to_its_peers():
    ocs = await running_ocs()
    backend = await started_backend(ocs)
    closed: list[str] = []
    backend.service.observe(lambda peer, event: closed.append(type(event).__name__))
    try:
        await ocs.stop()
        assert "PeerClosed" in closed  # DPR answered by the client, not a lost connection
    finally:
        await backend.service.stopService()


# -- raw Diameter: the base protocol and errors ---------------------------------------------------------


class RawPeer(Protocol):
    """A bare Diameter connection written with our codec: requests out, every frame in."""

    def __init__(self) -> None:
        self.framer = Framer()
        self.frames: list[Message] = []
        self.lost = False
        self._ids = itertools.count(1000)

    def dataReceived(self, data: bytes) -> None:
        self.frames += [decode_message(frame) for frame in self.framer.feed(data)]

    def connectionLost(self, reason: object = None) -> None:
        self.lost = True

    def request(self, command: int, avps: list[bytes], *, application: int = 0, flags: int = 0) -> int:
        hop = next(self._ids)
        self.transport.write(encode_message(command, HEADER_FLAG_REQUEST | flags, application, hop, hop, avps))
        return hop

    def send(self, raw: bytes) -> int:
        hop = next(self._ids)
        self.transport.write(with_ids(raw, hop, hop))
        return hop

    async def answer(self, hop: int) -> Message:
        await wait_until(lambda: any(f.hop_by_hop == hop for f in self.frames), 5, f"answer {hop}")
        return next(f for f in self.frames if f.hop_by_hop == hop)


ORIGIN = [encode(avp("Origin-Host"), "raw.client.test"), encode(avp("Origin-Realm"), CLIENT_REALM)]


def cer(application: int = APP_CREDIT_CONTROL) -> list[bytes]:
    return [*ORIGIN, encode(avp("Host-IP-Address"), "127.0.0.1"), encode(avp("Vendor-Id"), 0),
            encode(avp("Product-Name"), "raw"), encode(avp("Auth-Application-Id"), application)]


async def connected(ocs: RunningOcs, *, exchange: bool = True) -> RawPeer:
    peer = await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", ocs.port), RawPeer())
    if exchange:
        cea = await peer.answer(peer.request(Command.CAPABILITIES_EXCHANGE, cer()))
        assert cea.result_code() == ResultCode.SUCCESS
    return peer


@pytest_twisted.ensureDeferred
async def test_cea_advertises_credit_control(ocs: RunningOcs):
    peer = await connected(ocs, exchange=False)
    cea = await peer.answer(peer.request(Command.CAPABILITIES_EXCHANGE, cer()))
    assert cea.result_code() == ResultCode.SUCCESS and not cea.is_request and not cea.is_error
    assert (cea.text(264), cea.text(296), cea.text(269)) == ("ocs1.ocs.test", OCS_REALM, "roamback-simnet-ocs")
    assert cea.u32(258) == APP_CREDIT_CONTROL and cea.u32(265) == 10415 and cea.u32(266) == 0
    peer.transport.loseConnection()


@pytest_twisted.ensureDeferred
async def test_cer_without_credit_control_gets_5010_and_is_closed(ocs: RunningOcs):
    peer = await connected(ocs, exchange=False)
    cea = await peer.answer(peer.request(Command.CAPABILITIES_EXCHANGE, cer(application=16777251)))
    assert cea.result_code() == ResultCode.NO_COMMON_APPLICATION and not cea.is_error
    await wait_until(lambda: peer.lost, 5, "close after 5010")


@pytest_twisted.ensureDeferred
async def test_dwr_and_dpr(ocs: RunningOcs):
    peer = await connected(ocs)
    dwa = await peer.answer(peer.request(Command.DEVICE_WATCHDOG, ORIGIN))
    assert (dwa.command, dwa.result_code(), dwa.text(264)) == (Command.DEVICE_WATCHDOG, 2001, "ocs1.ocs.test")
    dpa = await peer.answer(peer.request(Command.DISCONNECT_PEER, [*ORIGIN, encode(avp("Disconnect-Cause"), 0)]))
    assert dpa.result_code() == ResultCode.SUCCESS
    await wait_until(lambda: peer.lost, 5, "close after DPA")


def _broken_length_ccr() -> bytes:
    """A CCR whose Session-Id claims more octets than the message holds."""
    avp_bytes = struct.pack("!II", 263, (0x40 << 24) | 200) + b"abcd"
    return encode_message(Command.CREDIT_CONTROL, HEADER_FLAG_REQUEST, APP_CREDIT_CONTROL, 0, 0, [avp_bytes])


@pytest_twisted.ensureDeferred
async def test_malformed_requests_are_answered_and_the_link_stays_up(ocs: RunningOcs):
    peer = await connected(ocs)
    length = await peer.answer(peer.send(_broken_length_ccr()))
    assert (length.result_code(), length.is_error) == (ResultCode.INVALID_AVP_LENGTH, False)
    reserved = encode_avp(263, 0x40 | 0x01, 0, b"s;1")  # a reserved AVP flag bit
    bits = await peer.answer(peer.request(Command.CREDIT_CONTROL, [reserved, *ORIGIN], application=4))
    assert (bits.result_code(), bits.is_error) == (ResultCode.INVALID_AVP_BITS, True)
    failed = bits.find(279)
    assert failed is not None and failed.children()[0].code == 263
    header = await peer.answer(peer.request(Command.DEVICE_WATCHDOG, ORIGIN, flags=HEADER_FLAG_ERROR))
    assert (header.result_code(), header.is_error) == (ResultCode.INVALID_HDR_BITS, True)
    unknown = await peer.answer(peer.request(8388620, ORIGIN, application=4))
    assert (unknown.result_code(), unknown.is_error) == (ResultCode.COMMAND_UNSUPPORTED, True)
    other_app = await peer.answer(peer.request(Command.CREDIT_CONTROL, ORIGIN, application=16777238))
    assert (other_app.result_code(), other_app.is_error) == (ResultCode.APPLICATION_UNSUPPORTED, True)
    bad_type = [encode(avp("Session-Id"), "s;3"), *ORIGIN, encode(avp("Destination-Realm"), OCS_REALM),
                encode(avp("Auth-Application-Id"), 4), encode(avp("Service-Context-Id"), "32260@3gpp.org"),
                encode(avp("CC-Request-Type"), 9), encode(avp("CC-Request-Number"), 0)]
    value = await peer.answer(peer.request(Command.CREDIT_CONTROL, bad_type, application=4))
    failed = value.find(279)
    assert (value.result_code(), value.is_error) == (ResultCode.INVALID_AVP_VALUE, False)
    assert failed is not None and failed.children()[0].code == 416
    missing = await peer.answer(peer.request(Command.CREDIT_CONTROL, [encode(avp("Session-Id"), "s;2"), *ORIGIN],
                                             application=4))
    assert (missing.result_code(), missing.is_error, missing.text(263)) == (ResultCode.MISSING_AVP, False, "s;2")
    dwa = await peer.answer(peer.request(Command.DEVICE_WATCHDOG, ORIGIN))
    assert dwa.result_code() == ResultCode.SUCCESS and not peer.lost
    peer.transport.loseConnection()


def _ccr(encoder: CcrEncoder, session: str, kind: CcRequestType, number: int, usages: list[ServiceUsage]) -> bytes:
    facts = SessionFacts(session, DEMO_SUBSCRIBERS["carla"], None, DEMO_SUBSCRIBERS["carla"], UK)
    return encoder.build(encoder.session_parts(facts), kind, number, usages, None)


@pytest_twisted.ensureDeferred
async def test_repeated_ccr_is_not_charged_twice_and_cca_t_carries_the_cost(ocs: RunningOcs):
    peer = await connected(ocs)
    encoder = CcrEncoder(origin_host="raw.client.test", origin_realm=CLIENT_REALM, destination_realm=OCS_REALM,
                         service_context_id="32260@3gpp.org")
    account = ocs.account(DEMO_SUBSCRIBERS["carla"])
    assert account is not None
    ask = [ServiceUsage(100, 1, requested_seconds=120), ServiceUsage(200, 2, requested_seconds=90)]
    cca_i = await peer.answer(peer.send(_ccr(encoder, "raw;1", CcRequestType.INITIAL, 0, ask)))
    assert cca_i.result_code() == ResultCode.SUCCESS
    used = [ServiceUsage(100, 1, used_seconds=100), ServiceUsage(200, 2, used_seconds=60)]
    termination = _ccr(encoder, "raw;1", CcRequestType.TERMINATION, 1, used)
    first = await peer.answer(peer.send(termination))
    balance = account.balance_minor
    second = await peer.answer(peer.send(termination))
    assert account.balance_minor == balance == 2000 - 17 - 12  # Germany 102 s = 17 c, UK 60 s = 12 c
    assert first.avps == second.avps
    cost = first.find(423)
    assert cost is not None
    unit_value, currency = cost.children()
    digits, exponent = unit_value.children()
    assert (struct.unpack("!q", digits.data)[0], exponent.i32(), currency.u32()) == (29, -2, 978)
    peer.transport.loseConnection()


# -- python-diameter's Node as the client --------------------------------------------------------------

PYTHON_DIAMETER_CLIENT = r"""
import os, sys
from diameter.message.avp.grouped import RequestedServiceUnit, UsedServiceUnit
from diameter.message.commands import CreditControlRequest
from diameter.node import Node
from diameter.node.application import SimpleThreadingApplication

ocs_port, own_port, msisdn = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]

class Client(Node):
    def receive_cea(self, conn, message):
        print("CEA", message.result_code, message.origin_host.decode(), flush=True)
        super().receive_cea(conn, message)

node = Client("pyclient.client.test", "client.test", ip_addresses=["127.0.0.1"], tcp_port=own_port)
node.wakeup_interval = 1  # its stop() polls at this pace
peer = node.add_peer(f"aaa://ocs1.ocs.test:{ocs_port}", "ocs.test", ip_addresses=["127.0.0.1"], is_persistent=True)
app = SimpleThreadingApplication(4, is_auth_application=True)
node.add_application(app, [peer])
node.start()
try:
    app.wait_for_ready(10)
    session = node.session_generator.next_id()
    for kind, number in ((1, 0), (3, 1)):
        ccr = CreditControlRequest()
        ccr.session_id = session
        ccr.origin_host, ccr.origin_realm = b"pyclient.client.test", b"client.test"
        ccr.destination_realm, ccr.auth_application_id = b"ocs.test", 4
        ccr.service_context_id, ccr.cc_request_type, ccr.cc_request_number = "32260@3gpp.org", kind, number
        ccr.add_subscription_id(0, msisdn)
        for rating_group, identifier, seconds in ((100, 1, 120), (200, 2, 60)):
            if kind == 1:
                unit = {"requested_service_unit": RequestedServiceUnit(cc_time=seconds)}
            else:
                unit = {"used_service_unit": UsedServiceUnit(cc_time=seconds // 2)}
            ccr.add_multiple_services_credit_control(rating_group=rating_group, service_identifier=identifier, **unit)
        cca = app.send_request(ccr, timeout=5)
        grants = ",".join(f"{m.rating_group}:{m.granted_service_unit.cc_time}"
                          for m in cca.multiple_services_credit_control if m.granted_service_unit)
        cost = cca.cost_information
        money = f"{cost.unit_value.value_digits}e{cost.unit_value.exponent}:{cost.currency_code}" if cost else "-"
        print("CCA", cca.cc_request_type, cca.result_code, grants or "-", money, flush=True)
    node.stop(wait_timeout=5)
finally:
    print("DONE", flush=True)
    os._exit(0)
"""


@pytest_twisted.ensureDeferred
async def test_python_diameter_node_gets_cea_and_ccas(ocs: RunningOcs):
    try:
        import diameter.node  # noqa: F401
    except ImportError:
        missing("python-diameter", "pip install python-diameter")  # fails under CI=true, skips elsewhere
    msisdn = DEMO_SUBSCRIBERS["alice"].lstrip("+")
    argv = [sys.executable, "-c", PYTHON_DIAMETER_CLIENT, str(ocs.port), str(free_port()), msisdn]
    client = await start_peer("python-diameter client", argv, ready="DONE", timeout=30)
    try:
        assert client.matching("CEA ") == ["CEA 2001 ocs1.ocs.test"]
        # no Called-Party-Address: leg B is rated on the catch-all (120 c/min, 20 c to connect, 60 s blocks)
        initial, termination = client.matching("CCA ")
        assert initial == "CCA 1 2001 100:120,200:60 -"
        assert termination == "CCA 3 2001 - 150e-2:978"  # Spain 60 s = 10 c; world 30 s bills 60 s: 20 + 120 c
    finally:
        await client.stop()
    account = ocs.account(DEMO_SUBSCRIBERS["alice"])
    assert account is not None and (account.balance_minor, account.reserved_minor) == (1000 - 150, 0)


# -- simnet configuration and start ----------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_simnet_starts_the_ocs_when_enabled():
    config = parse_config({
        "smpp": {"listen": "tcp:0:interface=127.0.0.1"}, "control": {"listen": "tcp:0:interface=127.0.0.1"},
        "ocs": {"enabled": True, "listen": "127.0.0.1:0", "origin_realm": OCS_REALM,
                "accounts": {"+447700900001": {"balance_minor": 500}}},
    })
    running = await start_simnet(config, reactor)
    try:
        assert running.ocs is not None and running.ocs.port > 0
        assert list(running.ocs.book.accounts) == ["+447700900001"]
        peer = await connected(running.ocs)
        peer.transport.loseConnection()
    finally:
        await running.stop()


def test_ocs_is_off_by_default_and_config_errors_name_the_key():
    assert parse_config({}).ocs.enabled is False
    with pytest.raises(SimnetConfigError) as error:
        parse_config({"ocs": {"listen": "localhost", "accounts": {"0612": {"balance_minor": 1}},
                              "rates_a": [{"prefix": "3x", "per_minute_minor": "1"}]}})
    assert {line.split(":")[0] for line in error.value.errors} == {"ocs.listen", "ocs.accounts", "ocs.rates_a.0.prefix"}


# -- the pieces alone ------------------------------------------------------------------------------------


def test_joint_grant_matches_the_ledger_for_every_balance():
    """Taking the same seconds off both legs is the ledger's max_talk_seconds, cent by cent."""
    book = Book(settings(accounts={"+33600000001": AccountSettings(balance_minor=0, visited_region="ES")}))
    account = book.account("+33600000001")
    assert account is not None
    for credit in range(0, 400, 7):
        account.balance_minor, account.reserved_minor = credit, 0
        session = book.open(account, UK[1:])
        granted = book.grant(session, {Leg.A: 600 + ALLOWANCE, Leg.B: 600})
        talk = ledger_talk("34", credit, 600)
        if talk:
            assert granted == {Leg.A: talk + ALLOWANCE, Leg.B: talk}
        else:
            assert granted[Leg.B] == 0
        assert account.reserved_minor <= credit
        book.close(session)


def test_responder_answers_alike_whole_and_byte_by_byte():
    identity = LocalIdentity("ocs1.ocs.test", OCS_REALM, origin_state_id=7)
    stream = encode_message(Command.CAPABILITIES_EXCHANGE, HEADER_FLAG_REQUEST, 0, 1, 1, cer()) + encode_message(
        Command.DEVICE_WATCHDOG, HEADER_FLAG_REQUEST, 0, 2, 2, ORIGIN
    )
    outputs = []
    for chunks in ([stream], [stream[i:i + 1] for i in range(len(stream))]):
        responder = Responder(identity, cer_timeout=10, dpa_timeout=2)
        responder.connection_made(0.0)
        events = [event for chunk in chunks for event in responder.receive_data(chunk, 1.0)]
        assert events == [PeerOpened("raw.client.test", CLIENT_REALM)]
        outputs.append(responder.data_to_send())
    assert outputs[0] == outputs[1] and len(outputs[0]) == 2


def test_responder_timers():
    identity = LocalIdentity("ocs1.ocs.test", OCS_REALM)
    silent = Responder(identity, cer_timeout=10, dpa_timeout=2)
    silent.connection_made(0.0)
    assert silent.handle_timer(9.9) == [] and silent.handle_timer(10.0) == [PeerClosed("no CER in time")]
    leaving = Responder(identity, cer_timeout=10, dpa_timeout=2)
    leaving.connection_made(0.0)
    leaving.receive_data(encode_message(Command.CAPABILITIES_EXCHANGE, HEADER_FLAG_REQUEST, 0, 1, 1, cer()), 1.0)
    leaving.data_to_send()
    assert leaving.shutdown(5.0) == [] and decode_message(leaving.data_to_send()[0]).command == Command.DISCONNECT_PEER
    assert leaving.get_timer() == 7.0 and leaving.handle_timer(7.0) == [PeerClosed("no DPA in time")]
