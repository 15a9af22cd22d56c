"""``Call`` on one ARI channel: requests out, the channel's events in, timers from the injected runtime.

A dialogue does one thing at a time, so one pending wait suffices: a prompt (until its PlaybackFinished,
or ``prompt_max_seconds`` if that event was lost with the socket) or an entry (until the collector says
it is complete, or its deadline passes). DTMF keyed while no entry is being collected is kept, so a
caller who types during the question is not ignored. The channel leaving Stasis ends any wait with
``CallerGone``, as does a request answered 404 (the channel is already gone) or 409 (no longer ours).
"""

from __future__ import annotations

import contextlib
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.error import AlreadyCalled, AlreadyCancelled

from ...core.ports import Cancellable, Runtime
from ._ari_rest import AriRequestFailed, InboundRest
from ._dialogues import CallerGone, Reject
from ._digits import DigitCollector, Entry, EntryRules

_GONE_STATUSES = frozenset({404, 409})
_END_EVENTS = frozenset({"StasisEnd", "ChannelDestroyed"})
_Result = Entry | CallerGone | None


class AriInboundCall:
    def __init__(self, channel: dict[str, Any], args: list[str], *, rest: InboundRest, runtime: Runtime,
                 prompt_max_seconds: float) -> None:
        self.channel_id: str = channel["id"]
        self.caller_id: str = (channel.get("caller") or {}).get("number", "")
        # ``Stasis(app,<dialled>)`` names the number when the trunk rewrote EXTEN; else EXTEN is it.
        self.dialled: str = args[0] if args and args[0] else (channel.get("dialplan") or {}).get("exten", "")
        self.language: str = channel.get("language") or "en"
        self.answered = channel.get("state") == "Up"
        self.gone = False
        self._rest = rest
        self._runtime = runtime
        self._prompt_max = prompt_max_seconds
        self._prompts = 0
        self._playing: str | None = None
        self._collector: DigitCollector | None = None
        self._typed: list[str] = []
        self._waiter: Deferred[_Result] | None = None
        self._timer: Cancellable | None = None

    # -- events -----------------------------------------------------------------------------------------

    def feed(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind in _END_EVENTS:
            self.gone = True
            self._finish(CallerGone(self.channel_id))
        elif kind == "PlaybackFinished" and message.get("playback", {}).get("id") == self._playing:
            self._finish(None)
        elif kind == "ChannelDtmfReceived":
            digit = str(message.get("digit", ""))
            if self._collector is None:
                self._typed.append(digit)
            else:
                self._press(digit)

    # -- Call -------------------------------------------------------------------------------------------

    async def reject(self, reason: Reject) -> None:
        await self._quietly(self._rest.hangup(self.channel_id, reason.value))

    async def answer(self) -> None:
        await self._request(self._rest.answer(self.channel_id))
        self.answered = True

    async def say(self, sound: str) -> None:
        self._prompts += 1
        self._playing = playback_id = f"{self.channel_id}.prompt{self._prompts}"
        # Armed before the request: a prompt that fails at once may report PlaybackFinished before the
        # REST answer arrives.
        waiter = self._expect(self._prompt_max)
        try:
            await self._request(self._rest.play(self.channel_id, playback_id, f"sound:{sound}", self.language))
            await self._outcome(waiter)
        finally:
            self._playing = None
            self._forget(waiter)

    async def ask(self, sound: str, rules: EntryRules) -> Entry:
        self._typed.clear()  # what was keyed before this question belongs to no question
        await self.say(sound)
        collector = self._collector = DigitCollector(rules, self._now())
        try:
            for digit in self._typed:
                entry = collector.press(digit, self._now())
                if entry is not None:
                    return entry
            while True:
                entry = await self._outcome(self._expect(collector.deadline - self._now()))
                if entry is not None:
                    return entry
        finally:
            self._collector = None
            self._typed.clear()

    async def hang_up(self) -> None:
        await self._quietly(self._rest.hangup(self.channel_id, "normal"))

    # -- internals --------------------------------------------------------------------------------------

    def _press(self, digit: str) -> None:
        assert self._collector is not None
        entry = self._collector.press(digit, self._now())
        if entry is not None:
            self._finish(entry)
        else:  # each digit moves the deadline: the pause is counted from the last one
            self._rearm(self._collector.deadline - self._now())

    def _expired(self) -> None:
        self._timer = None
        if self._collector is None:  # a prompt whose PlaybackFinished never came: treat it as played
            self._finish(None)
            return
        entry = self._collector.expire(self._now())
        if entry is not None:
            self._finish(entry)
        else:
            self._rearm(self._collector.deadline - self._now())

    def _expect(self, seconds: float) -> Deferred[_Result]:
        waiter: Deferred[_Result] = Deferred()
        if self.gone:
            waiter.callback(CallerGone(self.channel_id))
            return waiter
        self._waiter = waiter
        self._rearm(seconds)
        return waiter

    @staticmethod
    async def _outcome(waiter: Deferred[_Result]) -> Entry | None:
        # CallerGone travels as a value, not a failure: a waiter nobody awaits any more (its request
        # failed first) must not end up logged as an unhandled error.
        result = await waiter
        if isinstance(result, CallerGone):
            raise result
        return result

    def _forget(self, waiter: Deferred[_Result]) -> None:
        if self._waiter is waiter:
            self._waiter = None
            self._cancel_timer()

    def _rearm(self, seconds: float) -> None:
        self._cancel_timer()
        self._timer = self._runtime.call_later(max(0.0, seconds), self._expired)

    def _finish(self, result: _Result) -> None:
        self._cancel_timer()
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            waiter.callback(result)

    def _cancel_timer(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None:
            with contextlib.suppress(AlreadyCalled, AlreadyCancelled):
                timer.cancel()

    def _now(self) -> float:
        return self._runtime.now().timestamp()

    async def _request(self, request: Any) -> None:
        try:
            await request
        except AriRequestFailed as exc:
            if exc.status in _GONE_STATUSES:
                self.gone = True
                raise CallerGone(self.channel_id) from exc
            raise

    @staticmethod
    async def _quietly(request: Any) -> None:
        """A hangup: if the channel is already gone, that is what we wanted."""
        try:
            await request
        except AriRequestFailed as exc:
            if exc.status not in _GONE_STATUSES:
                raise
