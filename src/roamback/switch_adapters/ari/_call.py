"""One callback on Asterisk, driven by ARI events: dial, prompt, ringback, bridge, limit, clean-up.

The switch feeds each call its events, timers and commands strictly one at a time (``_serial.Serial``),
so a handler that awaits a REST answer never sees the call change under it. Times reported to the core
come from the events' own timestamps: leg A's answer is its StasisStart, leg B's is B's StasisStart, so
the prompt leg A hears is never counted as B's talk time, whatever Asterisk's CDR says.

The leg that answers first joins the mixing bridge and hears ringback while the other is dialled (or,
in simultaneous mode, still rings); leg A always hears the prompt before it joins.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any

from twisted.logger import Logger

from ...core.model import CallMode, CallPlan, Leg, LegEvent, LegEventKind
from ...core.ports import Cancellable, Runtime
from ...core.reasons import HangupCause
from .._timeline import Timeline, cancel_timers
from ._causes import unanswered_cause
from ._prompt import prompt_media
from ._rest import AriError, AriRest
from ._settings import AriSettings

log = Logger()

Emit = Callable[[LegEvent], None]
Schedule = Callable[[float, str, Leg], Cancellable]
Step = Callable[..., Coroutine[Any, Any, None]]


def parse_timestamp(value: object) -> datetime | None:
    """Asterisk writes ``2024-05-01T10:00:00.123+0000``; anything else is treated as absent.

    ``fromisoformat`` reads that format several times faster than ``strptime``; the checks keep out
    what it would accept beyond it (no fraction, no zone, other separators), so the same values pass.
    """
    if not isinstance(value, str) or value[10:11] != "T" or value[19:20] != ".":
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return at if at.tzinfo is not None else None


class LegState:
    __slots__ = ("answered_at", "channel_id", "dial_status", "dialled", "ended", "in_bridge", "joined", "leg", "limit",
                 "released_as", "timers")

    def __init__(self, leg: Leg, channel_id: str, limit: int) -> None:
        self.leg = leg
        self.channel_id = channel_id
        self.limit = limit
        self.dialled = False
        self.ended = False
        self.joined = False  # addChannel done (it may not have entered the bridge yet)
        self.in_bridge = False  # ChannelEnteredBridge seen
        self.answered_at: datetime | None = None
        self.dial_status: str | None = None
        self.released_as: HangupCause | None = None  # set when we hang the leg up ourselves
        self.timers: list[Cancellable] = []

    @property
    def live(self) -> bool:
        return self.dialled and not self.ended


class AriCall:
    """State and steps of one call; every public coroutine is one serialised step."""

    def __init__(
        self, plan: CallPlan, *, prefix: str, rest: AriRest, settings: AriSettings, runtime: Runtime,
        emit: Emit, schedule: Schedule,
    ) -> None:
        self.plan = plan
        base = self._base = f"{prefix}{plan.call_id}"
        self.bridge_id = f"{base}-bridge"
        self.prompt_id = f"{base}-prompt"
        self.a = LegState(Leg.A, f"{base}-a", plan.leg_a_limit)
        self.b = LegState(Leg.B, f"{base}-b", plan.leg_b_limit)
        self.finished = False
        self._rest = rest
        self._settings = settings
        self._runtime = runtime
        self._timeline = Timeline(plan.call_id, runtime.now, emit)
        self._emit = self._timeline.emit
        self._clamp = self._timeline.clamp
        self._schedule = schedule
        self._bridged = False

    def leg_of(self, channel_id: str) -> LegState | None:
        return self.a if channel_id == self.a.channel_id else self.b if channel_id == self.b.channel_id else None

    def other(self, leg: LegState) -> LegState:
        return self.b if leg is self.a else self.a

    # -- steps ------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Create the bridge and dial the first leg(s); raise if the switch refuses the very first one."""
        await self._rest.create_bridge(self.bridge_id)
        first = self.b if self.plan.mode is CallMode.B_FIRST else self.a
        try:
            await self._originate(first)
        except AriError:
            await self._quietly(self._rest.delete_bridge(self.bridge_id))
            self.finished = True
            raise
        self._emit(LegEventKind.DIALLING, first.leg)
        if self.plan.mode is CallMode.SIMULTANEOUS:
            await self._dial(self.b)

    def react(self, message: dict[str, Any]) -> tuple[Step, tuple[Any, ...]] | None:
        """Fold one ARI event into the call as far as no REST request is needed; return the step that
        needs one, if any, for the caller to serialise.

        Most events change nothing or only note a dial status: done here, they cost no serialised step.
        The caller must only call this when the call's serial is idle, or from within a step.
        """
        if self.finished:
            return None
        kind = message.get("type")
        if kind == "PlaybackFinished":
            if message.get("playback", {}).get("id") == self.prompt_id and self.a.live and not self.a.joined:
                return self._join, (self.a,)
            return None
        channel = message.get("peer" if kind == "Dial" else "channel") or {}
        leg = self.leg_of(channel.get("id", ""))
        if leg is None or not leg.live:
            return None
        if kind == "Dial":
            if message.get("dialstatus"):
                leg.dial_status = message["dialstatus"]
        elif kind == "StasisStart":
            if leg.answered_at is None:
                return self._answered, (leg, parse_timestamp(message.get("timestamp")))
        elif kind == "ChannelEnteredBridge":
            if message.get("bridge", {}).get("id") == self.bridge_id:
                return self._entered_bridge, (leg, parse_timestamp(message.get("timestamp")))
        elif kind == "ChannelDestroyed":
            return self._gone, (leg, int(message.get("cause") or 0), parse_timestamp(message.get("timestamp")))
        return None

    async def handle(self, message: dict[str, Any]) -> None:
        """Fold one ARI event into the call: the serialised form of ``react``."""
        step = self.react(message)
        if step is not None:
            await step[0](*step[1])

    async def limit_reached(self, leg: Leg) -> None:
        """The adapter's own timer: cut the leg whose limit ran out, release its partner normally."""
        state = self.a if leg is Leg.A else self.b
        if state.live:
            await self._release(state, HangupCause.TIME_LIMIT)
            await self._release(self.other(state), None)

    async def warn(self, leg: Leg) -> None:
        """Play the warning tone into the bridge so both parties hear the call is about to end."""
        if not self.finished and (self.a if leg is Leg.A else self.b).live:
            media = [f"sound:{self._settings.sounds.warning}"]
            await self._quietly(self._rest.play_bridge(self.bridge_id, f"{self._base}-warn{leg.lower()}", media))

    async def set_limits(self, leg_a_limit: int, leg_b_limit: int) -> None:
        """Charging moved the limits: re-time each answered leg's timers and its TIMEOUT(absolute) backstop.

        A leg still ringing takes its new limit on answer, and a leg not yet in the bridge when it enters.
        """
        for state, limit in ((self.a, leg_a_limit), (self.b, leg_b_limit)):
            state.limit = limit
            if not state.live or state.answered_at is None:
                continue
            cancel_timers(state.timers)
            self._arm_limit(state)
            if state.in_bridge:
                await self._set_backstop(state, self._runtime.now())

    async def hang_up(self) -> None:
        """The core's hangup: every live leg is released; ENDED events follow as channels are destroyed."""
        for state in (self.b, self.a):
            await self._release(state, None)

    async def resync(self, channels: dict[str, dict[str, Any]], bridges: dict[str, dict[str, Any]]) -> None:
        """Catch up with what happened while the event socket was down."""
        for state in (self.a, self.b):
            if not state.live:
                continue
            channel = channels.get(state.channel_id)
            if channel is None:  # destroyed meanwhile: its cause is lost, its dial status may be known
                await self._gone(state, 0, None)
            elif channel.get("state") == "Up" and state.answered_at is None:
                await self._answered(state, None)
        if self.finished:
            return
        members = set(bridges.get(self.bridge_id, {}).get("channels", ()))
        for state in (self.a, self.b):
            if state.channel_id in members and state.answered_at is not None:
                await self._entered_bridge(state, None)
        if self.a.answered_at is not None and self.a.live and not self.a.joined:
            await self._join(self.a)  # PlaybackFinished was lost with the socket

    def detach(self) -> None:
        """Forget the call's timers: the service is stopping and the switch's backstop takes over."""
        for state in (self.a, self.b):
            cancel_timers(state.timers)

    # -- flow -------------------------------------------------------------------------------------------

    async def _originate(self, state: LegState) -> None:
        number, caller_id = (
            (self.plan.leg_a_number, self.plan.leg_a_caller_id) if state.leg is Leg.A
            else (self.plan.leg_b_number, self.plan.leg_b_caller_id))
        other = self.other(state)
        await self._rest.originate(
            channel_id=state.channel_id, endpoint=self._settings.endpoint_for(number), app=self._settings.app,
            app_args=f"{self.plan.call_id},{state.leg.value}", caller_id=caller_id,
            timeout=self.plan.ring_timeout, originator=other.channel_id if other.live else None,
        )
        state.dialled = True

    async def _dial(self, state: LegState) -> None:
        """Dial a leg after the first; a refusal is that leg's failure, reported like any other."""
        try:
            await self._originate(state)
        except AriError as exc:
            log.warn("ARI refused leg {leg} of {call}: {error}", leg=state.leg, call=self.plan.call_id, error=exc)
            self._emit(LegEventKind.DIALLING, state.leg)
            state.dialled, state.ended = True, True
            self._emit(LegEventKind.ENDED, state.leg, HangupCause.SWITCH_ERROR)
            await self._wind_down(state)
            return
        self._emit(LegEventKind.DIALLING, state.leg)

    async def _answered(self, state: LegState, at: datetime | None) -> None:
        state.answered_at = self._emit(LegEventKind.ANSWERED, state.leg, at=at)
        self._arm_limit(state)
        if state is self.a:
            media = prompt_media(self.plan.prompt, self._settings.sounds)
            try:
                await self._rest.play(state.channel_id, self.prompt_id, media, self.plan.prompt.language)
                return  # joins the bridge on PlaybackFinished
            except AriError as exc:
                log.warn("Prompt for {call} failed, connecting without it: {error}", call=self.plan.call_id,
                         error=exc)
        await self._join(state)

    async def _join(self, state: LegState) -> None:
        other = self.other(state)
        if other.joined and other.live:
            await self._quietly(self._rest.ring_stop(other.channel_id))
        try:
            await self._rest.add_channel(self.bridge_id, state.channel_id)
        except AriError as exc:
            if exc.status != 404:
                log.warn("Could not bridge {call}: {error}", call=self.plan.call_id, error=exc)
            await self._release(state, None)  # gone, or unbridgeable: the call cannot go on
            return
        state.joined = True
        if other.answered_at is None:
            await self._quietly(self._rest.ring(state.channel_id))
            if not other.dialled:
                await self._dial(other)

    async def _entered_bridge(self, state: LegState, at: datetime | None) -> None:
        if state.answered_at is None:
            return
        await self._set_backstop(state, at or self._runtime.now())
        other = self.other(state)
        state.joined = state.in_bridge = True
        if not self._bridged and other.in_bridge and other.live:
            self._bridged = True
            self._emit(LegEventKind.BRIDGED, None, at=at)

    async def _gone(self, state: LegState, q850: int, at: datetime | None) -> None:
        state.ended = True
        cancel_timers(state.timers)
        at = self._clamp(at)
        self._emit(LegEventKind.ENDED, state.leg, self._cause(state, q850, at), at=at)
        await self._wind_down(state)

    async def _wind_down(self, ended: LegState) -> None:
        """One leg is over, so the call is: release the partner, or finish if nothing is left."""
        other = self.other(ended)
        if other.live:
            await self._release(other, None)
        elif not self.finished:
            self.finished = True
            # Bridge first, so that CALL_ENDED means the switch holds nothing more of this call.
            await self._quietly(self._rest.delete_bridge(self.bridge_id))
            self._emit(LegEventKind.CALL_ENDED, None)

    async def _release(self, state: LegState, cause: HangupCause | None) -> None:
        if not state.live:
            return
        if state.released_as is None:
            default = HangupCause.NORMAL if state.answered_at is not None else HangupCause.CANCELLED
            state.released_as = cause or default
        try:
            await self._rest.hangup(state.channel_id)
        except AriError as exc:
            if exc.status != 404:  # 404: already destroyed, its ChannelDestroyed is on its way
                log.warn("Hangup of {channel} failed: {error}", channel=state.channel_id, error=exc)

    def _cause(self, state: LegState, q850: int, at: datetime) -> HangupCause:
        if state.released_as is not None:
            return state.released_as
        if state.answered_at is None:
            return unanswered_cause(q850, state.dial_status)
        # An answered leg that outlived its limit was cut by the switch's TIMEOUT(absolute) backstop.
        over = at - state.answered_at >= timedelta(seconds=state.limit)
        return HangupCause.TIME_LIMIT if over else HangupCause.NORMAL

    # -- helpers ----------------------------------------------------------------------------------------

    def _arm_limit(self, state: LegState) -> None:
        """The adapter's timers for an answered leg: the warning tone, then the cut at its limit."""
        assert state.answered_at is not None
        elapsed = max(0.0, (self._runtime.now() - state.answered_at).total_seconds())
        remaining = max(0.0, state.limit - elapsed)
        warning = self._settings.warning_seconds
        state.timers.append(self._schedule(remaining, "limit_reached", state.leg))
        if 0 < warning < remaining:
            state.timers.append(self._schedule(remaining - warning, "warn", state.leg))

    async def _set_backstop(self, state: LegState, at: datetime) -> None:
        """TIMEOUT(absolute) still fires if this process dies: the switch-side backstop of the limit."""
        assert state.answered_at is not None
        elapsed = (at - state.answered_at).total_seconds()
        remaining = max(0.0, state.limit - elapsed) + self._settings.backstop_seconds
        await self._quietly(self._rest.set_variable(state.channel_id, "TIMEOUT(absolute)", f"{remaining:.1f}"))

    async def _quietly(self, request: Any) -> None:
        """A clean-up or cosmetic request whose failure must not stop the call flow (logged)."""
        try:
            await request
        except AriError as exc:
            if exc.status != 404:
                log.warn("ARI request for {call} failed: {error}", call=self.plan.call_id, error=exc)
