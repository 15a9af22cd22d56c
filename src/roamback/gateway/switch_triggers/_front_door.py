"""The switch-side front door: calls dialled into the Stasis application become callback triggers.

It shares the ARI adapter's event socket (one Stasis application, one registration): the adapter hands
over every event about an object it did not create (``AriSwitch.subscribe_inbound``), which for a
channel means a call dialled in. Each such call runs one dialogue (``Dialogues.handle``) to its end.
"""

from __future__ import annotations

from typing import Any

from twisted.application.service import Service
from twisted.internet import threads
from twisted.internet.defer import CancelledError, Deferred, DeferredList
from twisted.logger import Logger

from ...core.ports import Runtime
from ...runtime import TwistedRuntime
from ...switch_adapters.ari import AriSettings
from ...ussd_menus import pins
from ._accounts import TriggerAccounts
from ._ari_call import AriInboundCall
from ._ari_rest import AriRequestFailed, InboundRest
from ._core_door import Engine, EngineCore
from ._dialogues import CallerGone, Dialogues, Reject
from ._settings import TriggerSettings

log = Logger()


async def _check_pin_on_thread(pin: str, stored: str) -> bool:
    """scrypt blocks for tens of milliseconds: never on the reactor."""
    return bool(await threads.deferToThread(pins.verify_pin, pin, stored))


class SwitchTriggers(Service):
    """Build once, then ``ari_switch.subscribe_inbound(triggers.event)``; start it with the service tree."""

    def __init__(
        self, reactor: Any, *, ari: AriSettings, settings: TriggerSettings, engine: Engine,
        accounts: TriggerAccounts, home_region: str, runtime: Runtime | None = None,
    ) -> None:
        self._runtime = runtime or TwistedRuntime(reactor)
        self._rest = InboundRest(reactor, ari)
        self._settings = settings
        self._dialogues = Dialogues(settings=settings, accounts=accounts, core=EngineCore(engine, self._runtime),
                                    check_pin=_check_pin_on_thread, home_region=home_region)
        self._calls: dict[str, tuple[AriInboundCall, Deferred[None]]] = {}

    def event(self, message: dict[str, Any]) -> None:
        """One ARI event about an object the callback adapter did not create."""
        kind = message.get("type")
        channel = message.get("channel") if isinstance(message.get("channel"), dict) else None
        if kind == "StasisStart" and channel and channel.get("id") not in self._calls:
            self._arrived(channel, [str(arg) for arg in message.get("args") or ()])
            return
        if channel is not None:
            channel_id = channel.get("id", "")
        else:  # a playback names its channel in target_uri: "channel:<id>"
            channel_id = str((message.get("playback") or {}).get("target_uri", "")).removeprefix("channel:")
        entry = self._calls.get(channel_id)
        if entry is not None:
            entry[0].feed(message)

    def _arrived(self, channel: dict[str, Any], args: list[str]) -> None:
        call = AriInboundCall(channel, args, rest=self._rest, runtime=self._runtime,
                              prompt_max_seconds=self._settings.prompt_max_seconds)
        if not self.running:  # stopping, or not started: do not leave the caller ringing
            Deferred.fromCoroutine(call.reject(Reject.CONGESTION)).addErrback(
                lambda f: log.failure("Rejecting {channel} failed", f, channel=call.channel_id))
            return
        done = Deferred.fromCoroutine(self._run(call))
        if not done.called:
            self._calls[call.channel_id] = (call, done)

    async def _run(self, call: AriInboundCall) -> None:
        try:
            await self._dialogues.handle(call)
        except CallerGone:
            log.info("Caller left {channel} before the dialogue ended", channel=call.channel_id)
        except CancelledError:
            pass  # the service is stopping; it ends the call itself
        except Exception:
            log.failure("Dialogue on {channel} failed", channel=call.channel_id)
            await self._end(call)
        finally:
            self._calls.pop(call.channel_id, None)

    async def _end(self, call: AriInboundCall) -> None:
        try:
            if call.answered:
                await call.hang_up()
            else:
                await call.reject(Reject.CONGESTION)
        except AriRequestFailed as exc:
            log.warn("Could not end {channel}: {error}", channel=call.channel_id, error=exc)

    def stopService(self) -> Deferred[None]:
        super().stopService()
        return Deferred.fromCoroutine(self._stop())

    async def _stop(self) -> None:
        """Callers still in a dialogue are cut (nothing was promised to them yet); the pool closes."""
        calls = list(self._calls.values())
        for call, done in calls:
            done.cancel()
            await self._end(call)
        await DeferredList([done for _call, done in calls], consumeErrors=True)
        await self._rest.close()
