"""Shared builders: simnet with our own ESME link bound to it in memory, time under the test's control."""

from __future__ import annotations

from typing import Any

import smpp34
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet.testing import MemoryReactorClock
from twisted.test.iosim import ConnectionCompleter, IOPump

from roamback.gateway.smpp import Answer, EsmeLink, LinkConfig, SessionConfig
from roamback.gateway.sms.encoding import decode
from roamback.gateway.ussd import UssdIndication, UssdReply
from roamback.simnet import SimNetwork, parse_config
from roamback.simnet.handsets import HandsetEvent

SESSION = SessionConfig(response_timeout=5, enquire_link_interval=300, bind_timeout=5)
HANDSET = "447700900001"


class Service:
    """Stands for the service's ESME handler: records deliver_sm and answers with the queued statuses."""

    def __init__(self) -> None:
        self.received: list[smpp34.DeliverSm] = []
        self.statuses: list[int] = []

    def handle_request(self, pdu: Any, origin: str) -> Answer:
        self.received.append(pdu)
        return Answer(self.statuses.pop(0) if self.statuses else 0)


class Net:
    """SimNetwork on a MemoryReactorClock with an EsmeLink (system_id roamback) bound to it over iosim."""

    def __init__(self, **config: Any) -> None:
        self.reactor = MemoryReactorClock()
        self.network = SimNetwork(parse_config(config), self.reactor)
        TCP4ServerEndpoint(self.reactor, 2775).listen(self.network.factory)
        self.service = Service()
        link_config = LinkConfig("simnet", "tcp:host=127.0.0.1:port=2775", "roamback", "simnet", session=SESSION)
        self.link = EsmeLink(link_config, self.service, self.reactor, jitter=lambda: 0.0)
        self.completer = ConnectionCompleter(self.reactor)
        self.pumps: list[IOPump] = []
        self.events: list[HandsetEvent] = []
        self.network.handsets.get(HANDSET).listeners.append(self.events.append)

    def bind(self) -> Net:
        self.link.startService()
        while (pump := self.completer.succeedOnce()) is not None:
            self.pumps.append(pump)
        self.flush()
        assert self.link.bound, "the service's link did not bind"
        return self

    def flush(self) -> None:
        for _ in range(3):  # answers may trigger further requests
            for pump in self.pumps:
                pump.flush()

    def advance(self, seconds: float) -> None:
        self.reactor.advance(seconds)
        self.flush()

    def submit(self, pdu: smpp34.SubmitSm) -> Any:
        outcome: list[Any] = []
        self.link.submit(pdu).addBoth(outcome.append)
        self.flush()
        assert outcome, "no submit_sm_resp"
        return outcome[0]

    def stop(self) -> None:
        stopped = self.link.stopService()
        self.flush()
        assert stopped.called
        self.network.stop()
        self.flush()
        assert self.reactor.getDelayedCalls() == []


def indication_of(pdu: smpp34.DeliverSm) -> UssdIndication:
    """What the service's SMPP glue would hand its USSD code for this deliver_sm."""
    tlvs = {tlv.tag: tlv.value for tlv in pdu.tlvs}
    reference = tlvs.get(smpp34.TLV_USER_MESSAGE_REFERENCE)
    return UssdIndication(
        pdu.source_addr,
        tlvs[smpp34.TLV_USSD_SERVICE_OP][0],
        decode(pdu.short_message, pdu.data_coding),
        tlvs.get(smpp34.TLV_ITS_SESSION_INFO),
        None if reference is None else int.from_bytes(reference, "big"),
    )


def reply_pdu(reply: UssdReply) -> smpp34.SubmitSm:
    """The submit_sm the service would send for a reply built with ``build_reply``."""
    tlvs = [smpp34.Tlv(smpp34.TLV_USSD_SERVICE_OP, bytes([reply.op]))]
    if reply.its_session_info is not None:
        tlvs.append(smpp34.Tlv(smpp34.TLV_ITS_SESSION_INFO, reply.its_session_info))
    if reply.user_message_reference is not None:
        tlvs.append(smpp34.Tlv(smpp34.TLV_USER_MESSAGE_REFERENCE, reply.user_message_reference.to_bytes(2, "big")))
    return smpp34.SubmitSm("123", reply.msisdn, reply.text.encode("utf-16-be"), service_type="USSD",
                           data_coding=0x08, tlvs=tlvs)
