"""The ARI event WebSocket, kept connected by a ``ClientService`` and reported to one sink.

Asterisk keeps the Stasis application and its channels when the socket drops, but every event sent
meanwhile is lost; the sink is told about each (re)connection so it can re-sync over REST.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Protocol
from urllib.parse import urlencode

from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
from twisted.application.internet import ClientService, backoffPolicy
from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.internet.ssl import optionsForClientTLS
from twisted.logger import Logger

from ._settings import AriSettings

log = Logger()


class EventSink(Protocol):
    def connected(self) -> None: ...

    def disconnected(self) -> None: ...

    def event(self, message: dict[str, Any]) -> None: ...


class _AriEventsProtocol(WebSocketClientProtocol):
    factory: _AriEventsFactory
    _opened = False

    def onOpen(self) -> None:
        self._opened = True
        self.factory.sink.connected()

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        try:
            message = json.loads(payload)
        except ValueError:
            log.warn("ARI sent a non-JSON event frame; ignored")
            return
        if isinstance(message, dict):
            self.factory.sink.event(message)

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        # A failed handshake also ends here; only a socket that was open has anything to re-sync.
        if self._opened:
            self._opened = False
            self.factory.sink.disconnected()


class _AriEventsFactory(WebSocketClientFactory):
    protocol = _AriEventsProtocol

    def __init__(self, sink: EventSink, url: str, headers: dict[str, str]) -> None:
        super().__init__(url, headers=headers)
        self.sink = sink


def events_service(reactor: Any, settings: AriSettings, sink: EventSink) -> ClientService:
    """A service that keeps ``/ari/events?app=APP`` open, reconnecting with backoff after a drop.

    Credentials go in an Authorization header rather than ``api_key=`` so they never appear in a URL
    that a proxy or Asterisk's own HTTP log would record.
    """
    url = settings.base_url
    scheme = "wss" if url.scheme == "https" else "ws"
    port = url.port or (443 if url.scheme == "https" else 80)
    query = urlencode({"app": settings.app, "subscribeAll": "false"})
    ws_url = f"{scheme}://{url.host}:{port}{url.path.rstrip('/') if url.path else ''}/ari/events?{query}"
    token = base64.b64encode(f"{settings.username}:{settings.password.get_secret_value()}".encode()).decode()
    factory = _AriEventsFactory(sink, ws_url, {"Authorization": f"Basic {token}"})
    endpoint = HostnameEndpoint(reactor, url.host, port)
    if url.scheme == "https":
        endpoint = wrapClientTLS(optionsForClientTLS(url.host), endpoint)
    policy = backoffPolicy(initialDelay=0.1, maxDelay=settings.reconnect_max_seconds)
    return ClientService(endpoint, factory, retryPolicy=policy, clock=reactor)
