"""Our ESME and SMSC roles against SMPP implementations we did not write, on loopback TCP."""

from __future__ import annotations

import sys

import pytest_twisted
import smpp34
import smpplib.client
import smpplib.exceptions
from twisted.internet import reactor
from twisted.internet.threads import deferToThread

from roamback.gateway.smpp import (
    Answer,
    EsmeLink,
    LinkConfig,
    PasswordAuthenticator,
    SessionConfig,
    SmscFactory,
    State,
    Status,
)

from .peers import NPM_SMPP, PEERS, free_port, node, start_peer, wait_until
from .test_adapters import Recorder

FAST = SessionConfig(response_timeout=1.0, enquire_link_interval=0.3, bind_timeout=2.0)


def esme_link(port: int, handler: Recorder, password: str = "secret") -> EsmeLink:
    config = LinkConfig(
        "peer", f"tcp:host=127.0.0.1:port={port}", "esme", password, session=FAST, reconnect_initial=0.2
    )
    link = EsmeLink(config, handler, reactor)
    link.startService()
    return link


@pytest_twisted.ensureDeferred
async def test_esme_against_smpp34_server_submits_receives_ussd_tlvs_and_keeps_the_link():
    port = free_port()
    peer = await start_peer([sys.executable, str(PEERS / "smpp34_smsc.py"), str(port)])
    mo = Recorder(Answer(0))
    link = esme_link(port, mo)
    try:
        await wait_until(lambda: link.bound, what="bind")
        response = await link.submit(smpp34.SubmitSm("123", "447700900456", b"1. Call me back"))
        assert response.command_status == 0 and response.message_id.startswith("peer-")
        assert await peer.saw("SUBMIT") == f"SUBMIT {b'1. Call me back'.hex()}"
        await wait_until(lambda: mo.received, what="deliver_sm")
        [(pdu, origin)] = mo.received
        assert (pdu.short_message, pdu.service_type, origin) == (b"*123*447700900456#", "USSD", "peer")
        assert {t.tag: t.value for t in pdu.tlvs} == {0x0501: b"\x01", 0x1383: b"\x2a\x02"}
        assert await peer.saw("DELIVER_RESP") == "DELIVER_RESP 0"
        [bind] = link.bound
        started = reactor.seconds()
        await wait_until(lambda: reactor.seconds() - started > 1.5, what="enquire_link rounds")
        assert link.bound == (bind,) and bind.session.state is State.BOUND_TRX  # probes were answered
    finally:
        await link.stopService()
        await peer.saw("UNBOUND", timeout=5)
        await peer.stop()


@pytest_twisted.ensureDeferred
async def test_esme_against_npm_smpp_bind_refused_then_accepted():
    node_binary = node()
    port = free_port()
    peer = await start_peer([node_binary, str(NPM_SMPP / "server.js"), str(port)])
    refused = esme_link(port, Recorder(), password="wrong")
    try:
        await wait_until(lambda: refused.last_bind_failure is not None, what="bind refusal")
        assert refused.last_bind_failure.status == Status.RBINDFAIL
        assert refused.bound == ()
        await refused.stopService()
        accepted = esme_link(port, Recorder())
        await wait_until(lambda: accepted.bound, what="bind")
        response = await accepted.submit(smpp34.SubmitSm("123", "447700900456", b"hi"))
        assert response.message_id == "npm-1"
        await accepted.stopService()
    finally:
        await peer.stop()


@pytest_twisted.ensureDeferred
async def test_smpplib_esme_against_our_smsc():
    mt = Recorder(Answer(0, "ours-1"))
    factory = SmscFactory(PasswordAuthenticator({"esme": "secret"}), mt, reactor, system_id="roamback", config=FAST)
    listening = reactor.listenTCP(0, factory, interface="127.0.0.1")
    port = listening.getHost().port
    try:
        message_id = await deferToThread(smpplib_submit, port, "secret")
        assert message_id == "ours-1"
        [(pdu, origin)] = mt.received
        assert (pdu.destination_addr, pdu.short_message, origin) == ("447700900456", b"hello", "esme")
        status = await deferToThread(smpplib_bind_status, port, "wrong")
        assert status == Status.RINVPASWD
        status = await deferToThread(smpplib_bind_status, port, "secret", "intruder")
        assert status == Status.RINVSYSID
        await wait_until(lambda: not factory.bound, what="sessions closed")
    finally:
        await listening.stopListening()


def smpplib_submit(port: int, password: str) -> str:
    client = smpplib.client.Client("127.0.0.1", port, timeout=5, allow_unknown_opt_params=True)
    seen: list[str] = []
    client.set_message_sent_handler(lambda pdu, **_: seen.append(pdu.message_id.decode()))
    client.connect()
    try:
        client.bind_transceiver(system_id="esme", password=password)
        client.send_message(source_addr="123", destination_addr="447700900456", short_message=b"hello")
        client.read_once()
        client.unbind()
    finally:
        client.disconnect()
    return seen[0]


def smpplib_bind_status(port: int, password: str, system_id: str = "esme") -> int:
    client = smpplib.client.Client("127.0.0.1", port, timeout=5, allow_unknown_opt_params=True)
    client.connect()
    try:
        client.bind_transceiver(system_id=system_id, password=password)
    except smpplib.exceptions.PDUError as refused:
        return refused.args[1]
    finally:
        client.disconnect()
    return 0
