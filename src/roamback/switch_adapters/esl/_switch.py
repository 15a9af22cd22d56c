"""``core.ports.SwitchAdapter`` on FreeSWITCH's event socket: calls keyed by channel UUID, re-sync.

A call's two channel UUIDs are derived from its call id (UUID v5 in a namespace of ``id_prefix``), so a
restarted process can hang up a call it never saw without asking the switch anything. Each leg also
carries ``roamback_service``/``roamback_call_id`` channel variables: after a reconnect the adapter lists
channels (``show channels as json``); live calls catch up on what they missed, leftovers of calls this
process already finished are killed, and channels of calls it never knew (the service restarted under
them) are identified with ``uuid_dump``, reported by ``live_calls`` and ended by ``hangup`` when
recovery asks, with their sched_hangup as the last resort.
"""

from __future__ import annotations

import json
import uuid
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
from ._call import EslCall
from ._client import EslClient, EslError, esl_service
from ._settings import EslSettings

log = Logger()

_REMEMBER = 10_000  # finished call ids (to recognise their leftovers) and foreign channels (not to ask twice)
_RESYNC_RETRY_SECONDS = 1.0


class EslSwitch(Service):
    """Build with ``EslSwitch(reactor, settings)``; start it (or add it to the service tree) to connect."""

    def __init__(self, reactor: Any, settings: EslSettings, runtime: Runtime | None = None) -> None:
        self._settings = settings
        self._runtime = runtime or TwistedRuntime(reactor)
        self._namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"roamback:esl:{settings.id_prefix}")
        self._service = esl_service(reactor, settings, self)
        self._client: EslClient | None = None
        self._calls: dict[str, tuple[EslCall, Serial]] = {}
        self._owner: dict[str, str] = {}  # channel UUID or Job-UUID -> call id, for live calls
        self._ended: OrderedDict[str, None] = OrderedDict()
        self._foreign: OrderedDict[str, None] = OrderedDict()
        self._listeners: list[Callable[[LegEvent], None]] = []
        self._sync_waiters: list[Deferred[None]] = []

    @property
    def connected_now(self) -> bool:
        return self._client is not None

    def channel_uuid(self, call_id: str, leg: Leg) -> str:
        """The UUID leg ``leg`` of ``call_id`` gets on the switch, in this process or any later one."""
        return str(uuid.uuid5(self._namespace, f"{call_id}/{leg.value}"))

    # -- service ----------------------------------------------------------------------------------------

    def startService(self) -> None:
        super().startService()
        self._service.startService()

    def stopService(self) -> Deferred[None]:
        super().stopService()
        # Calls stay on the switch (a restart must not cut them); their sched_hangup still bounds them.
        for call, _serial in self._calls.values():
            call.detach()
        self._calls.clear()
        self._owner.clear()
        return self._service.stopService()

    def synced(self) -> Deferred[None]:
        """Fires after the next re-sync with the switch completes (each (re)connection runs one)."""
        waiter: Deferred[None] = Deferred()
        self._sync_waiters.append(waiter)
        return waiter

    # -- SwitchAdapter ----------------------------------------------------------------------------------

    def subscribe(self, listener: Callable[[LegEvent], None]) -> None:
        self._listeners.append(listener)

    async def originate(self, plan: CallPlan) -> None:
        if plan.call_id in self._calls:
            raise ValueError(f"call {plan.call_id} is already live")
        if any(c in plan.call_id for c in " ,{}[]'\"\n"):
            raise ValueError(f"call id {plan.call_id!r} cannot travel in an originate variable")
        if self._client is None:
            # Without the event socket nobody would see the call answer: refuse rather than dial blind.
            raise PortUnavailable("FreeSWITCH event socket is not connected")
        serial = Serial()
        call = EslCall(plan, uuids=(self.channel_uuid(plan.call_id, Leg.A), self.channel_uuid(plan.call_id, Leg.B)),
                       esl=self, settings=self._settings, runtime=self._runtime, emit=self._deliver,
                       schedule=lambda s, step, leg: self._schedule(serial, call, s, step, leg))
        self._calls[plan.call_id] = (call, serial)
        for state in (call.a, call.b):
            self._owner[state.uuid] = self._owner[state.job_uuid] = plan.call_id
        try:
            await serial.submit(call.start)
        except Exception:
            self._forget(plan.call_id)
            raise

    async def hangup(self, call_id: str) -> None:
        entry = self._calls.get(call_id)
        if entry is not None:
            await entry[1].submit(entry[0].hang_up)
            return
        # Not ours in this process (a restart): end whatever the switch still has under that id.
        for leg in (Leg.B, Leg.A):
            await self._kill_quietly(self.channel_uuid(call_id, leg))

    async def set_limits(self, call_id: str, leg_a_limit: int, leg_b_limit: int) -> None:
        entry = self._calls.get(call_id)
        if entry is not None:  # a call of an earlier process keeps its sched_hangup until hung up
            await entry[1].submit(entry[0].set_limits, leg_a_limit, leg_b_limit)

    async def live_calls(self) -> set[str]:
        owners = await self._identify(await self._channels())
        return set(owners.values()) | set(self._calls)

    # -- commands on the current connection (the ``Esl`` a call uses) ----------------------------------

    async def api(self, command: str) -> str:
        return await self._current().api(command)

    async def bgapi(self, command: str, job_uuid: str) -> None:
        await self._current().bgapi(command, job_uuid)

    async def execute(self, uuid: str, app: str, arg: str, event_uuid: str) -> None:
        await self._current().execute(uuid, app, arg, event_uuid)

    def _current(self) -> EslClient:
        if self._client is None:
            raise EslError("esl", "-ERR no connection")
        return self._client

    # -- event socket -----------------------------------------------------------------------------------

    def connected(self, client: EslClient) -> None:
        self._client = client
        log.info("FreeSWITCH event socket connected; re-syncing")
        Deferred.fromCoroutine(self._resync()).addErrback(lambda f: log.failure("ESL re-sync failed", f))

    def disconnected(self) -> None:
        self._client = None
        log.warn("FreeSWITCH event socket lost; calls continue on the switch, events resume after reconnect")

    def event(self, event: dict[str, Any]) -> None:
        key = event.get("Job-UUID") if event.get("Event-Name") == "BACKGROUND_JOB" else event.get("Unique-ID")
        call_id = self._owner.get(key) if isinstance(key, str) else None
        entry = self._calls.get(call_id) if call_id else None
        if entry is not None:
            entry[1].post(entry[0].handle, event)

    # -- internals --------------------------------------------------------------------------------------

    def _schedule(self, serial: Serial, call: EslCall, seconds: float, step: str, leg: Leg) -> Cancellable:
        return self._runtime.call_later(seconds, serial.post, getattr(call, step), leg)

    def _deliver(self, event: LegEvent) -> None:
        if event.kind is LegEventKind.CALL_ENDED:
            self._forget(event.call_id)
            _remember(self._ended, event.call_id)
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                log.failure("Leg event listener failed on {event}", event=event)

    def _forget(self, call_id: str) -> None:
        entry = self._calls.pop(call_id, None)
        if entry is not None:
            for state in (entry[0].a, entry[0].b):
                self._owner.pop(state.uuid, None)
                self._owner.pop(state.job_uuid, None)

    async def _channels(self) -> set[str]:
        """UUIDs of every channel on the switch; ``{"row_count":0}`` is how FreeSWITCH says none."""
        listing = json.loads(await self.api("show channels as json") or "{}")
        return {row["uuid"] for row in listing.get("rows", ()) if isinstance(row, dict) and "uuid" in row}

    async def _dump(self, channel: str) -> dict[str, Any] | None:
        """The channel's data and variables, or None if it is gone (a lost connection raises)."""
        try:
            dumped = json.loads(await self.api(f"uuid_dump {channel} json"))
        except EslError as exc:
            if exc.no_such_channel:
                return None
            raise
        return dumped if isinstance(dumped, dict) else None

    async def _identify(self, channels: set[str]) -> dict[str, str]:
        """Channel UUID -> call id for our channels among ``channels``; foreign ones are asked about once."""
        owners: dict[str, str] = {}
        for channel in channels:
            if channel in self._owner:
                owners[channel] = self._owner[channel]
                continue
            if channel in self._foreign:
                continue
            info = await self._dump(channel) or {}
            call_id = info.get("variable_roamback_call_id")
            if info.get("variable_roamback_service") == self._settings.id_prefix and isinstance(call_id, str):
                owners[channel] = call_id
            else:
                _remember(self._foreign, channel)
        return owners

    async def _resync(self) -> None:
        try:
            channels = await self._channels()
            steps = [serial.submit(call.resync, channels, self._dump) for call, serial in list(self._calls.values())]
            await DeferredList(steps, consumeErrors=True)
            await self._clean_orphans(await self._identify(channels))
        except EslError as exc:
            log.warn("ESL re-sync failed ({error}); retrying", error=exc)
            if self._client is not None:
                self._runtime.call_later(_RESYNC_RETRY_SECONDS, self.connected, self._client)
            return
        waiters, self._sync_waiters = self._sync_waiters, []
        for waiter in waiters:
            waiter.callback(None)

    async def _clean_orphans(self, owners: dict[str, str]) -> None:
        """Kill leftovers of calls this process finished; calls it never ran are left for recovery, which
        finds them through ``live_calls`` and ends them with ``hangup``."""
        for channel, call_id in owners.items():
            if call_id in self._ended and call_id not in self._calls:
                log.info("Hanging up orphan channel {channel} of call {call}", channel=channel, call=call_id)
                await self._kill_quietly(channel)

    async def _kill_quietly(self, channel: str) -> None:
        try:
            await self.api(f"uuid_kill {channel} NORMAL_CLEARING")
        except EslError as exc:
            if not exc.no_such_channel:
                log.warn("ESL clean-up of {channel} failed: {error}", channel=channel, error=exc)


def _remember(seen: OrderedDict[str, None], key: str) -> None:
    seen[key] = None
    while len(seen) > _REMEMBER:
        seen.popitem(last=False)
