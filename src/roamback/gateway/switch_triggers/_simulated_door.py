"""The switch-side front door on the embedded simulated switch, so `roamback demo` can call the service.

The same ``Dialogues`` that serve Asterisk decide what each call means; this module only presents a
simulated ``InboundCall`` as their ``Call`` port, as ``_ari_call`` does for an ARI channel, and submits
through the same ``EngineCore``. Prompts play in no time: nothing listens to them but a test.
"""

from __future__ import annotations

import contextlib

from twisted.application.service import Service
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.error import AlreadyCalled, AlreadyCancelled
from twisted.logger import Logger

from ...core.ports import Runtime
from ...core.reasons import HangupCause
from ...switch_adapters.simulated import InboundCall
from ._accounts import TriggerAccounts
from ._core_door import Engine, EngineCore
from ._dialogues import CallerGone, Dialogues, Reject
from ._digits import DigitCollector, Entry, EntryRules
from ._front_door import _check_pin_on_thread  # the same scrypt check, off the reactor
from ._settings import TriggerSettings

log = Logger()


class SimulatedCall:
    """``Call`` on one simulated inbound call; DTMF entries are timed on the injected runtime."""

    def __init__(self, call: InboundCall, runtime: Runtime) -> None:
        self._call = call
        self._runtime = runtime
        self._waiter: Deferred[None] | None = None
        call.watch(self._wake)

    @property
    def channel_id(self) -> str:
        return self._call.call_id

    @property
    def caller_id(self) -> str:
        return self._call.caller

    @property
    def dialled(self) -> str:
        return self._call.dialled

    @property
    def answered(self) -> bool:
        return self._call.answered

    async def reject(self, reason: Reject) -> None:
        if self._call.end_cause is None:  # a caller who already left is what a reject wanted anyway
            self._call.reject(HangupCause(reason.value))

    async def answer(self) -> None:
        self._alive()
        self._call.answer()

    async def say(self, sound: str) -> None:
        self._alive()
        self._call.play(sound)

    async def ask(self, sound: str, rules: EntryRules) -> Entry:
        await self.say(sound)
        collector = DigitCollector(rules, self._now())
        while True:
            while self._call.keyed:
                entry = collector.press(self._call.keyed.popleft(), self._now())
                if entry is not None:
                    return entry
            self._alive()
            entry = collector.expire(self._now())
            if entry is not None:
                return entry
            await self._next_change(collector.deadline - self._now())

    async def hang_up(self) -> None:
        self._call.hang_up()

    def _alive(self) -> None:
        if self._call.end_cause is not None:
            raise CallerGone(self._call.call_id)

    async def _next_change(self, seconds: float) -> None:
        """Until the caller keys or leaves, or ``seconds`` pass."""
        waiter = self._waiter = Deferred()
        timer = self._runtime.call_later(max(0.0, seconds), self._wake)
        try:
            await waiter
        finally:
            with contextlib.suppress(AlreadyCalled, AlreadyCancelled):
                timer.cancel()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            waiter.callback(None)

    def _now(self) -> float:
        return self._runtime.now().timestamp()


class SimulatedTriggerDoor(Service):
    """Build once, then ``simulated_switch.subscribe_inbound(door.call)``; start it with the service tree."""

    def __init__(self, *, settings: TriggerSettings, engine: Engine, accounts: TriggerAccounts,
                 home_region: str, runtime: Runtime) -> None:
        self._runtime = runtime
        self._dialogues = Dialogues(settings=settings, accounts=accounts, core=EngineCore(engine, runtime),
                                    check_pin=_check_pin_on_thread, home_region=home_region)
        self._calls: dict[str, Deferred[None]] = {}  # the dialogues still running, by call id

    def call(self, inbound: InboundCall) -> None:
        """One call dialled into the simulated switch."""
        if not self.running:  # stopping, or not started: do not leave the caller ringing
            inbound.reject(HangupCause.CONGESTION)
            return
        done = Deferred.fromCoroutine(self._run(SimulatedCall(inbound, self._runtime)))
        if not done.called:
            self._calls[inbound.call_id] = done

    async def _run(self, call: SimulatedCall) -> None:
        try:
            await self._dialogues.handle(call)
        except CallerGone:
            log.info("Caller left {channel} before the dialogue ended", channel=call.channel_id)
        except CancelledError:
            await self._end(call)  # the service is stopping: nothing was promised yet
        except Exception:
            log.failure("Dialogue on {channel} failed", channel=call.channel_id)
            await self._end(call)
        finally:
            self._calls.pop(call.channel_id, None)

    @staticmethod
    async def _end(call: SimulatedCall) -> None:
        if call.answered:
            await call.hang_up()
        else:
            await call.reject(Reject.CONGESTION)

    def stopService(self) -> None:
        super().stopService()
        for done in list(self._calls.values()):
            done.cancel()
