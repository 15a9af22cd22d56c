"""The demo's operator network: simnet in the same process, and the roamers' handsets on its control API.

The demo talks to simnet exactly as ``roamback phone`` does (JSON lines over TCP to the control API) and
the service binds to it exactly as it would to an operator's SMSC (SMPP over TCP), so every message shown
crossed a real socket: nothing is handed over in memory. Both listeners take port 0 on loopback, so the
demo never collides with a simnet or a service already running on the machine. Voice calls are the one
exception: the switch is embedded in the service, so a handset's call is placed on it directly
(``Handset.call``), and its end is recorded among the handset's events like anything the network reports.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure

from .config import Config
from .simnet import SimnetConfig, parse_config
from .switch_adapters.simulated import InboundCall, SimulatedSwitch

LOOPBACK_ANY_PORT = "tcp:0:interface=127.0.0.1"
SYSTEM_ID = "roamback"
LINK_NAME = "simnet"

Show = Callable[[str, str], None]
"""Called with (handset name, a line describing what the handset just saw)."""


def simnet_config(config: Config, password: str) -> SimnetConfig:
    """A network that accepts our one account and speaks the service's USSD dialect, answering fast."""
    return parse_config({
        "smpp": {"listen": LOOPBACK_ANY_PORT, "accounts": {SYSTEM_ID: password}},
        "sms": {"receipt_delay_seconds": 0.2, "retry": {"initial_seconds": 0.2, "max_seconds": 1.0}},
        "ussd": {"dialect": config.ussd.dialect},
        "control": {"listen": LOOPBACK_ANY_PORT},
    })


def smpp_link(port: int, password: str) -> dict[str, Any]:
    """The service's side of the same account: one transceiver carrying SMS and USSD."""
    return {"name": LINK_NAME, "endpoint": f"tcp:host=127.0.0.1:port={port}", "system_id": SYSTEM_ID,
            "password": password, "binds": ["transceiver"], "role": "both"}


class Handset(LineReceiver):
    """One roamer's phone on the control API: requests answered in order, events kept and shown."""

    delimiter = b"\n"
    MAX_LENGTH = 1 << 20

    def __init__(self, name: str, msisdn: str, show: Show) -> None:
        self.name = name
        self.msisdn = msisdn
        self._show = show
        self._answers: deque[Deferred[dict[str, Any]]] = deque()
        self.events: list[dict[str, Any]] = []

    def request(self, **request: Any) -> Deferred[dict[str, Any]]:
        """Fires with the response; the API always writes it before the events the request caused."""
        answer: Deferred[dict[str, Any]] = Deferred()
        self._answers.append(answer)
        self.sendLine(json.dumps(request).encode())
        return answer

    def lineReceived(self, line: bytes) -> None:
        message = json.loads(line)
        if "event" not in message:
            self._answers.popleft().callback(message)
            return
        self.events.append(message)
        self._show(self.name, describe_event(message))

    def connectionLost(self, reason: Failure | None = None) -> None:
        while self._answers:
            self._answers.popleft().errback(ConnectionError("simnet closed the control connection"))

    def call(self, switch: SimulatedSwitch, number: str) -> InboundCall:
        """Dial ``number`` from this phone; a ``call_ended`` event says how the call ended."""
        call = switch.incoming_call(self.msisdn, number)
        call.watch(lambda: self._call_changed(call))
        return call

    def _call_changed(self, call: InboundCall) -> None:
        if call.end_cause is None:  # a key pressed: only the end is news (the switch reports it once)
            return
        event = {"event": "call_ended", "to": call.dialled, "cause": call.end_cause.value, "answered": call.answered}
        self.events.append(event)
        self._show(self.name, describe_event(event))

    def calls_ended(self) -> list[dict[str, Any]]:
        return [event for event in self.events if event["event"] == "call_ended"]

    def ussd_screens(self) -> list[str]:
        return [event["text"] for event in self.events if event["event"] == "ussd"]

    def sms_taken(self) -> int:
        return sum(1 for event in self.events if event["event"] == "sms_sent" and event["ok"])


def describe_event(event: dict[str, Any]) -> str:
    """One line per event, in the words ``roamback phone`` would use."""
    kind = event["event"]
    if kind == "ussd":
        return f"USSD screen: {event['text']}" + ("" if event["open"] else "  (dialogue closed)")
    if kind == "ussd_closed":
        return f"USSD dialogue ended: {event['reason']}"
    if kind == "sms":
        return f"SMS from {event['from']}: {event['text']}"
    if kind == "sms_sent":
        outcome = "taken by the service" if event["ok"] else "given up"
        return f"SMS ref {event['ref']} {outcome} (attempt {event['attempts']})"
    if kind == "sms_retry":
        return f"SMS ref {event['ref']} not taken (status {event['status']}), retry in {event['delay']:g}s"
    if kind == "call_ended":
        how = "answered" if event["answered"] else "missed call, not charged"
        return f"calls {event['to']}: {event['cause']} ({how})"
    return json.dumps(event)


async def attach(reactor: Any, port: int, name: str, msisdn: str, show: Show) -> Handset:
    """Connect a handset to the control API and attach it to ``msisdn``; raises when refused."""
    handset = Handset(name, msisdn, show)
    await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port, timeout=5), handset)
    answer = await handset.request(op="attach", msisdn=msisdn)
    if not answer.get("ok"):
        raise RuntimeError(f"simnet refused to attach {msisdn}: {answer.get('error')}")
    return handset
