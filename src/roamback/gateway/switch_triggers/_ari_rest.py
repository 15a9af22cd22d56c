"""The four ARI requests an inbound call needs: answer, play, hang up (with a reason), over treq.

Kept apart from the callback adapter's REST client, which is private to its package and knows nothing
of answering: both talk to the same Asterisk with the same ``AriSettings`` credentials, and REST is
stateless, so sharing the event socket (one Stasis application) is all the sharing that matters.
"""

from __future__ import annotations

import json

import treq
from twisted.internet.interfaces import IReactorTime
from twisted.web.client import HTTPConnectionPool

from ...switch_adapters.ari import AriSettings


class AriRequestFailed(Exception):
    """Asterisk refused the request (``status``) or did not answer it (``status`` 0)."""

    def __init__(self, method: str, path: str, status: int, message: str) -> None:
        super().__init__(f"{method} {path}: {status} {message}")
        self.status = status


class InboundRest:
    def __init__(self, reactor: IReactorTime, settings: AriSettings) -> None:
        self._reactor = reactor
        self._base = str(settings.base_url).rstrip("/") + "/ari"
        self._auth = (settings.username, settings.password.get_secret_value())
        self._timeout = settings.request_timeout
        self._pool = HTTPConnectionPool(reactor, persistent=True)

    async def close(self) -> None:
        await self._pool.closeCachedConnections()

    async def answer(self, channel_id: str) -> None:
        await self._request("POST", f"/channels/{channel_id}/answer")

    async def play(self, channel_id: str, playback_id: str, media: str, lang: str) -> None:
        await self._request("POST", f"/channels/{channel_id}/play/{playback_id}", {"media": media, "lang": lang})

    async def hangup(self, channel_id: str, reason: str) -> None:
        await self._request("DELETE", f"/channels/{channel_id}", {"reason": reason})

    async def _request(self, method: str, path: str, params: dict[str, str] | None = None) -> None:
        try:
            response = await treq.request(method, self._base + path, params=params, auth=self._auth,
                                          pool=self._pool, timeout=self._timeout, reactor=self._reactor)
            body = await treq.content(response)
        except Exception as exc:  # refused, reset, timed out: the switch did not answer
            raise AriRequestFailed(method, path, 0, repr(exc)) from exc
        if response.code >= 300:
            try:
                message = json.loads(body).get("message", "")
            except ValueError:
                message = body[:200].decode("utf-8", "replace")
            raise AriRequestFailed(method, path, response.code, message)
