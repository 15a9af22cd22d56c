"""``core.ports.SwitchAdapter`` on Asterisk ARI: calls keyed by id, events routed to them, re-sync.

Every object the adapter creates is named ``<id_prefix><call_id>-<suffix>`` (``-a``, ``-b``, ``-bridge``,
``-prompt``, ``-warna``...), so an event, or a channel listed after a restart, leads back to its call
without any state of ours surviving. After a WebSocket reconnect the adapter lists channels and bridges:
live calls catch up on what they missed; leftovers of calls this process already finished are deleted;
channels of calls it never knew (the service restarted under them) are adopted, reported by
``live_calls`` and ended by ``hangup`` when recovery asks, with TIMEOUT(absolute) as the last resort.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred, DeferredList
from twisted.logger import Logger

from ...core.model import CallPlan, Leg, LegEvent, LegEventKind
from ...core.ports import Cancellable, PortUnavailable, Runtime
from ...runtime import TwistedRuntime
from .._serial import Serial
from ._call import AriCall
from ._events import events_service
from ._rest import AriError, AriRest
from ._settings import AriSettings

log = Logger()

_REMEMBER_ENDED = 10_000  # finished call ids kept to recognise their leftovers after a reconnect
_RESYNC_RETRY_SECONDS = 1.0
_ID_FIELDS = ("playback", "peer", "channel", "bridge")  # where an event names its object, in precedence order


class AriSwitch(Service):
    """Build with ``AriSwitch(reactor, settings)``; start it (or add it to the service tree) to connect."""

    def __init__(self, reactor: Any, settings: AriSettings, runtime: Runtime | None = None) -> None:
        self._settings = settings
        self._prefix = settings.id_prefix
        self._runtime = runtime or TwistedRuntime(reactor)
        self._rest = AriRest(reactor, settings)
        self._events = events_service(reactor, settings, self)
        self._calls: dict[str, tuple[AriCall, Serial]] = {}
        self._adopted: dict[str, set[str]] = {}
        self._ended: OrderedDict[str, None] = OrderedDict()
        self._listeners: list[Callable[[LegEvent], None]] = []
        self._inbound: list[Callable[[dict[str, Any]], None]] = []
        self._sync_waiters: list[Deferred[None]] = []
        self.connected_now = False

    # -- service ----------------------------------------------------------------------------------------

    def startService(self) -> None:
        super().startService()
        self._events.startService()

    def stopService(self) -> Deferred[None]:
        super().stopService()
        return Deferred.fromCoroutine(self._stop())

    async def _stop(self) -> None:
        # Calls stay on the switch (a restart must not cut them); their TIMEOUT(absolute) still bounds them.
        for call, _serial in self._calls.values():
            call.detach()
        self._calls.clear()
        await self._events.stopService()
        await self._rest.close()

    def synced(self) -> Deferred[None]:
        """Fires after the next re-sync with the switch completes (each (re)connection runs one)."""
        waiter: Deferred[None] = Deferred()
        self._sync_waiters.append(waiter)
        return waiter

    # -- SwitchAdapter ----------------------------------------------------------------------------------

    def subscribe(self, listener: Callable[[LegEvent], None]) -> None:
        self._listeners.append(listener)

    def subscribe_inbound(self, listener: Callable[[dict[str, Any]], None]) -> None:
        """Hand ``listener`` every event about an object this adapter did not create: calls dialled into
        the Stasis application (the switch-side triggers) share its one event socket this way."""
        self._inbound.append(listener)

    async def originate(self, plan: CallPlan) -> None:
        if plan.call_id in self._calls:
            raise ValueError(f"call {plan.call_id} is already live")
        if not self.connected_now:
            # Without the event socket nobody would see the call answer: refuse rather than dial blind.
            raise PortUnavailable("ARI event socket is not connected")
        serial = Serial()
        call = AriCall(plan, prefix=self._prefix, rest=self._rest, settings=self._settings, runtime=self._runtime,
                       emit=self._deliver, schedule=lambda s, step, leg: self._schedule(serial, call, s, step, leg))
        self._calls[plan.call_id] = (call, serial)
        try:
            await serial.submit(call.start)
        except Exception:
            self._calls.pop(plan.call_id, None)
            raise

    async def hangup(self, call_id: str) -> None:
        entry = self._calls.get(call_id)
        if entry is not None:
            await entry[1].submit(entry[0].hang_up)
            return
        # Not ours in this process (a restart): end whatever the switch still has under that id.
        base = f"{self._prefix}{call_id}"
        for channel_id in (f"{base}-b", f"{base}-a"):
            await self._quietly(self._rest.hangup(channel_id))
        await self._quietly(self._rest.delete_bridge(f"{base}-bridge"))

    async def set_limits(self, call_id: str, leg_a_limit: int, leg_b_limit: int) -> None:
        entry = self._calls.get(call_id)
        if entry is not None:  # an adopted call (before a restart) keeps its TIMEOUT(absolute) until hung up
            await entry[1].submit(entry[0].set_limits, leg_a_limit, leg_b_limit)

    async def live_calls(self) -> set[str]:
        keys = {self._key(channel["id"]) for channel in await self._rest.channels()}
        return {key for key in keys if key is not None} | set(self._calls)

    # -- event socket -----------------------------------------------------------------------------------

    def connected(self) -> None:
        self.connected_now = True
        log.info("ARI event socket connected; re-syncing")
        Deferred.fromCoroutine(self._resync()).addErrback(lambda f: log.failure("ARI re-sync failed", f))

    def disconnected(self) -> None:
        self.connected_now = False
        log.warn("ARI event socket lost; calls continue on the switch, events resume after reconnect")

    def event(self, message: dict[str, Any]) -> None:
        object_id = None
        for field in _ID_FIELDS:
            named = message.get(field)
            if isinstance(named, dict) and "id" in named:
                object_id = named["id"]
                break
        key = self._key(object_id) if isinstance(object_id, str) and object_id else None
        if key is None:
            for listener in self._inbound:
                try:  # the socket is shared with every live call: one bad event must not drop it
                    listener(message)
                except Exception:
                    log.failure("inbound ARI event {type} failed", type=message.get("type"))
            return
        entry = self._calls.get(key)
        if entry is not None:
            call, serial = entry
            if not serial.idle:  # behind a step still running: the event must wait its turn
                serial.post(call.handle, message)
                return
            # Nothing of this call is running, so the event is folded in now; only a step that needs a
            # REST request pays for a serialised step (Deferreds and a coroutine per event otherwise).
            try:
                step = call.react(message)
            except Exception:
                log.failure("ARI event {type} for {call} failed", type=message.get("type"), call=key)
                return
            if step is not None:
                serial.post(step[0], *step[1])
        elif key in self._adopted and message.get("type") == "ChannelDestroyed":
            channels = self._adopted[key]
            channels.discard(object_id)
            if not channels:
                del self._adopted[key]
                self._runtime.spawn(self._quietly(self._rest.delete_bridge(f"{self._prefix}{key}-bridge")))

    # -- internals --------------------------------------------------------------------------------------

    def _key(self, object_id: str) -> str | None:
        if not object_id.startswith(self._prefix):
            return None
        key, _, _suffix = object_id[len(self._prefix):].rpartition("-")
        return key or None

    def _schedule(self, serial: Serial, call: AriCall, seconds: float, step: str, leg: Leg) -> Cancellable:
        return self._runtime.call_later(seconds, serial.post, getattr(call, step), leg)

    def _deliver(self, event: LegEvent) -> None:
        if event.kind is LegEventKind.CALL_ENDED:
            self._calls.pop(event.call_id, None)
            self._ended[event.call_id] = None
            while len(self._ended) > _REMEMBER_ENDED:
                self._ended.popitem(last=False)
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                log.failure("Leg event listener failed on {event}", event=event)

    async def _resync(self) -> None:
        try:
            channels = {channel["id"]: channel for channel in await self._rest.channels()}
            bridges = {bridge["id"]: bridge for bridge in await self._rest.bridges()}
        except AriError as exc:
            log.warn("ARI re-sync could not list channels/bridges ({error}); retrying", error=exc)
            if self.connected_now:
                self._runtime.call_later(_RESYNC_RETRY_SECONDS, self.connected)
            return
        steps = [serial.submit(call.resync, channels, bridges) for call, serial in list(self._calls.values())]
        await DeferredList(steps, consumeErrors=True)
        await self._clean_orphans(channels, bridges)
        waiters, self._sync_waiters = self._sync_waiters, []
        for waiter in waiters:
            waiter.callback(None)

    async def _clean_orphans(self, channels: dict[str, Any], bridges: dict[str, Any]) -> None:
        """Delete leftovers of finished calls; adopt channels of calls this process never ran."""
        for channel_id in channels:
            key = self._key(channel_id)
            if key is None or key in self._calls:
                continue
            if key in self._ended:
                log.info("Hanging up orphan channel {channel}", channel=channel_id)
                await self._quietly(self._rest.hangup(channel_id))
            else:
                self._adopted.setdefault(key, set()).add(channel_id)
        for bridge_id, bridge in bridges.items():
            key = self._key(bridge_id)
            if key is None or key in self._calls or (key in self._adopted and bridge.get("channels")):
                continue
            log.info("Deleting orphan bridge {bridge}", bridge=bridge_id)
            await self._quietly(self._rest.delete_bridge(bridge_id))

    @staticmethod
    async def _quietly(request: Any) -> None:
        try:
            await request
        except AriError as exc:
            if exc.status != 404:
                log.warn("ARI clean-up request failed: {error}", error=exc)
