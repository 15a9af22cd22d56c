"""The fake ARI refuses what Asterisk refuses; the adapter's tests are only worth what the fake checks."""

from __future__ import annotations

import pytest
import pytest_twisted
import treq
from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol, connectWS
from twisted.internet.defer import Deferred

from .ari_harness import AriHarness


async def call(ari: AriHarness, method: str, path: str, auth: tuple[str, str] | None = ("roamback", "secret"),
               **params: str) -> tuple[int, dict]:
    response = await treq.request(method, f"{ari.server.base_url}ari/{path}", params=params, auth=auth,
                                  persistent=False)
    body = await treq.json_content(response) if response.code != 204 else {}
    return response.code, body


@pytest.mark.parametrize(("method", "path", "params", "status"), [
    ("DELETE", "channels/nope", {}, 404),
    ("POST", "channels/nope/play/p1", {"media": "sound:x"}, 404),
    ("POST", "channels/nope/variable", {"variable": "X", "value": "1"}, 404),
    ("POST", "channels/c9", {"app": "roamback"}, 400),  # no endpoint
    ("POST", "channels/c9", {"endpoint": "nonsense", "app": "roamback"}, 400),
    ("POST", "channels/c9", {"endpoint": "PJSIP/1@t"}, 400),  # neither app nor extension
    ("POST", "channels/c9", {"endpoint": "PJSIP/1@t", "app": "unregistered"}, 400),
    ("POST", "channels/c9", {"endpoint": "PJSIP/1@t", "app": "roamback", "timeout": "soon"}, 400),
    ("POST", "bridges/b9", {"type": "party"}, 400),
    ("POST", "bridges/nope/addChannel", {"channel": "x"}, 404),
    ("DELETE", "bridges/nope", {}, 404),
    ("GET", "sounds", {}, 404),
])
@pytest_twisted.ensureDeferred
async def test_requests_asterisk_would_refuse_are_refused(
    ari: AriHarness, method: str, path: str, params: dict[str, str], status: int
) -> None:
    code, body = await call(ari, method, path, **params)
    assert code == status
    assert body["message"]


@pytest_twisted.ensureDeferred
async def test_channel_outside_stasis_and_bad_arguments(ari: AriHarness) -> None:
    ari.outcome("+111", ring=50.0)
    assert (await call(ari, "POST", "channels/c1", endpoint="PJSIP/111@t", app="roamback"))[0] == 200
    assert (await call(ari, "POST", "channels/c1", endpoint="PJSIP/111@t", app="roamback"))[0] == 409
    assert (await call(ari, "POST", "channels/c1/ring"))[0] == 409  # still ringing: not in Stasis yet
    assert (await call(ari, "POST", "channels/c1/play/p1", media="sound:x"))[0] == 409
    assert (await call(ari, "POST", "bridges/b1", type="mixing"))[0] == 200
    assert (await call(ari, "POST", "bridges/b1/addChannel", channel="c1"))[0] == 422
    assert (await call(ari, "POST", "bridges/b1/addChannel"))[0] == 400
    assert (await call(ari, "POST", "bridges/b1/addChannel", channel="ghost"))[0] == 400
    assert (await call(ari, "POST", "channels/c1/variable", value="1"))[0] == 400
    assert (await call(ari, "DELETE", "channels/c1", reason="because"))[0] == 400
    assert (await call(ari, "DELETE", "channels/c1"))[0] == 204
    assert (await call(ari, "DELETE", "bridges/b1"))[0] == 204
    assert ari.fake.destroyed == {"c1": 16}


@pytest_twisted.ensureDeferred
async def test_credentials_are_checked_on_rest_and_websocket(ari: AriHarness) -> None:
    assert (await call(ari, "GET", "channels", auth=None))[0] == 401
    assert (await call(ari, "GET", "channels", auth=("roamback", "wrong")))[0] == 401
    assert (await call(ari, "GET", "channels", auth=None, api_key="roamback:secret"))[0] == 200

    closed: Deferred[bool] = Deferred()

    class Probe(WebSocketClientProtocol):
        def onOpen(self) -> None:
            closed.callback(True)

        def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
            if not closed.called:
                closed.callback(False)

    port = ari.server.base_url.rsplit(":", 1)[1].rstrip("/")
    factory = WebSocketClientFactory(f"ws://127.0.0.1:{port}/ari/events?app=roamback")
    factory.protocol = Probe
    connectWS(factory)
    assert await ari.within(closed) is False, "an event socket without credentials was accepted"
