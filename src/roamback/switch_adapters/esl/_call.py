"""One callback on FreeSWITCH, driven by ESL events: dial, prompt, ringback, bridge, limit, clean-up.

Each leg is its own ``bgapi originate ... &park()`` with a channel UUID we chose, so every event and every
command names the leg without asking the switch. The switch feeds each call its events, timers and
commands strictly one at a time (``Serial``), so a step awaiting a reply never sees the call change
under it. Times reported to the core come from the events' own timestamps (Event-Date-Timestamp, or the
end epoch of CHANNEL_HANGUP_COMPLETE): leg B's answer is B's CHANNEL_ANSWER, after A's prompt, so the
prompt is never B's talk time.

The leg that is ready first (A after its prompt, B on answer) hears ringback while the other is dialled
or still rings; ``uuid_bridge`` joins them. ``park_after_bridge`` keeps a leg whose partner hung up, so the
adapter ends it with a cause of its own choosing rather than the switch guessing one.
"""

from __future__ import annotations

import math
import uuid as uuids
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from twisted.logger import Logger

from ...core.model import CallMode, CallPlan, Leg, LegEvent, LegEventKind
from ...core.ports import Cancellable, Runtime
from ...core.reasons import HangupCause
from .._timeline import Timeline, cancel_timers
from ._causes import leg_cause
from ._client import EslError
from ._prompt import prompt_apps
from ._settings import EslSettings

log = Logger()

Emit = Callable[[LegEvent], None]
Schedule = Callable[[float, str, Leg], Cancellable]
Dump = Callable[[str], Awaitable[dict[str, Any] | None]]

# How we end a leg, as the cause FreeSWITCH writes in its own CDR.
_KILL_CAUSES = {HangupCause.TIME_LIMIT: "ALLOTTED_TIMEOUT", HangupCause.CANCELLED: "ORIGINATOR_CANCEL"}


class Esl(Protocol):
    """The commands a call needs; the switch sends them on whatever connection is current."""

    async def api(self, command: str) -> str: ...

    async def bgapi(self, command: str, job_uuid: str) -> None: ...

    async def execute(self, uuid: str, app: str, arg: str, event_uuid: str) -> None: ...


def microseconds(value: object) -> datetime | None:
    """FreeSWITCH times are microseconds since the epoch as text; "0" or anything else means never."""
    if isinstance(value, str) and value.isdigit() and int(value) > 0:
        return datetime.fromtimestamp(int(value) / 1e6, UTC)
    return None


class LegState:
    __slots__ = ("answered_at", "backstop_armed", "dialled", "ended", "job_uuid", "leg", "limit", "prompt_done",
                 "prompting", "ready", "released_as", "timers", "uuid")

    def __init__(self, leg: Leg, uuid: str, limit: int) -> None:
        self.leg = leg
        self.uuid = uuid
        # Our own Job-UUID for the leg's originate; FreeSWITCH keeps only 36 characters of it, so a UUID.
        self.job_uuid = str(uuids.uuid5(uuids.UUID(uuid), "originate"))
        self.limit = limit
        self.dialled = False
        self.ended = False
        self.answered_at: datetime | None = None
        self.prompting = False  # the prompt was queued on the channel
        self.prompt_done = ""  # Application-UUID of the prompt's last application
        self.ready = False  # answered and, for leg A, past its prompt: it may be bridged
        self.backstop_armed = False
        self.released_as: HangupCause | None = None  # set when we hang the leg up ourselves
        self.timers: list[Cancellable] = []

    @property
    def live(self) -> bool:
        return self.dialled and not self.ended


class EslCall:
    """State and steps of one call; every public coroutine is one serialised step."""

    def __init__(
        self, plan: CallPlan, *, uuids: tuple[str, str], esl: Esl, settings: EslSettings, runtime: Runtime,
        emit: Emit, schedule: Schedule,
    ) -> None:
        self.plan = plan
        self.a = LegState(Leg.A, uuids[0], plan.leg_a_limit)
        self.b = LegState(Leg.B, uuids[1], plan.leg_b_limit)
        self.finished = False
        self._esl = esl
        self._settings = settings
        self._runtime = runtime
        self._timeline = Timeline(plan.call_id, runtime.now, emit)
        self._emit = self._timeline.emit
        self._clamp = self._timeline.clamp
        self._schedule = schedule
        self._bridged = False

    def leg_of(self, uuid: str) -> LegState | None:
        return self.a if uuid == self.a.uuid else self.b if uuid == self.b.uuid else None

    def other(self, leg: LegState) -> LegState:
        return self.b if leg is self.a else self.a

    # -- steps ------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Dial the first leg(s); raise EslError if the switch refuses the very first one."""
        first = self.b if self.plan.mode is CallMode.B_FIRST else self.a
        try:
            await self._originate(first)
        except EslError:
            self.finished = True
            raise
        self._emit(LegEventKind.DIALLING, first.leg)
        if self.plan.mode is CallMode.SIMULTANEOUS:
            await self._dial(self.b)

    async def handle(self, event: dict[str, Any]) -> None:
        """Fold one ESL event into the call."""
        if self.finished:
            return
        name = event.get("Event-Name")
        if name == "BACKGROUND_JOB":
            await self._job_done(event)
            return
        state = self.leg_of(event.get("Unique-ID", ""))
        if state is None or not state.live:
            return
        at = microseconds(event.get("Event-Date-Timestamp"))
        if name == "CHANNEL_ANSWER" and state.answered_at is None:
            if state.released_as is not None:  # our kill raced the channel's creation: kill it again
                await self._kill(state)
            else:
                await self._answered(state, at)
        elif name == "CHANNEL_EXECUTE_COMPLETE" and state.prompting and not state.ready:
            if event.get("Application-UUID") == state.prompt_done:
                await self._ready(state)
        elif name == "CHANNEL_BRIDGE":
            self._mark_bridged(at)
        elif name == "CHANNEL_HANGUP_COMPLETE":
            end = microseconds(event.get("variable_end_uepoch")) or at
            await self._gone(state, event.get("Hangup-Cause"), end)

    async def limit_reached(self, leg: Leg) -> None:
        """The adapter's own timer: cut the leg whose limit ran out, release its partner normally."""
        state = self.a if leg is Leg.A else self.b
        if state.live:
            await self._release(state, HangupCause.TIME_LIMIT)
            await self._release(self.other(state), None)

    async def warn(self, leg: Leg) -> None:
        """Play the warning tone so both parties (or the one still waiting) hear the call is about to end."""
        state = self.a if leg is Leg.A else self.b
        if not self.finished and state.live:
            await self._quietly(self._esl.api(
                f"uuid_broadcast {state.uuid} {self._settings.sounds.warning} {'both' if self._bridged else 'aleg'}"))

    async def set_limits(self, leg_a_limit: int, leg_b_limit: int) -> None:
        """Charging moved the limits: re-time each answered leg's timers and re-arm its sched_hangup.

        A leg still ringing takes its new limit on answer.
        """
        for state, limit in ((self.a, leg_a_limit), (self.b, leg_b_limit)):
            state.limit = limit
            if state.live and state.answered_at is not None:
                cancel_timers(state.timers)
                self._arm_limit(state)
                await self._set_backstop(state)

    async def hang_up(self) -> None:
        """The core's hangup: every live leg is released; ENDED events follow as channels hang up."""
        for state in (self.b, self.a):
            await self._release(state, None)

    async def resync(self, channels: set[str], dump: Dump) -> None:
        """Catch up with what happened while the event socket was down.

        Events sent meanwhile are lost for good: a leg that vanished ended with a cause nobody can tell
        now; an answer or a bridge is read back from the channel's own times (``uuid_dump``).
        """
        prompt_lost = self.a.prompting and not self.a.ready and self.a.live
        bridged_at: datetime | None = None
        for state in (self.a, self.b):
            if not state.live:
                continue
            info = await dump(state.uuid) if state.uuid in channels else None
            if info is None:
                await self._gone(state, None, None)
                continue
            answered = microseconds(info.get("Caller-Channel-Answered-Time"))
            bridged_at = bridged_at or microseconds(info.get("Caller-Channel-Bridged-Time"))
            if answered is not None and state.answered_at is None:
                await self._answered(state, answered)
        if self.finished:
            return
        if prompt_lost:
            await self._ready(self.a)  # its EXECUTE_COMPLETE was lost with the socket
        if bridged_at is not None and self.a.live and self.b.live:
            self._mark_bridged(bridged_at)
        elif self.a.ready and self.b.ready and not self._bridged:
            await self._bridge()  # uuid_bridge itself was lost with the socket
        for state in (self.a, self.b):
            if state.ready and state.live and not self.other(state).dialled:
                await self._dial(self.other(state))

    def detach(self) -> None:
        """Forget the call's timers: the service is stopping and the switch's backstop takes over."""
        for state in (self.a, self.b):
            cancel_timers(state.timers)

    # -- flow -------------------------------------------------------------------------------------------

    async def _originate(self, state: LegState) -> None:
        plan = self.plan
        number, caller_id = ((plan.leg_a_number, plan.leg_a_caller_id) if state.leg is Leg.A
                             else (plan.leg_b_number, plan.leg_b_caller_id))
        variables = {
            "origination_uuid": state.uuid, "origination_caller_id_number": caller_id,
            "origination_caller_id_name": caller_id, "originate_timeout": str(plan.ring_timeout),
            "ignore_early_media": "true", "park_after_bridge": "true", "hangup_after_bridge": "false",
            "roamback_service": self._settings.id_prefix, "roamback_call_id": plan.call_id,
            "roamback_leg": state.leg.value,
        }
        sound_prefix = self._settings.sound_prefixes.get(plan.prompt.language)
        if state.leg is Leg.A and sound_prefix:
            variables["sound_prefix"] = sound_prefix
        block = ",".join(f"{name}={value}" for name, value in variables.items())
        dial = self._settings.dial_string_for(number)
        await self._esl.bgapi(f"originate {{{block}}}{dial} &park()", state.job_uuid)
        state.dialled = True

    async def _dial(self, state: LegState) -> None:
        """Dial a leg after the first; a refusal is that leg's failure, reported like any other.

        Without a connection nothing was dialled: the re-sync after the reconnect dials it.
        """
        try:
            await self._originate(state)
        except EslError as exc:
            if exc.disconnected:
                return
            log.warn("FreeSWITCH refused leg {leg} of {call}: {error}", leg=state.leg, call=self.plan.call_id,
                     error=exc)
            self._emit(LegEventKind.DIALLING, state.leg)
            state.dialled, state.ended = True, True
            self._emit(LegEventKind.ENDED, state.leg, HangupCause.SWITCH_ERROR)
            await self._wind_down(state)
            return
        self._emit(LegEventKind.DIALLING, state.leg)

    async def _job_done(self, event: dict[str, Any]) -> None:
        """A failed originate says why in its job's body (``-ERR USER_BUSY``); success is CHANNEL_ANSWER's."""
        job = event.get("Job-UUID")
        state = self.a if job == self.a.job_uuid else self.b if job == self.b.job_uuid else None
        body = str(event.get("_body", "")).strip()
        if state is not None and state.live and body.startswith("-ERR"):
            await self._gone(state, body[4:].strip(), microseconds(event.get("Event-Date-Timestamp")))

    async def _answered(self, state: LegState, at: datetime | None) -> None:
        state.answered_at = self._emit(LegEventKind.ANSWERED, state.leg, at=at)
        self._arm_limit(state)
        await self._set_backstop(state)
        if state is self.a:
            apps = prompt_apps(self.plan.prompt, self._settings.sounds)
            state.prompt_done = f"{state.uuid}-prompt-{len(apps) - 1}"
            try:
                state.prompting = True
                for index, (app, arg) in enumerate(apps):
                    await self._esl.execute(state.uuid, app, arg, f"{state.uuid}-prompt-{index}")
                return  # ready when the last application completes
            except EslError as exc:
                if exc.disconnected or exc.no_such_channel:
                    return  # the re-sync finishes what is missing; or A hung up, its HANGUP_COMPLETE follows
                log.warn("Prompt for {call} failed, connecting without it: {error}", call=self.plan.call_id,
                         error=exc)
        await self._ready(state)

    async def _ready(self, state: LegState) -> None:
        state.ready = True
        other = self.other(state)
        if other.ready and other.live:
            await self._bridge()
            return
        try:
            await self._esl.execute(state.uuid, "playback", self._settings.sounds.ringback, f"{state.uuid}-ringback")
        except EslError as exc:
            if exc.no_such_channel:
                return  # it hung up meanwhile: dialling the other leg would only ring a call that is over
            if not exc.disconnected:
                log.warn("Ringback for {call} failed: {error}", call=self.plan.call_id, error=exc)
        if not other.dialled:
            await self._dial(other)

    async def _bridge(self) -> None:
        try:
            await self._esl.api(f"uuid_bridge {self.a.uuid} {self.b.uuid}")
        except EslError as exc:
            if exc.disconnected:
                return  # the re-sync reads back whether it happened
            log.warn("Could not bridge {call}: {error}", call=self.plan.call_id, error=exc)
            await self._release(self.b, None)
            await self._release(self.a, None)

    def _mark_bridged(self, at: datetime | None) -> None:
        if not self._bridged and self.a.live and self.b.live:
            self._bridged = True
            self._emit(LegEventKind.BRIDGED, None, at=at)

    async def _gone(self, state: LegState, cause: str | None, at: datetime | None) -> None:
        state.ended = True
        cancel_timers(state.timers)
        at = self._clamp(at)
        self._emit(LegEventKind.ENDED, state.leg, self._cause(state, cause, at), at=at)
        await self._wind_down(state)

    async def _wind_down(self, ended: LegState) -> None:
        """One leg is over, so the call is: release the partner, or finish if nothing is left."""
        other = self.other(ended)
        if other.live:
            await self._release(other, None)
        elif not self.finished:
            self.finished = True
            self._emit(LegEventKind.CALL_ENDED, None)

    async def _release(self, state: LegState, cause: HangupCause | None) -> None:
        if not state.live:
            return
        if state.released_as is None:
            default = HangupCause.NORMAL if state.answered_at is not None else HangupCause.CANCELLED
            state.released_as = cause or default
        await self._kill(state)

    async def _kill(self, state: LegState) -> None:
        assert state.released_as is not None
        try:
            await self._esl.api(f"uuid_kill {state.uuid} {_KILL_CAUSES.get(state.released_as, 'NORMAL_CLEARING')}")
        except EslError as exc:
            # No such channel: already gone (its HANGUP_COMPLETE is on its way) or not created yet (its
            # CHANNEL_ANSWER kills it again); no connection: the re-sync finds it.
            if not (exc.no_such_channel or exc.disconnected):
                log.warn("uuid_kill of {uuid} failed: {error}", uuid=state.uuid, error=exc)

    def _cause(self, state: LegState, name: str | None, at: datetime) -> HangupCause:
        if state.released_as is not None:
            return state.released_as
        if name is None and state.answered_at is not None:
            # The cause was lost with the socket; an answered leg that outlived its limit was cut by the
            # sched_hangup backstop.
            over = at - state.answered_at >= timedelta(seconds=state.limit)
            return HangupCause.TIME_LIMIT if over else HangupCause.NORMAL
        return leg_cause(name, answered=state.answered_at is not None)

    # -- helpers ----------------------------------------------------------------------------------------

    def _arm_limit(self, state: LegState) -> None:
        """The adapter's timers for an answered leg: the warning tone, then the cut at its limit."""
        remaining = self._remaining(state)
        warning = self._settings.warning_seconds
        state.timers.append(self._schedule(remaining, "limit_reached", state.leg))
        if 0 < warning < remaining:
            state.timers.append(self._schedule(remaining - warning, "warn", state.leg))

    async def _set_backstop(self, state: LegState) -> None:
        """sched_hangup still fires if this process dies: the switch-side backstop of the limit.

        FreeSWITCH keeps every scheduled hangup (they do not replace each other), so a re-arm first
        deletes the channel's group of tasks; the scheduler counts whole seconds, so round up.
        """
        seconds = max(1, math.ceil(self._remaining(state) + self._settings.backstop_seconds))
        if state.backstop_armed:
            await self._quietly(self._esl.api(f"sched_del {state.uuid}"))
        await self._quietly(self._esl.api(f"sched_hangup +{seconds} {state.uuid} ALLOTTED_TIMEOUT"))
        state.backstop_armed = True

    def _remaining(self, state: LegState) -> float:
        assert state.answered_at is not None
        elapsed = max(0.0, (self._runtime.now() - state.answered_at).total_seconds())
        return max(0.0, state.limit - elapsed)

    async def _quietly(self, request: Awaitable[Any]) -> None:
        """A cosmetic or best-effort command whose failure must not stop the call flow (logged)."""
        try:
            await request
        except EslError as exc:
            if not (exc.no_such_channel or exc.disconnected):
                log.warn("ESL command for {call} failed: {error}", call=self.plan.call_id, error=exc)
