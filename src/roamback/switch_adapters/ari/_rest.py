"""The few ARI REST calls the callback flow needs, over treq, with Asterisk's errors made exceptions.

Every call returns once Asterisk answered; a 4xx/5xx becomes ``AriError`` carrying the status, so the
call flow can tell "the channel is already gone" (404) from a real failure.
"""

from __future__ import annotations

import json
from typing import Any

import treq
from twisted.internet.interfaces import IReactorTime
from twisted.web.client import HTTPConnectionPool

from ._settings import AriSettings

JSON = dict[str, Any]


class AriError(Exception):
    """Asterisk refused a request (or did not answer it): ``status`` 0 means no HTTP answer at all."""

    def __init__(self, method: str, path: str, status: int, message: str) -> None:
        super().__init__(f"{method} {path}: {status} {message}")
        self.status = status


class AriRest:
    """Thin typed wrapper over ``/ari/``; the connection pool is persistent so a call costs no handshake."""

    def __init__(self, reactor: IReactorTime, settings: AriSettings) -> None:
        self._reactor = reactor
        self._base = str(settings.base_url).rstrip("/") + "/ari"
        self._auth = (settings.username, settings.password.get_secret_value())
        self._timeout = settings.request_timeout
        self._pool = HTTPConnectionPool(reactor, persistent=True)
        self._pool.maxPersistentPerHost = 8

    async def close(self) -> None:
        await self._pool.closeCachedConnections()

    async def _request(self, method: str, path: str, params: dict[str, str] | None = None) -> Any:
        url = self._base + path
        try:
            response = await treq.request(
                method, url, params=params or None, auth=self._auth, pool=self._pool,
                timeout=self._timeout, reactor=self._reactor,
            )
            body = await treq.content(response)
        except Exception as exc:  # connection refused, reset, timeout: the switch did not answer
            raise AriError(method, path, 0, repr(exc)) from exc
        if response.code >= 300:
            try:
                message = json.loads(body).get("message", "")
            except ValueError:
                message = body[:200].decode("utf-8", "replace")
            raise AriError(method, path, response.code, message)
        return json.loads(body) if body else None

    # -- channels --------------------------------------------------------------------------------------

    async def originate(
        self, *, channel_id: str, endpoint: str, app: str, app_args: str, caller_id: str, timeout: int,
        originator: str | None = None,
    ) -> JSON:
        params = {"endpoint": endpoint, "app": app, "appArgs": app_args, "callerId": caller_id,
                  "timeout": str(timeout)}
        if originator:
            params["originator"] = originator
        result: JSON = await self._request("POST", f"/channels/{channel_id}", params)
        return result

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        await self._request("DELETE", f"/channels/{channel_id}", {"reason": reason})

    async def play(self, channel_id: str, playback_id: str, media: list[str], lang: str) -> None:
        params = {"media": ",".join(media), "lang": lang}
        await self._request("POST", f"/channels/{channel_id}/play/{playback_id}", params)

    async def ring(self, channel_id: str) -> None:
        await self._request("POST", f"/channels/{channel_id}/ring")

    async def ring_stop(self, channel_id: str) -> None:
        await self._request("DELETE", f"/channels/{channel_id}/ring")

    async def set_variable(self, channel_id: str, variable: str, value: str) -> None:
        await self._request("POST", f"/channels/{channel_id}/variable", {"variable": variable, "value": value})

    async def channels(self) -> list[JSON]:
        result: list[JSON] = await self._request("GET", "/channels")
        return result

    # -- bridges ---------------------------------------------------------------------------------------

    async def create_bridge(self, bridge_id: str) -> None:
        await self._request("POST", f"/bridges/{bridge_id}", {"type": "mixing"})

    async def add_channel(self, bridge_id: str, channel_id: str) -> None:
        await self._request("POST", f"/bridges/{bridge_id}/addChannel", {"channel": channel_id})

    async def play_bridge(self, bridge_id: str, playback_id: str, media: list[str]) -> None:
        await self._request("POST", f"/bridges/{bridge_id}/play/{playback_id}", {"media": ",".join(media)})

    async def delete_bridge(self, bridge_id: str) -> None:
        await self._request("DELETE", f"/bridges/{bridge_id}")

    async def bridges(self) -> list[JSON]:
        result: list[JSON] = await self._request("GET", "/bridges")
        return result
