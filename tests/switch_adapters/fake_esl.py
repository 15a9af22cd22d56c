"""A FAKE FreeSWITCH event socket (mod_event_socket, inbound mode) for tests: not FreeSWITCH, strict.

Wire behaviour follows mod_event_socket.c and mod_commands.c (signalwire/freeswitch) as read for this
fake: ``Content-Type: auth/request`` on connect; ``auth <password>`` -> ``command/reply`` ``+OK accepted``,
or ``-ERR invalid`` then a ``text/disconnect-notice`` and close; any other command before auth ->
``-ERR command not found`` (what the source does; it is not ``-ERR invalid``); ``api`` ->
``api/response`` with Content-Length; ``bgapi`` -> ``+OK Job-UUID: <id>`` (the client's Job-UUID header
if given, cut to 36 characters as FreeSWITCH's buffer does) then a BACKGROUND_JOB event whose ``_body``
is the command's output; unknown command -> ``-ERR command not found``; unknown api ->
``-ERR <name> Command not found!``; events as ``text/event-json`` with Content-Length, only those
subscribed; commands handled strictly one at a time per connection, as FreeSWITCH's listener thread does.
Command outputs copy FreeSWITCH's texts: ``uuid_kill`` ``+OK``/``-ERR No Such Channel!``, ``uuid_bridge``
``+OK <uuid>``/``-ERR Invalid uuid``, ``uuid_broadcast`` always ``+OK Message Sent``, ``sched_hangup``
(whole seconds, ALLOTTED_TIMEOUT by default, tasks grouped by channel UUID and never replacing each
other), ``sched_del`` ``+OK Deleted: <n>``, ``show channels as json`` (``{"row_count":0}`` when empty),
``uuid_dump <uuid> json``, ``sendmsg`` ``-ERR invalid session id [<uuid>]``.

Fidelity limits (what the fake does not model, or models by assumption):
- One listener model: only the JSON event format (``event plain|xml`` is refused, labelled as the fake's).
- Calls: ``originate {vars}<tech>/<resource> &park()`` only (no dialplan extensions, no ``api originate``
  blocking semantics beyond serialising the listener); per-number outcomes replace a real network. A
  failed originate fires CHANNEL_HANGUP_COMPLETE before its BACKGROUND_JOB (real FreeSWITCH may race
  them); ``gateway_down`` creates no channel at all, only ``-ERR GATEWAY_DOWN``.
- Applications: ``playback`` and ``say`` take ``app_seconds`` each (``loops=-1``: until interrupted);
  media is not played. On ``uuid_bridge`` the running application completes and queued ones are dropped.
- A leg whose bridged partner hangs up stays parked when ``park_after_bridge=true``; otherwise the fake
  hangs it up with NORMAL_CLEARING (an assumption: FreeSWITCH's behaviour depends on more variables).
- Scheduled hangups of a channel that is gone are cancelled (FreeSWITCH runs them and finds no session).
- ``show channels`` columns are a subset; ``uuid_dump`` carries the fields and variables the fake knows.
Things FreeSWITCH would silently accept but that are certainly a client bug (an unknown hangup cause, an
unknown application, bridging an unanswered leg...) are recorded in ``violations``; tests assert it empty.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest_twisted
from twisted.internet import endpoints, protocol, task
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IListeningPort

from roamback.core.model import CallMode, CallPlan, Leg, LegEvent, LegEventKind, Prompt
from roamback.core.ports import Cancellable, Runtime
from roamback.runtime import TwistedRuntime
from roamback.switch_adapters.esl import EslRoute, EslSettings, EslSwitch

Q850 = {"NORMAL_CLEARING": 16, "USER_BUSY": 17, "NO_USER_RESPONSE": 18, "NO_ANSWER": 19, "CALL_REJECTED": 21,
        "UNALLOCATED_NUMBER": 1, "DESTINATION_OUT_OF_ORDER": 27, "NORMAL_TEMPORARY_FAILURE": 41,
        "ORIGINATOR_CANCEL": 487, "ALLOTTED_TIMEOUT": 602, "GATEWAY_DOWN": 609, "NORMAL_UNSPECIFIED": 31}
FAILURES = {"busy": "USER_BUSY", "no_answer": "NO_ANSWER", "no_user_response": "NO_USER_RESPONSE",
            "unallocated": "UNALLOCATED_NUMBER", "rejected": "CALL_REJECTED",
            "temporary_failure": "NORMAL_TEMPORARY_FAILURE"}
SAY_TYPES = {"number", "items", "persons", "messages", "currency", "name_spelled", "name_phonetic"}
SAY_METHODS = {"pronounced", "iterated", "counted"}
# FreeSWITCH adds channel variables only to these events (unless verbose_events is set).
VERBOSE = {"CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_PARK", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE",
           "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_DATA"}
EVENT_NAMES = {"ALL", "CHANNEL_CREATE", "CHANNEL_PROGRESS", "CHANNEL_ANSWER", "CHANNEL_PARK", "CHANNEL_BRIDGE",
               "CHANNEL_UNBRIDGE", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_EXECUTE",
               "CHANNEL_EXECUTE_COMPLETE", "BACKGROUND_JOB", "PLAYBACK_START", "PLAYBACK_STOP", "HEARTBEAT"}
CORE_UUID = "0f0f0f0f-fa4e-4e51-8000-000000000001"


@dataclass(frozen=True)
class Outcome:
    """What the network does with a dialled number: ``result`` after ``ring_seconds``; an answered party
    hangs up by itself after ``talk_seconds`` (None: never)."""

    result: str = "answer"
    ring_seconds: float = 1.0
    talk_seconds: float | None = None


@dataclass
class FakeChannel:
    uuid: str
    name: str
    number: str
    variables: dict[str, str]
    created_us: int
    callstate: str = "DOWN"
    answered_us: int = 0
    bridged_us: int = 0
    partner: str | None = None
    job: tuple[str, str] | None = None  # (Job-UUID, command arg) of the originate still waiting for answer
    apps: deque[tuple[str, str, str]] = field(default_factory=deque)
    running: tuple[str, str, str] | None = None
    timers: dict[str, Cancellable] = field(default_factory=dict)


class FakeFreeSwitch:
    """The switch's state and behaviour; ``FakeEslServer`` puts its event socket on loopback."""

    def __init__(self, runtime: Runtime, *, password: str = "ClueCon", app_seconds: float = 0.25) -> None:
        self.runtime = runtime
        self.password = password
        self.app_seconds = app_seconds
        self.outcomes: dict[str, Outcome] = {}
        self.default_outcome = Outcome()
        self.channels: dict[str, FakeChannel] = {}
        self.hangups: dict[str, str] = {}  # channel UUID -> Hangup-Cause
        self.commands: list[str] = []  # every command line received after auth, in order
        self.fired: list[dict[str, str]] = []  # every event, delivered or not
        self.broadcasts: list[tuple[str, str, str]] = []
        self.violations: list[str] = []
        self.listeners: list[Callable[[dict[str, str]], None]] = []
        self._sched: dict[str, list[Cancellable]] = {}
        self._sequence = 0

    # -- controls for tests ---------------------------------------------------------------------------

    def far_hangup(self, uuid: str, cause: str = "NORMAL_CLEARING") -> None:
        """The party on ``uuid`` hangs up."""
        self._hangup(self.channels[uuid], cause)

    # -- api ------------------------------------------------------------------------------------------

    def api(self, command: str, arg: str) -> str:
        """Run one api command as mod_commands would; return its output text."""
        handlers: dict[str, Callable[[list[str]], str]] = {
            "originate": self._originate, "uuid_kill": self._uuid_kill, "uuid_bridge": self._uuid_bridge,
            "uuid_broadcast": self._uuid_broadcast, "sched_hangup": self._sched_hangup,
            "sched_del": self._sched_del, "show": self._show, "uuid_dump": self._uuid_dump,
        }
        handler = handlers.get(command)
        if handler is None:
            return f"-ERR {command} Command not found!\n"
        return handler(arg.split())

    def bgapi(self, command: str, arg: str, job_uuid: str) -> None:
        """Run ``command`` in the background; BACKGROUND_JOB reports its output (originate: on answer/failure)."""
        if command == "originate":
            output = self._originate(arg.split(), job=(job_uuid, arg))
            if not output:
                return  # the channel's answer or failure fires the job
        else:
            output = self.api(command, arg)
        self.runtime.call_later(0, self._job, job_uuid, command, arg, output)

    def sendmsg(self, uuid: str, headers: dict[str, str]) -> str:
        channel = self.channels.get(uuid)
        if channel is None:
            return f"-ERR invalid session id [{uuid}]"
        command = headers.get("call-command", "")
        if command == "hangup":
            self.runtime.call_later(0, self._hangup, channel, headers.get("hangup-cause", "NORMAL_CLEARING"))
        elif command == "execute":
            app, arg = headers.get("execute-app-name", ""), headers.get("execute-app-arg", "")
            app_uuid = headers.get("Event-UUID", f"app-{len(self.commands)}")
            channel.apps.append((app, arg, app_uuid))
            if channel.running is None:
                self.runtime.call_later(0, self._next_app, channel)
        else:
            self.violations.append(f"sendmsg call-command {command!r} not modelled")
        return "+OK"

    # -- originate ------------------------------------------------------------------------------------

    def _originate(self, argv: list[str], job: tuple[str, str] | None = None) -> str:
        if len(argv) < 2:
            return "-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>]\n"
        url, target = argv[0], argv[1]
        if job is None:
            self.violations.append("api originate blocks the event socket; use bgapi")
        if target != "&park()":
            self.violations.append(f"originate target {target!r} not modelled (only &park())")
        variables: dict[str, str] = {}
        if url.startswith("{"):
            block, _, url = url[1:].partition("}")
            for pair in block.split(","):
                name, sep, value = pair.partition("=")
                if not sep:
                    self.violations.append(f"originate variable without '=': {pair!r}")
                variables[name] = value
        tech, _, resource = url.partition("/")
        if tech not in ("sofia", "loopback", "user") or not resource:
            return "-ERR CHAN_NOT_IMPLEMENTED\n"
        number = resource.rsplit("/", 1)[-1].split("@")[0]
        outcome = self.outcomes.get(number, self.default_outcome)
        uuid = variables.get("origination_uuid", f"gen-{len(self.commands):032d}")[:36]
        if outcome.result == "gateway_down":
            return "-ERR GATEWAY_DOWN\n"
        if uuid in self.channels:
            self.violations.append(f"duplicate origination_uuid {uuid}")
            return "-ERR DESTINATION_OUT_OF_ORDER\n"
        try:
            timeout = float(variables.get("originate_timeout", "60"))
        except ValueError:
            self.violations.append("originate_timeout is not a number")
            timeout = 60.0
        channel = FakeChannel(uuid=uuid, name=f"{tech}/{resource}", number=number, variables=variables,
                              created_us=self._now_us(), job=job)
        self.channels[uuid] = channel
        self._fire("CHANNEL_CREATE", channel)
        if outcome.result == "unallocated":  # refused at once, it never rings
            channel.timers["ring"] = self.runtime.call_later(0.1, self._hangup, channel, FAILURES["unallocated"])
            return ""
        channel.timers["ring"] = self.runtime.call_later(0, self._ringing, channel, outcome, timeout)
        return ""

    def _ringing(self, channel: FakeChannel, outcome: Outcome, timeout: float) -> None:
        channel.callstate = "RINGING"
        self._fire("CHANNEL_PROGRESS", channel)
        if outcome.result == "no_answer" or outcome.ring_seconds >= timeout:
            channel.timers["ring"] = self.runtime.call_later(timeout, self._hangup, channel, "NO_ANSWER")
        elif outcome.result != "answer":
            cause = FAILURES[outcome.result]
            channel.timers["ring"] = self.runtime.call_later(outcome.ring_seconds, self._hangup, channel, cause)
        else:
            channel.timers["ring"] = self.runtime.call_later(outcome.ring_seconds, self._answer, channel, outcome)

    def _answer(self, channel: FakeChannel, outcome: Outcome) -> None:
        channel.timers.pop("ring", None)
        channel.callstate, channel.answered_us = "ACTIVE", self._now_us()
        self._fire("CHANNEL_ANSWER", channel, **{"Event-Date-Timestamp": str(channel.answered_us)})
        if channel.job is not None:
            job_uuid, arg = channel.job
            channel.job = None
            self._job(job_uuid, "originate", arg, f"+OK {channel.uuid}\n")
        self._fire("CHANNEL_PARK", channel)
        if outcome.talk_seconds is not None:
            channel.timers["talk"] = self.runtime.call_later(outcome.talk_seconds, self.far_hangup, channel.uuid)

    # -- channel commands -----------------------------------------------------------------------------

    def _uuid_kill(self, argv: list[str]) -> str:
        if not argv:
            return "-USAGE: <uuid> [cause]\n"
        channel = self.channels.get(argv[0])
        if channel is None:
            return "-ERR No Such Channel!\n"
        self.runtime.call_later(0, self._hangup, channel, self._cause(argv[1] if len(argv) > 1 else None))
        return "+OK\n"

    def _uuid_bridge(self, argv: list[str]) -> str:
        if len(argv) < 2:
            return "-USAGE: <uuid> <other_uuid>\n"
        a, b = self.channels.get(argv[0]), self.channels.get(argv[1])
        if a is None or b is None or a is b:
            return "-ERR Invalid uuid\n"
        if a.callstate != "ACTIVE" or b.callstate != "ACTIVE":
            self.violations.append(f"uuid_bridge of an unanswered leg ({a.callstate}/{b.callstate})")
        self.runtime.call_later(0, self._bridge, a, b)
        return f"+OK {b.uuid}\n"

    def _bridge(self, a: FakeChannel, b: FakeChannel) -> None:
        if self.channels.get(a.uuid) is not a or self.channels.get(b.uuid) is not b:
            return
        now_us = self._now_us()
        for channel, other in ((a, b), (b, a)):
            channel.apps.clear()
            self._stop_app(channel)
            channel.partner, channel.bridged_us = other.uuid, now_us
        self._fire("CHANNEL_BRIDGE", a, **{"Event-Date-Timestamp": str(now_us), "Bridge-A-Unique-ID": a.uuid,
                                            "Bridge-B-Unique-ID": b.uuid, "Other-Leg-Unique-ID": b.uuid})

    def _uuid_broadcast(self, argv: list[str]) -> str:
        if len(argv) < 2:
            return "-USAGE: <uuid> <path> [aleg|bleg|holdb|both]\n"
        self.broadcasts.append((argv[0], argv[1], argv[2] if len(argv) > 2 else "aleg"))
        return "+OK Message Sent\n"

    def _sched_hangup(self, argv: list[str]) -> str:
        if not argv:
            return "-USAGE: [+]<time> <uuid> [<cause>]\n"
        channel = self.channels.get(argv[1]) if len(argv) > 1 else None
        if channel is None:
            return "-ERR No Such Channel!\n"
        digits = argv[0].removeprefix("+")
        seconds = int(digits.split(".")[0]) if digits.split(".")[0].isdigit() else 0  # C's atol
        if not argv[0].startswith("+"):
            self.violations.append("sched_hangup with an absolute epoch is not modelled")
        cause = self._cause(argv[2] if len(argv) > 2 else "ALLOTTED_TIMEOUT")
        if seconds == 0:
            self._hangup(channel, cause)
        else:
            task = self.runtime.call_later(seconds, self._hangup, channel, cause)
            self._sched.setdefault(channel.uuid, []).append(task)
        return "+OK\n"

    def _sched_del(self, argv: list[str]) -> str:
        if not argv:
            return "-ERR Invalid syntax\n"
        tasks = [t for t in self._sched.pop(argv[0], []) if t.active()]  # type: ignore[attr-defined]
        for scheduled in tasks:
            scheduled.cancel()
        return f"+OK Deleted: {len(tasks)}\n"

    def _show(self, argv: list[str]) -> str:
        if argv != ["channels", "as", "json"]:
            return "-ERR the fake models only 'show channels as json'\n"
        rows = [{"uuid": c.uuid, "direction": "outbound", "created_epoch": str(c.created_us // 1_000_000),
                 "name": c.name, "state": "CS_EXECUTE", "cid_num": c.variables.get("origination_caller_id_number",
                                                                                    ""),
                 "dest": c.number, "application": "park", "callstate": c.callstate,
                 "call_uuid": c.partner or ""} for c in self.channels.values()]
        return json.dumps({"row_count": len(rows), "rows": rows} if rows else {"row_count": 0}) + "\n"

    def _uuid_dump(self, argv: list[str]) -> str:
        channel = self.channels.get(argv[0]) if argv else None
        if channel is None:
            return "-ERR No such channel!\n"
        if argv[1:] != ["json"]:
            self.violations.append("uuid_dump is modelled in json only")
        return json.dumps(self._channel_fields(channel, "CHANNEL_DATA", with_variables=True)) + "\n"

    # -- applications ---------------------------------------------------------------------------------

    def _next_app(self, channel: FakeChannel) -> None:
        if channel.running is not None or not channel.apps or self.channels.get(channel.uuid) is not channel:
            return
        app, arg, _app_uuid = channel.running = channel.apps.popleft()
        if app == "say":
            words = arg.split()
            if len(words) < 4 or words[1].lower() not in SAY_TYPES or words[2].lower() not in SAY_METHODS:
                self.violations.append(f"say {arg!r}: expected '<lang> <type> <method> <text>'")
        elif app != "playback" or not arg:
            self.violations.append(f"application {app}({arg}) is not modelled (invalid application)")
            self._hangup(channel, "DESTINATION_OUT_OF_ORDER")
            return
        if "loops=-1" not in arg:
            channel.timers["app"] = self.runtime.call_later(self.app_seconds, self._app_done, channel)

    def _app_done(self, channel: FakeChannel) -> None:
        channel.timers.pop("app", None)
        self._stop_app(channel)
        self._next_app(channel)

    def _stop_app(self, channel: FakeChannel) -> None:
        if channel.running is None:
            return
        app, arg, app_uuid = channel.running
        channel.running = None
        timer = channel.timers.pop("app", None)
        if timer is not None and timer.active():  # type: ignore[attr-defined]
            timer.cancel()
        self._fire("CHANNEL_EXECUTE_COMPLETE", channel, **{
            "Application": app, "Application-Data": arg, "Application-Response": "FILE PLAYED",
            "Application-UUID": app_uuid})

    # -- hangup ---------------------------------------------------------------------------------------

    def _cause(self, name: str | None) -> str:
        if name is None:
            return "NORMAL_CLEARING"
        if name.upper() not in Q850:
            self.violations.append(f"unknown hangup cause {name!r}")
        return name.upper()

    def _hangup(self, channel: FakeChannel, cause: str) -> None:
        if self.channels.get(channel.uuid) is not channel:
            return
        for timer in channel.timers.values():
            if timer.active():  # type: ignore[attr-defined]
                timer.cancel()
        channel.timers.clear()
        channel.apps.clear()
        self._stop_app(channel)
        for scheduled in self._sched.pop(channel.uuid, []):
            if scheduled.active():  # type: ignore[attr-defined]
                scheduled.cancel()
        del self.channels[channel.uuid]
        self.hangups[channel.uuid] = cause
        end_us = self._now_us()
        self._fire("CHANNEL_HANGUP", channel, **{"Hangup-Cause": cause})
        start, answered, bridged = channel.created_us, channel.answered_us, channel.bridged_us
        self._fire("CHANNEL_HANGUP_COMPLETE", channel, **{
            "Hangup-Cause": cause, "variable_hangup_cause": cause, "variable_hangup_cause_q850": str(Q850[cause]),
            "variable_start_uepoch": str(start), "variable_answer_uepoch": str(answered),
            "variable_bridge_uepoch": str(bridged), "variable_end_uepoch": str(end_us),
            "variable_duration": str((end_us - start) // 1_000_000),
            "variable_billsec": str((end_us - answered) // 1_000_000 if answered else 0)})
        if channel.job is not None:
            job_uuid, arg = channel.job
            self._job(job_uuid, "originate", arg, f"-ERR {cause}\n")
        partner = self.channels.get(channel.partner or "")
        if partner is not None:
            partner.partner = None
            self._fire("CHANNEL_UNBRIDGE", partner)
            if partner.variables.get("park_after_bridge") == "true":
                self._fire("CHANNEL_PARK", partner)
            else:
                self._hangup(partner, "NORMAL_CLEARING")

    # -- events ---------------------------------------------------------------------------------------

    def _now_us(self) -> int:
        return int(self.runtime.now().timestamp() * 1_000_000)

    def _channel_fields(self, channel: FakeChannel, name: str, *, with_variables: bool) -> dict[str, str]:
        fields = {
            "Unique-ID": channel.uuid, "Channel-Name": channel.name, "Call-Direction": "outbound",
            "Channel-Call-State": channel.callstate if channel.uuid in self.channels else "HANGUP",
            "Answer-State": "answered" if channel.answered_us else "ringing",
            "Caller-Caller-ID-Number": channel.variables.get("origination_caller_id_number", ""),
            "Caller-Destination-Number": channel.number,
            "Caller-Channel-Created-Time": str(channel.created_us),
            "Caller-Channel-Answered-Time": str(channel.answered_us),
            "Caller-Channel-Bridged-Time": str(channel.bridged_us),
        }
        if with_variables or name in VERBOSE:
            fields.update({f"variable_{k}": v for k, v in channel.variables.items()})
        return fields

    def _fire(self, name: str, channel: FakeChannel, **extra: str) -> None:
        self._emit({**self._channel_fields(channel, name, with_variables=False), **extra, "Event-Name": name})

    def _job(self, job_uuid: str, command: str, arg: str, output: str) -> None:
        self._emit({"Event-Name": "BACKGROUND_JOB", "Job-UUID": job_uuid, "Job-Command": command,
                    "Job-Command-Arg": arg, "Content-Length": str(len(output.encode())), "_body": output})

    def _emit(self, event: dict[str, str]) -> None:
        """Fire ``event``; its Event-Date-Timestamp is now unless it carries the instant it reports."""
        self._sequence += 1
        event = {"Event-Name": event["Event-Name"], "Core-UUID": CORE_UUID, "FreeSWITCH-Hostname": "fake-fs",
                 "Event-Date-Timestamp": str(self._now_us()), "Event-Sequence": str(self._sequence), **event}
        self.fired.append(event)
        for listener in list(self.listeners):
            listener(event)


class _Listener(protocol.Protocol):
    """One event socket connection, handled like mod_event_socket's listener thread: one command at a time."""

    factory: FakeEslServer

    def __init__(self) -> None:
        self._buffer = b""
        self._authed = False
        self._subscribed: set[str] = set()

    @property
    def fake(self) -> FakeFreeSwitch:
        return self.factory.fake

    def connectionMade(self) -> None:
        if self.factory.refusing:
            self.transport.abortConnection()
            return
        self.factory.connections.append(self)
        self.fake.listeners.append(self._event)
        self._write({"Content-Type": "auth/request"})

    def connectionLost(self, reason: Any = None) -> None:
        if self in self.factory.connections:
            self.factory.connections.remove(self)
        if self._event in self.fake.listeners:
            self.fake.listeners.remove(self._event)

    def dataReceived(self, data: bytes) -> None:
        # read_packet: a command is its first line plus "Name: value" lines, up to a blank line.
        self._buffer += data
        while (end := self._buffer.find(b"\n\n")) >= 0:
            block, self._buffer = self._buffer[:end].lstrip(b"\r\n"), self._buffer[end + 2:]
            if block:
                first, *lines = block.decode().split("\n")
                headers = dict(line.partition(": ")[::2] for line in lines)
                self._command(first.rstrip("\r"), headers)

    def _command(self, line: str, headers: dict[str, str]) -> None:
        if line.startswith("exit"):
            self._reply("+OK bye")
            self._disconnect()
        elif not self._authed:
            self._pre_auth(line)
        else:
            self.fake.commands.append(line)
            self._authed_command(line, headers)

    def _pre_auth(self, line: str) -> None:
        if not line.startswith("auth "):
            self._reply("-ERR command not found")
        elif line[5:] == self.fake.password:
            self._authed = True
            self._reply("+OK accepted")
        else:
            self._reply("-ERR invalid")
            self._disconnect()

    def _authed_command(self, line: str, headers: dict[str, str]) -> None:
        verb, _, arg = line.partition(" ")
        if verb == "api":
            command, _, command_arg = arg.partition(" ")
            body = self.fake.api(command, command_arg).encode()
            self._write({"Content-Type": "api/response", "Content-Length": str(len(body))}, body)
        elif verb == "bgapi":
            job_uuid = (headers.get("Job-UUID") or f"job-{len(self.fake.commands):032d}")[:36]
            command, _, command_arg = arg.partition(" ")
            self._write({"Content-Type": "command/reply", "Reply-Text": f"+OK Job-UUID: {job_uuid}",
                         "Job-UUID": job_uuid})
            self.fake.bgapi(command, command_arg, job_uuid)
        elif verb == "sendmsg":
            self._reply(self.fake.sendmsg(arg.strip() or headers.get("session-id", ""), headers))
        elif verb == "event":
            self._subscribe(arg.split())
        elif verb == "noevents":
            self._reply("+OK no longer listening for events" if self._subscribed else "-ERR not listening for events")
            self._subscribed.clear()
        else:
            self._reply("-ERR command not found")

    def _subscribe(self, words: list[str]) -> None:
        if words and words[0].lower() in ("plain", "xml"):
            self._reply("-ERR the fake emits json events only")
            return
        names = {w.upper() for w in words if w.upper() in EVENT_NAMES}
        if not names:
            self._reply("-ERR no keywords supplied")
            return
        self._subscribed |= names
        self._reply("+OK event listener enabled json")

    def _event(self, event: dict[str, str]) -> None:
        if "ALL" in self._subscribed or event["Event-Name"] in self._subscribed:
            body = json.dumps(event).encode()
            self._write({"Content-Length": str(len(body)), "Content-Type": "text/event-json"}, body)

    def _reply(self, text: str) -> None:
        self._write({"Content-Type": "command/reply", "Reply-Text": text})

    def _disconnect(self) -> None:
        notice = b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
        self._write({"Content-Type": "text/disconnect-notice", "Content-Length": str(len(notice))}, notice)
        self.transport.loseConnection()

    def _write(self, headers: dict[str, str], body: bytes = b"") -> None:
        self.transport.write("".join(f"{k}: {v}\n" for k, v in headers.items()).encode() + b"\n" + body)


class FakeEslServer(protocol.Factory):
    """Listens on 127.0.0.1 (an ephemeral port); ``port`` is what the adapter's settings need."""

    protocol = _Listener

    def __init__(self, fake: FakeFreeSwitch) -> None:
        self.fake = fake
        self.connections: list[_Listener] = []
        self.refusing = False
        self._port: IListeningPort | None = None

    async def start(self, reactor: Any) -> None:
        self._port = await endpoints.TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(self)

    @property
    def port(self) -> int:
        assert self._port is not None
        return self._port.getHost().port

    def drop(self, *, refuse: bool) -> None:
        """Cut every connection without notice; ``refuse`` turns new ones away until ``accept``, so the
        events fired meanwhile are lost, as they are when a real event socket drops."""
        self.refusing = refuse
        for connection in list(self.connections):
            connection.transport.abortConnection()

    def accept(self) -> None:
        self.refusing = False

    async def stop(self) -> None:
        self.drop(refuse=True)
        if self._port is not None:
            await self._port.stopListening()


# -- harness: an EslSwitch wired to the fake on loopback ------------------------------------------------

SPEED = 10.0  # simulated seconds per real second, for the fake and the adapter alike
ROAMER = "+33612345678"
FRIEND = "+447700900123"
SERVICE = "+33100000000"
WAIT_SECONDS = 10.0  # real seconds: generous for a noisy shared machine, never reached when all is well


def the_reactor() -> Any:
    """The installed reactor, looked up late: pytest-twisted installs it after this module is imported."""
    from twisted.internet import reactor

    return reactor


def make_plan(call_id: str = "c1", *, b: str = FRIEND, a_limit: int = 600, b_limit: int = 600,
              mode: CallMode = CallMode.A_FIRST, ring_timeout: int = 20) -> CallPlan:
    return CallPlan(
        call_id=call_id, request_id=f"r-{call_id}", attempt=1, leg_a_number=ROAMER, leg_a_caller_id=SERVICE,
        leg_b_number=b, leg_b_caller_id=ROAMER, leg_a_limit=a_limit, leg_b_limit=b_limit,
        ring_timeout=ring_timeout, prompt=Prompt(language="fr", max_seconds=min(a_limit, b_limit),
                                                  balance_minor=1250, currency="EUR"),
        mode=mode,
    )


class EslHarness:
    """One fake FreeSWITCH, the adapters connected to it, and every leg event they reported."""

    def __init__(self, **settings: Any) -> None:
        self.runtime = TwistedRuntime(the_reactor(), speed=SPEED)
        self.fake = FakeFreeSwitch(self.runtime, password="s3cret-pass")
        self.server = FakeEslServer(self.fake)
        self.settings_overrides = settings
        self.events: list[LegEvent] = []
        self.switches: list[EslSwitch] = []
        self._waiters: list[tuple[Callable[[LegEvent], bool], Deferred[LegEvent]]] = []

    async def start(self) -> EslSwitch:
        await self.server.start(the_reactor())
        return await self.new_switch()

    def settings(self) -> EslSettings:
        options: dict[str, Any] = {
            "port": self.server.port, "password": "s3cret-pass",
            "routes": [EslRoute(prefix="", dial_string="sofia/gateway/trunk/{number}"),
                       EslRoute(prefix="+44", dial_string="sofia/gateway/uk/{number}")],
            "sound_prefixes": {"fr": "/usr/share/freeswitch/sounds/fr/ca/june"},
            "backstop_seconds": 3.0, "warning_seconds": 2.0, "reconnect_max_seconds": 0.2,
        }
        return EslSettings(**{**options, **self.settings_overrides})

    async def new_switch(self) -> EslSwitch:
        """A fresh adapter process (after a restart, nothing of the previous one survives)."""
        switch = EslSwitch(the_reactor(), self.settings(), runtime=self.runtime)
        switch.subscribe(self.on_event)
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

    def on_event(self, event: LegEvent) -> None:
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

    async def reconnect(self) -> None:
        synced = self.switches[-1].synced()
        self.server.accept()
        await self.within(synced)

    def kinds(self, call_id: str = "c1") -> list[tuple[str, str | None, str | None]]:
        return [(e.kind.value, e.leg.value if e.leg else None, e.cause.value if e.cause else None)
                for e in self.events if e.call_id == call_id]

    def uuid(self, leg: Leg, call_id: str = "c1") -> str:
        return self.switches[-1].channel_uuid(call_id, leg)

    def api_calls(self, name: str) -> list[str]:
        """Arguments of every ``api``/``bgapi`` ``name`` command the adapter sent."""
        return [line.split(" ", 2)[2] if line.count(" ") >= 2 else "" for line in self.fake.commands
                if line.split(" ")[:2] in (["api", name], ["bgapi", name])]

    def fired(self, name: str, uuid: str) -> dict[str, str]:
        """The fake's event ``name`` about channel ``uuid``."""
        return next(e for e in self.fake.fired if e["Event-Name"] == name and e.get("Unique-ID") == uuid)

    def outcome(self, number: str, result: str = "answer", *, ring: float = 1.0, talk: float | None = None) -> None:
        self.fake.outcomes[number.removeprefix("+")] = Outcome(result, ring, talk)


def stamp(event: dict[str, str], key: str = "Event-Date-Timestamp") -> datetime:
    return datetime.fromtimestamp(int(event[key]) / 1e6, UTC)


@pytest_twisted.async_yield_fixture(name="esl")
async def esl_fixture() -> AsyncIterator[EslHarness]:
    """A connected adapter on a fresh fake; afterwards nothing may be left on the switch or violated."""
    harness = EslHarness()
    await harness.start()
    yield harness
    await harness.stop()
    assert not harness.fake.channels, "a channel was left on the switch"
    assert not harness.fake.violations, harness.fake.violations
