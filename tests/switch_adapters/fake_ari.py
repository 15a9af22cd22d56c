"""A strict fake Asterisk ARI: the REST resources and events the callback flow uses, and nothing lenient.

It follows the behaviour noted in shared/notes/protocols.md (checked against a real Asterisk 22): an
originated channel reports ``Dial`` events (RINGING, then ANSWER/BUSY/NOANSWER/CHANUNAVAIL/CONGESTION),
enters Stasis on answer (``StasisStart``) or is destroyed before it with a Q.850 cause; a Local channel is
destroyed with cause 0 so only its Dial status tells; a hung-up Stasis channel leaves its bridge, ends
Stasis, then is destroyed. It refuses what Asterisk refuses: unknown channel or bridge (404), a missing or
malformed parameter (400), a channel outside Stasis (409/422), a duplicate id (409), originating into an
application that never registered (400), a request without valid credentials (401).

Inbound calls (the switch-side triggers) arrive as ARI documents them: ``incoming_call`` puts a ringing
channel (state Ring, caller ID, dialled EXTEN) into the application with ``StasisStart``; it is answered
only by ``POST /channels/{id}/answer``; DTMF is heard only on an answered channel and reported one
``ChannelDtmfReceived`` per digit; ``DELETE /channels/{id}`` takes ``reason`` or ``reason_code`` (the Q.850
cause), never both.

Time comes from the injected runtime (the same one the adapter under test uses), so a scaled
``TwistedRuntime`` shortens rings, prompts and TIMEOUT(absolute) alike. The HTTP/WebSocket plumbing lives
in ``fake_ari_web``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from roamback.core.ports import Cancellable, Runtime

HANGUP_REASONS = {"normal": 16, "busy": 17, "congestion": 34, "no_answer": 19, "timeout": 19, "rejected": 21,
                  "unallocated": 1, "normal_unspecified": 31, "number_incomplete": 28, "codec_mismatch": 58,
                  "interworking": 127, "failure": 41, "answered_elsewhere": 26}
BRIDGE_TYPES = {"mixing", "holding", "dtmf_events", "proxy_media", "video_sfu", "video_single"}
MEDIA_SCHEMES = {"sound", "number", "digits", "characters", "tone", "recording"}
# outcome -> (Dial status, Q.850 cause of ChannelDestroyed) for a leg that does not answer.
FAILURES = {"busy": ("BUSY", 17), "no_answer": ("NOANSWER", 19), "unallocated": ("CHANUNAVAIL", 1),
            "rejected": ("CONGESTION", 21)}


class FakeAriError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Outcome:
    """What the network does with a dialled number: ``result`` after ``ring_seconds`` of ringing; an
    answered party hangs up by itself after ``talk_seconds`` (None: never)."""

    result: str = "answer"
    ring_seconds: float = 1.0
    talk_seconds: float | None = None


@dataclass
class FakeChannel:
    id: str
    name: str
    number: str
    caller_id: str
    app: str
    args: list[str]
    local: bool
    created: str
    inbound: bool = False
    state: str = "Down"
    in_stasis: bool = False
    ringing: bool = False
    bridge: str | None = None
    dial_status: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    timers: dict[str, Cancellable] = field(default_factory=dict)

    def json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "state": self.state,
                "caller": {"name": "", "number": self.caller_id}, "connected": {"name": "", "number": ""},
                "accountcode": "", "creationtime": self.created, "language": "en",
                "dialplan": {"context": "default", "exten": self.number, "priority": 1,
                             "app_name": "Stasis" if self.in_stasis else "", "app_data": self.app}}


class FakeAri:
    """The switch's state and behaviour; ``FakeAriServer`` (fake_ari_web) puts it on loopback."""

    def __init__(self, runtime: Runtime, *, username: str = "roamback", password: str = "secret",
                 prompt_seconds: float = 2.0) -> None:
        self.runtime = runtime
        self.credentials = (username, password)
        self.prompt_seconds = prompt_seconds
        self.outcomes: dict[str, Outcome] = {}
        self.default_outcome = Outcome()
        self.apps: set[str] = set()  # registered once a WebSocket opened; stay registered after it drops
        self.channels: dict[str, FakeChannel] = {}
        self.bridges: dict[str, list[str]] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.sent: list[dict[str, Any]] = []  # every event, delivered or not (socket down)
        self.destroyed: dict[str, int] = {}  # channel id -> cause
        self.broadcast: Callable[[str, dict[str, Any]], None] = lambda app, event: None
        self._playbacks: dict[str, Cancellable] = {}
        self._inbound_seq = 0

    # -- controls for tests ---------------------------------------------------------------------------

    def far_hangup(self, channel_id: str, cause: int = 16) -> None:
        """The party on ``channel_id`` hangs up."""
        self._destroy(self.channels[channel_id], cause)

    def incoming_call(self, caller_id: str, exten: str, *, app: str = "roamback", args: tuple[str, ...] = ()) -> str:
        """A call from ``caller_id`` to ``exten`` reaches ``Stasis(app[,args])`` in the dialplan, unanswered;
        returns its channel id (Asterisk's uniqueid form)."""
        assert app in self.apps, f"Stasis({app}) fails: the application is not registered"
        self._inbound_seq += 1
        channel = FakeChannel(
            id=f"1700000000.{self._inbound_seq}", name=f"PJSIP/trunk-{self._inbound_seq:08x}", number=exten,
            caller_id=caller_id, app=app, args=list(args), local=False, created=self._timestamp(), inbound=True,
            state="Ring", in_stasis=True,
        )
        self.channels[channel.id] = channel
        self._event("StasisStart", channel, args=channel.args)
        return channel.id

    def press(self, channel_id: str, digits: str, *, gap: float = 0.0) -> None:
        """The caller keys ``digits``, ``gap`` seconds apart; DTMF needs media, so the call must be answered."""
        channel = self.channels[channel_id]
        assert channel.state == "Up", "no DTMF on a call that was never answered"
        for index, digit in enumerate(digits):
            self.runtime.call_later(gap * index, self._dtmf, channel, digit)

    def _dtmf(self, channel: FakeChannel, digit: str) -> None:
        if self.channels.get(channel.id) is channel:
            self._event("ChannelDtmfReceived", channel, digit=digit, duration_ms=120)

    # -- REST -----------------------------------------------------------------------------------------

    def handle(self, method: str, parts: list[str], params: dict[str, str]) -> Any:
        """Route ``/ari/<parts>``; raise FakeAriError for anything a real Asterisk refuses."""
        self.requests.append((method, "/".join(parts), params))
        routes: dict[tuple[str, str, int], Callable[..., Any]] = {
            ("GET", "channels", 1): lambda: [c.json() for c in self.channels.values()],
            ("POST", "channels", 2): lambda: self._originate(parts[1], params),
            ("DELETE", "channels", 2): lambda: self._hangup(parts[1], params),
            ("POST", "channels", 4): lambda: self._play_channel(parts[1], parts[2], parts[3], params),
            ("POST", "channels", 3): lambda: self._channel_post(parts[1], parts[2], params),
            ("DELETE", "channels", 3): lambda: self._ring_stop(parts[1], parts[2]),
            ("GET", "bridges", 1): lambda: [self._bridge_json(b) for b in self.bridges],
            ("POST", "bridges", 2): lambda: self._create_bridge(parts[1], params),
            ("DELETE", "bridges", 2): lambda: self._delete_bridge(parts[1]),
            ("POST", "bridges", 3): lambda: self._add_channel(parts[1], parts[2], params),
            ("POST", "bridges", 4): lambda: self._play_bridge(parts[1], parts[2], parts[3], params),
        }
        route = routes.get((method, parts[0] if parts else "", len(parts)))
        if route is None:
            raise FakeAriError(404, "Resource not found")
        return route()

    def _channel(self, channel_id: str, *, stasis: bool = False, status: int = 409) -> FakeChannel:
        channel = self.channels.get(channel_id)
        if channel is None:
            raise FakeAriError(404, "Channel not found")
        if stasis and not channel.in_stasis:
            raise FakeAriError(status, "Channel not in Stasis application")
        return channel

    def _originate(self, channel_id: str, params: dict[str, str]) -> dict[str, Any]:
        endpoint = params.get("endpoint", "")
        tech, _, resource = endpoint.partition("/")
        if not tech or not resource:
            raise FakeAriError(400, "Endpoint parameter must be in the format Technology/Resource")
        app = params.get("app")
        if not app:
            raise FakeAriError(400, "Application or extension must be specified")
        if app not in self.apps:
            raise FakeAriError(400, f"Stasis application {app} is not registered")
        if channel_id in self.channels:
            raise FakeAriError(409, "Channel with given unique ID already exists")
        try:
            timeout = int(params.get("timeout", "30"))
        except ValueError as exc:
            raise FakeAriError(400, "timeout must be an integer") from exc
        number = resource.split("@")[0]
        channel = FakeChannel(
            id=channel_id, name=f"{tech}/{resource}-{len(self.requests):08x}", number=number,
            caller_id=params.get("callerId", ""), app=app, args=params.get("appArgs", "").split(","),
            local=tech == "Local", created=self._timestamp(),
        )
        self.channels[channel_id] = channel
        outcome = self.outcomes.get(number, self.default_outcome)
        channel.timers["ring"] = self.runtime.call_later(0, self._ringing, channel, outcome, timeout)
        return channel.json()

    def _ringing(self, channel: FakeChannel, outcome: Outcome, timeout: int) -> None:
        self._dial(channel, "")
        if outcome.result == "unallocated":  # refused at once, it never rings
            channel.timers["ring"] = self.runtime.call_later(0.1, self._ring_over, channel, outcome)
            return
        channel.state = "Ringing"
        self._event("ChannelStateChange", channel)
        self._dial(channel, "RINGING")
        if outcome.ring_seconds >= timeout or outcome.result == "no_answer":
            outcome = Outcome("no_answer")
            channel.timers["ring"] = self.runtime.call_later(timeout, self._ring_over, channel, outcome)
        else:
            channel.timers["ring"] = self.runtime.call_later(outcome.ring_seconds, self._ring_over, channel, outcome)

    def _ring_over(self, channel: FakeChannel, outcome: Outcome) -> None:
        channel.timers.pop("ring", None)
        if outcome.result != "answer":
            status, cause = FAILURES[outcome.result]
            self._dial(channel, status)
            self._destroy(channel, 0 if channel.local else cause)
            return
        self._dial(channel, "ANSWER")
        channel.state = "Up"
        self._event("ChannelStateChange", channel)
        channel.in_stasis = True
        self._event("StasisStart", channel, args=channel.args)
        if outcome.talk_seconds is not None:
            channel.timers["talk"] = self.runtime.call_later(outcome.talk_seconds, self.far_hangup, channel.id)

    def _dial(self, channel: FakeChannel, status: str) -> None:
        channel.dial_status = status or channel.dial_status
        self.send(channel.app, {"type": "Dial", "peer": channel.json(), "dialstatus": status,
                                "dialstring": channel.name.split("/", 1)[1].rsplit("-", 1)[0]})

    def _hangup(self, channel_id: str, params: dict[str, str]) -> None:
        channel = self._channel(channel_id)
        if "reason" in params and "reason_code" in params:
            raise FakeAriError(400, "Invalid reason for hangup provided")  # mutually exclusive
        if "reason_code" in params:
            if not params["reason_code"].isdigit():
                raise FakeAriError(400, "Invalid reason for hangup provided")
            cause = int(params["reason_code"])
        else:
            reason = params.get("reason", "normal")
            if reason not in HANGUP_REASONS:
                raise FakeAriError(400, "Invalid reason for hangup provided")
            cause = HANGUP_REASONS[reason]
        if channel.state != "Up" and not channel.inbound:  # Dial events belong to channels we dialled
            self._dial(channel, "CANCEL")
        self._destroy(channel, cause)

    def _channel_post(self, channel_id: str, action: str, params: dict[str, str]) -> None:
        if action == "answer":
            self._answer(self._channel(channel_id, stasis=True))
        elif action == "ring":
            self._channel(channel_id, stasis=True).ringing = True
        elif action == "variable":
            variable = params.get("variable")
            if not variable:
                raise FakeAriError(400, "Variable name is required")
            channel = self._channel(channel_id)
            channel.variables[variable] = params.get("value", "")
            if variable == "TIMEOUT(absolute)":
                self._set_absolute_timeout(channel, params.get("value", ""))
        else:
            raise FakeAriError(404, "Resource not found")

    def _answer(self, channel: FakeChannel) -> None:
        if channel.state != "Up":  # answering an answered channel is a no-op, as ast_answer is
            channel.state = "Up"
            self._event("ChannelStateChange", channel)

    def _set_absolute_timeout(self, channel: FakeChannel, value: str) -> None:
        try:
            seconds = float(value)
        except ValueError as exc:
            raise FakeAriError(400, "TIMEOUT(absolute) needs a number of seconds") from exc
        old = channel.timers.pop("absolute", None)
        if old is not None:
            old.cancel()
        if seconds > 0:  # 0 clears the timeout, as in the dialplan function
            channel.timers["absolute"] = self.runtime.call_later(seconds, self._destroy, channel, 16)

    def _ring_stop(self, channel_id: str, action: str) -> None:
        if action != "ring":
            raise FakeAriError(404, "Resource not found")
        self._channel(channel_id, stasis=True).ringing = False

    def _play_channel(self, channel_id: str, play: str, playback_id: str, params: dict[str, str]) -> None:
        if play != "play":
            raise FakeAriError(404, "Resource not found")
        channel = self._channel(channel_id, stasis=True)
        self._playback(playback_id, f"channel:{channel.id}", channel.app, params)

    def _playback(self, playback_id: str, target: str, app: str, params: dict[str, str]) -> None:
        media = [m for m in params.get("media", "").split(",") if m]
        if not media:
            raise FakeAriError(400, "media parameter is required")
        if any(m.partition(":")[0] not in MEDIA_SCHEMES or not m.partition(":")[2] for m in media):
            raise FakeAriError(400, "Invalid media URI")
        if playback_id in self._playbacks:
            raise FakeAriError(409, "A playback with this id already exists")
        playback = {"id": playback_id, "media_uri": media[0], "target_uri": target,
                    "language": params.get("lang", "en")}
        self.send(app, {"type": "PlaybackStarted", "playback": {**playback, "state": "playing"}})
        self._playbacks[playback_id] = self.runtime.call_later(
            self.prompt_seconds, self._playback_done, playback_id, app, playback)

    def _playback_done(self, playback_id: str, app: str, playback: dict[str, Any]) -> None:
        self._playbacks.pop(playback_id, None)
        self.send(app, {"type": "PlaybackFinished", "playback": {**playback, "state": "done"}})

    # -- bridges --------------------------------------------------------------------------------------

    def _bridge_json(self, bridge_id: str) -> dict[str, Any]:
        return {"id": bridge_id, "technology": "simple_bridge", "bridge_type": "mixing", "bridge_class": "stasis",
                "creator": "Stasis", "name": "", "channels": list(self.bridges[bridge_id])}

    def _create_bridge(self, bridge_id: str, params: dict[str, str]) -> dict[str, Any]:
        if not set(params.get("type", "mixing").split(",")) <= BRIDGE_TYPES:
            raise FakeAriError(400, "Invalid bridge type")
        self.bridges.setdefault(bridge_id, [])
        return self._bridge_json(bridge_id)

    def _delete_bridge(self, bridge_id: str) -> None:
        if bridge_id not in self.bridges:
            raise FakeAriError(404, "Bridge not found")
        for channel_id in list(self.bridges[bridge_id]):
            self._leave_bridge(self.channels[channel_id])
        del self.bridges[bridge_id]

    def _add_channel(self, bridge_id: str, action: str, params: dict[str, str]) -> None:
        if action != "addChannel":
            raise FakeAriError(404, "Resource not found")
        if "channel" not in params:
            raise FakeAriError(400, "channel parameter is required")
        if bridge_id not in self.bridges:
            raise FakeAriError(404, "Bridge not found")
        channel = self.channels.get(params["channel"])
        if channel is None:
            raise FakeAriError(400, "Channel not found")
        if not channel.in_stasis:
            raise FakeAriError(422, "Channel not in Stasis application")
        if channel.bridge == bridge_id:
            return
        if channel.bridge is not None:
            self._leave_bridge(channel)
        channel.bridge = bridge_id
        self.bridges[bridge_id].append(channel.id)
        self._event("ChannelEnteredBridge", channel, bridge=self._bridge_json(bridge_id))

    def _play_bridge(self, bridge_id: str, play: str, playback_id: str, params: dict[str, str]) -> None:
        if play != "play":
            raise FakeAriError(404, "Resource not found")
        if bridge_id not in self.bridges:
            raise FakeAriError(404, "Bridge not found")
        apps = {self.channels[c].app for c in self.bridges[bridge_id]}
        self._playback(playback_id, f"bridge:{bridge_id}", next(iter(apps), ""), params)

    # -- channel end ----------------------------------------------------------------------------------

    def _leave_bridge(self, channel: FakeChannel) -> None:
        bridge_id, channel.bridge = channel.bridge, None
        if bridge_id is not None:
            self.bridges[bridge_id].remove(channel.id)
            self._event("ChannelLeftBridge", channel, bridge=self._bridge_json(bridge_id))

    def _destroy(self, channel: FakeChannel, cause: int) -> None:
        if self.channels.get(channel.id) is not channel:
            return
        for timer in channel.timers.values():
            if timer.active():  # type: ignore[attr-defined]
                timer.cancel()
        del self.channels[channel.id]
        self._leave_bridge(channel)
        if channel.in_stasis:
            self._event("StasisEnd", channel)
        self.destroyed[channel.id] = cause
        self._event("ChannelDestroyed", channel, cause=cause, cause_txt=f"Q.850 {cause}")

    # -- events ---------------------------------------------------------------------------------------

    def _timestamp(self) -> str:
        return self.runtime.now().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"

    def _event(self, kind: str, channel: FakeChannel, **fields: Any) -> None:
        self.send(channel.app, {"type": kind, "channel": channel.json(), **fields})

    def send(self, app: str, event: dict[str, Any]) -> None:
        event = {**event, "application": app, "timestamp": self._timestamp(), "asterisk_id": "fa:ke"}
        self.sent.append(event)
        self.broadcast(app, event)
