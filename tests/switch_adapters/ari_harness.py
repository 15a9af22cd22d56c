"""An AriSwitch wired to a FakeAri on loopback, sharing one scaled runtime so rings and limits are short.

``SPEED`` simulated seconds pass per real second for both sides: a 2 s prompt takes 0.2 s, and event
timestamps (the fake's) and timers (the adapter's) stay in one consistent timeline.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from twisted.internet import task
from twisted.internet.defer import Deferred

from roamback.core.model import CallMode, CallPlan, Leg, LegEvent, LegEventKind, Prompt
from roamback.runtime import TwistedRuntime
from roamback.switch_adapters.ari import AriSettings, AriSwitch, Route

from .fake_ari import FakeAri, Outcome
from .fake_ari_web import FakeAriServer


def the_reactor() -> Any:
    """The installed reactor, looked up late: conftest imports this module before pytest-twisted installs it."""
    from twisted.internet import reactor

    return reactor

SPEED = 10.0
ROAMER = "+33612345678"
FRIEND = "+447700900123"
LOCAL_FRIEND = "+442079460000"  # routed through a Local channel: cause 0, only Dial tells
SERVICE = "+33100000000"
WAIT_SECONDS = 10.0  # real seconds: generous for a noisy shared machine, never reached when all is well


def make_plan(call_id: str = "c1", *, b: str = FRIEND, a_limit: int = 600, b_limit: int = 600,
              mode: CallMode = CallMode.A_FIRST, ring_timeout: int = 20) -> CallPlan:
    return CallPlan(
        call_id=call_id, request_id=f"r-{call_id}", attempt=1, leg_a_number=ROAMER, leg_a_caller_id=SERVICE,
        leg_b_number=b, leg_b_caller_id=ROAMER, leg_a_limit=a_limit, leg_b_limit=b_limit,
        ring_timeout=ring_timeout, prompt=Prompt(language="fr", max_seconds=min(a_limit, b_limit),
                                                  balance_minor=1250, currency="EUR"),
        mode=mode,
    )


class AriHarness:
    def __init__(self, **settings: Any) -> None:
        self.runtime = TwistedRuntime(the_reactor(), speed=SPEED)
        self.fake = FakeAri(self.runtime)
        self.server = FakeAriServer(self.fake)
        self.settings_overrides = settings
        self.events: list[LegEvent] = []
        self._waiters: list[tuple[Callable[[LegEvent], bool], Deferred[LegEvent]]] = []
        self.switches: list[AriSwitch] = []

    async def start(self) -> AriSwitch:
        await self.server.start(the_reactor())
        return await self.new_switch()

    def settings(self) -> AriSettings:
        options: dict[str, Any] = {
            "base_url": self.server.base_url, "username": "roamback", "password": "secret",
            "routes": [Route(prefix="", endpoint="PJSIP/{number}@trunk"),
                       Route(prefix="+4420", endpoint="Local/{number}@outbound")],
            "backstop_seconds": 3.0, "warning_seconds": 2.0, "reconnect_max_seconds": 0.2,
        }
        return AriSettings(**{**options, **self.settings_overrides})

    async def new_switch(self) -> AriSwitch:
        """A fresh adapter process (after a restart, nothing of the previous one survives)."""
        switch = AriSwitch(the_reactor(), self.settings(), runtime=self.runtime)
        switch.subscribe(self._on_event)
        synced = switch.synced()
        switch.startService()
        self.switches.append(switch)
        await self.within(synced)
        return switch

    async def stop(self) -> None:
        for switch in self.switches:
            if switch.running:
                await switch.stopService()
        await self.server.stop()

    def _on_event(self, event: LegEvent) -> None:
        self.events.append(event)
        for waiter in list(self._waiters):
            if waiter[0](event):
                self._waiters.remove(waiter)
                waiter[1].callback(event)

    async def within(self, deferred: Deferred[Any]) -> Any:
        deferred.addTimeout(WAIT_SECONDS, the_reactor())
        return await deferred

    async def until(self, kind: LegEventKind, call_id: str = "c1", leg: Leg | None = None) -> LegEvent:
        """The first event of ``kind`` (and ``leg``) for the call, already seen or still to come."""
        def match(event: LegEvent) -> bool:
            return event.call_id == call_id and event.kind is kind and (leg is None or event.leg is leg)

        seen = next((event for event in self.events if match(event)), None)
        if seen is not None:
            return seen
        waiter: Deferred[LegEvent] = Deferred()
        self._waiters.append((match, waiter))
        return await self.within(waiter)

    async def eventually(self, condition: Callable[[], bool]) -> None:
        """Wait (polling the fake, which has no events of its own to wait on) until ``condition`` holds."""
        for _ in range(int(WAIT_SECONDS / 0.02)):
            if condition():
                return
            await task.deferLater(the_reactor(), 0.02)
        raise AssertionError("condition never held")

    def kinds(self, call_id: str = "c1") -> list[tuple[str, str | None, str | None]]:
        return [(e.kind.value, e.leg.value if e.leg else None, e.cause.value if e.cause else None)
                for e in self.events if e.call_id == call_id]

    def requests(self, method: str, path_end: str) -> list[dict[str, str]]:
        return [params for m, path, params in self.fake.requests if m == method and path.endswith(path_end)]

    def stamp(self, kind: str, channel_id: str) -> datetime:
        """Timestamp of the fake's event ``kind`` about ``channel_id``."""
        event = next(e for e in self.fake.sent if e["type"] == kind and e.get("channel", {}).get("id") == channel_id)
        return datetime.strptime(event["timestamp"], "%Y-%m-%dT%H:%M:%S.%f%z")

    def outcome(self, number: str, result: str = "answer", *, ring: float = 1.0, talk: float | None = None) -> None:
        self.fake.outcomes[number.removeprefix("+")] = Outcome(result, ring, talk)
