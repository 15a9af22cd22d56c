"""``FakeAri`` on loopback: real HTTP (twisted.web) for /ari/ and a real autobahn WebSocket at /ari/events.

Both check credentials as Asterisk does (HTTP basic auth, or ``api_key=user:pass``); the WebSocket needs
``app=`` and registers that application for good, as Asterisk keeps an application after its socket drops.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from autobahn.twisted.resource import WebSocketResource
from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from autobahn.websocket.types import ConnectionDeny
from twisted.internet import endpoints
from twisted.internet.interfaces import IListeningPort
from twisted.web.resource import Resource
from twisted.web.server import Request, Site

from .fake_ari import FakeAri, FakeAriError


class _EventsProtocol(WebSocketServerProtocol):
    factory: _EventsFactory
    app = ""

    def onConnect(self, request: Any) -> None:
        fake = self.factory.fake
        if self.factory.refusing:
            raise ConnectionDeny(503, "Service Unavailable")
        api_key = request.params.get("api_key", [""])[0]
        if not (_basic_ok(request.headers.get("authorization", ""), fake.credentials)
                or api_key == ":".join(fake.credentials)):
            raise ConnectionDeny(401, "Unauthorized")
        app = request.params.get("app", [""])[0]
        if not app:
            raise ConnectionDeny(400, "Missing app parameter")
        self.app = app

    def onOpen(self) -> None:
        self.factory.fake.apps.add(self.app)
        self.factory.clients.append(self)

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        if self in self.factory.clients:
            self.factory.clients.remove(self)


class _EventsFactory(WebSocketServerFactory):
    protocol = _EventsProtocol

    def __init__(self, fake: FakeAri) -> None:
        super().__init__()
        self.fake = fake
        self.clients: list[_EventsProtocol] = []
        self.refusing = False
        fake.broadcast = self.broadcast

    def broadcast(self, app: str, event: dict[str, Any]) -> None:
        payload = json.dumps(event).encode()
        for client in self.clients:
            if client.app == app:
                client.sendMessage(payload)


def _basic_ok(header: str, credentials: tuple[str, str]) -> bool:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        return base64.b64decode(token).decode() == ":".join(credentials)
    except ValueError:
        return False


class _Rest(Resource):
    isLeaf = True

    def __init__(self, fake: FakeAri) -> None:
        super().__init__()
        self.fake = fake

    def render(self, request: Request) -> bytes:
        request.setHeader(b"content-type", b"application/json")
        params = {k.decode(): v[-1].decode() for k, v in request.args.items()}
        body = request.content.read() if request.content else b""
        if body and request.getHeader(b"content-type") == b"application/json":
            params.update({k: str(v) for k, v in json.loads(body).items()})
        api_key = params.pop("api_key", "")
        auth = (request.getHeader(b"authorization") or b"").decode()
        if not (_basic_ok(auth, self.fake.credentials) or api_key == ":".join(self.fake.credentials)):
            request.setResponseCode(401)
            return json.dumps({"message": "Authentication required"}).encode()
        parts = [p.decode() for p in request.postpath if p]
        try:
            result = self.fake.handle(request.method.decode(), parts, params)
        except FakeAriError as exc:
            request.setResponseCode(exc.status)
            return json.dumps({"message": str(exc)}).encode()
        if result is None:
            request.setResponseCode(204)
            return b""
        return json.dumps(result).encode()


class _AriRoot(Resource):
    def __init__(self, fake: FakeAri, events: WebSocketResource) -> None:
        super().__init__()
        self._rest = _Rest(fake)
        self._events = events

    def getChild(self, path: bytes, request: Request) -> Resource:
        if path == b"events":
            return self._events
        request.postpath.insert(0, path)
        request.prepath.pop()
        return self._rest


class FakeAriServer:
    """Listens on 127.0.0.1 (an ephemeral port); ``base_url`` is what the adapter's settings need."""

    def __init__(self, fake: FakeAri) -> None:
        self.fake = fake
        self.events = _EventsFactory(fake)
        self._port: IListeningPort | None = None

    async def start(self, reactor: Any) -> None:
        root = Resource()
        root.putChild(b"ari", _AriRoot(self.fake, WebSocketResource(self.events)))
        self._port = await endpoints.TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(Site(root))

    @property
    def base_url(self) -> str:
        assert self._port is not None
        return f"http://127.0.0.1:{self._port.getHost().port}/"

    def drop_websockets(self, *, refuse: bool) -> None:
        """Cut every event socket without a closing handshake; ``refuse`` keeps new ones out until
        ``accept_websockets``, so the events sent meanwhile are lost as they would be on a real drop."""
        self.events.refusing = refuse
        for client in list(self.events.clients):
            client.dropConnection(abort=True)
        self.events.clients.clear()

    def accept_websockets(self) -> None:
        self.events.refusing = False

    async def stop(self) -> None:
        self.drop_websockets(refuse=True)
        if self._port is not None:
            await self._port.stopListening()
