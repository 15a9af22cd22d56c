"""The handset control API: one JSON object per line over TCP, one handset per connection.

Chosen over HTTP because events (an SMS arriving, a USSD screen) are pushed at any time, and a line of
JSON is what a test, ``nc`` or ``roamback phone`` reads most easily. No authentication: it listens on
loopback by default and only drives simulated handsets.

Requests (``id`` is optional and echoed in the response)::

    {"op": "attach", "msisdn": "447700900001"}        -> {"ok": true, "msisdn": "447700900001", "inbox": 0}
    {"op": "dial", "text": "*123*447700900456#"}      -> {"ok": true}  (the screen follows as an event)
    {"op": "answer", "text": "1"}                     -> {"ok": true}
    {"op": "release"}                                 -> {"ok": true}  (cancel the open dialogue)
    {"op": "sms", "to": "1234", "text": "BAL"}        -> {"ok": true, "ref": 7}  (sms_sent follows)
    {"op": "inbox"}                                   -> {"ok": true, "messages": [{"id", "from", "text", "at"}]}

Failures answer ``{"ok": false, "error": "..."}``. Events: ``{"event": "sms", "id", "from", "text", "at"}``,
``{"event": "ussd", "text", "open"}``, ``{"event": "ussd_closed", "reason"}`` (timeout, released,
unavailable), ``{"event": "sms_retry", "ref", "attempt", "status", "delay"}`` and
``{"event": "sms_sent", "ref", "ok", "attempts", "status"}``. A response is always written before the
events its request caused. When a handset's last connection closes, its open dialogue is released.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from twisted.internet.protocol import Factory
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure

from ..gateway.sms import MessageTooLong
from .handsets import (
    Handset,
    HandsetEvent,
    InboxMessage,
    SmsReceived,
    SmsRetrying,
    SmsSent,
    UssdEnded,
    UssdScreen,
    normalise,
)
from .network import SimNetwork
from .ussdc import UssdError


class RequestError(Exception):
    """A request the control API refuses; the message goes back to the client as ``error``."""


def event_json(event: HandsetEvent) -> dict[str, Any]:
    match event:
        case SmsReceived(message):
            return {"event": "sms", **message_json(message)}
        case UssdScreen(text, open_):
            return {"event": "ussd", "text": text, "open": open_}
        case UssdEnded(reason):
            return {"event": "ussd_closed", "reason": reason}
        case SmsRetrying(reference, attempt, status, delay):
            return {"event": "sms_retry", "ref": reference, "attempt": attempt, "status": status, "delay": delay}
        case SmsSent(reference, ok, attempts, status):
            return {"event": "sms_sent", "ref": reference, "ok": ok, "attempts": attempts, "status": status}
    raise TypeError(f"not a handset event: {event!r}")


def message_json(message: InboxMessage) -> dict[str, Any]:
    at = datetime.fromtimestamp(message.at, UTC).isoformat(timespec="seconds")
    return {"id": message.id, "from": message.sender, "text": message.text, "at": at}


class ControlProtocol(LineReceiver):
    delimiter = b"\n"
    MAX_LENGTH = 65536

    def __init__(self, network: SimNetwork) -> None:
        self._network = network
        self._handset: Handset | None = None
        self._held: list[dict[str, Any]] | None = None

    def lineReceived(self, line: bytes) -> None:
        if not line.strip():
            return
        self._held = []  # events raised while handling wait until the response is out
        request_id = None
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise RequestError("a request is a JSON object")
            request_id = request.get("id")
            reply = {"ok": True, **self._handle(request)}
        except (ValueError, RequestError, UssdError, MessageTooLong) as exc:
            reply = {"ok": False, "error": str(exc)}
        if request_id is not None:
            reply = {"id": request_id, **reply}
        held, self._held = self._held, None
        for message in (reply, *held):
            self._write(message)

    def lineLengthExceeded(self, line: bytes) -> None:
        self._write({"ok": False, "error": f"line longer than {self.MAX_LENGTH} octets"})
        self.transport.loseConnection()

    def _handle(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        if op == "attach":
            return self._attach(_text(request, "msisdn"))
        handset = self._handset
        if handset is None:
            raise RequestError("attach a handset first: {\"op\": \"attach\", \"msisdn\": ...}")
        network = self._network
        if op == "dial":
            network.ussd.dial(handset.msisdn, _text(request, "text"))
        elif op == "answer":
            network.ussd.answer(handset.msisdn, _text(request, "text", allow_empty=True))
        elif op == "release":
            if not network.ussd.open_dialogue(handset.msisdn):
                raise RequestError("no USSD dialogue is open")
            network.ussd.release(handset.msisdn)
        elif op == "sms":
            to = normalise(_text(request, "to"))
            if not to:
                raise RequestError("'to' must hold digits")
            return {"ref": network.sms.send_mo(handset.msisdn, to, _text(request, "text"))}
        elif op == "inbox":
            return {"messages": [message_json(message) for message in handset.inbox]}
        else:
            raise RequestError(f"unknown op {op!r}: attach, dial, answer, release, sms or inbox")
        return {}

    def _attach(self, msisdn: str) -> dict[str, Any]:
        if self._handset is not None:
            raise RequestError(f"already attached to {self._handset.msisdn}")
        if not normalise(msisdn):
            raise RequestError("'msisdn' must hold digits")
        self._handset = self._network.handsets.get(msisdn)
        self._handset.listeners.append(self._event)
        return {"msisdn": self._handset.msisdn, "inbox": len(self._handset.inbox)}

    def _event(self, event: HandsetEvent) -> None:
        message = event_json(event)
        if self._held is not None:
            self._held.append(message)
        else:
            self._write(message)

    def _write(self, message: dict[str, Any]) -> None:
        self.sendLine(json.dumps(message, ensure_ascii=False).encode())

    def connectionLost(self, reason: Failure | None = None) -> None:
        handset, self._handset = self._handset, None
        if handset is None:
            return
        handset.listeners.remove(self._event)
        if not handset.listeners:
            self._network.ussd.release(handset.msisdn)


def _text(request: dict[str, Any], key: str, *, allow_empty: bool = False) -> str:
    value = request.get(key)
    if not isinstance(value, str) or not (value or allow_empty):
        raise RequestError(f"{key!r} must be a {'' if allow_empty else 'non-empty '}string")
    return value


class ControlFactory(Factory):
    noisy = False
    def __init__(self, network: SimNetwork) -> None:
        self._network = network

    def buildProtocol(self, addr: object) -> ControlProtocol:
        return ControlProtocol(self._network)
