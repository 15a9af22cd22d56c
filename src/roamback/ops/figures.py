"""The operational figures of one node, counted once and read by every exporter.

Prometheus and SNMP must never disagree about how many calls failed, so neither counts on its own: the
engine's transition listener feeds this object, and both exporters read it. It holds no I/O and no
reactor: time comes in with each transition (the engine's clock) and through ``clock`` for pruning the
sliding windows, so tests drive it with plain numbers.

Links (SMPP binds, Diameter peers, ...) are reported by whoever owns them through a provider callable,
read when asked: the owner never has to remember to push a state change, and a provider that raises
counts as down, since an operator should not be told a link is up when its owner cannot even say.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from ..core.model import CallbackRequest, Leg, Transition
from ..core.states import RequestState

S = RequestState
_ON_SWITCH = frozenset({S.DIALLING_A, S.A_ANSWERED, S.DIALLING_B, S.BRIDGED})
LatencyObserver = Callable[[str, float], None]


class AlarmKind(StrEnum):
    """What an operator is notified about; each value names a notification of ROAMBACK-MIB."""

    LINK_DOWN = "linkDown"
    LINK_UP = "linkUp"
    PEER_DOWN = "peerDown"
    PEER_UP = "peerUp"
    CHARGING_FAILOVER = "chargingFailover"
    REFUSAL_RATE_HIGH = "refusalRateHigh"
    REFUSAL_RATE_NORMAL = "refusalRateNormal"
    ASR_LOW = "asrLow"
    ASR_NORMAL = "asrNormal"


@dataclass(frozen=True, slots=True)
class Alarm:
    kind: AlarmKind
    subject: str  # the link or peer name, or the figure's name
    detail: str = ""
    value: float | None = None  # the figure that crossed its threshold


@dataclass(frozen=True, slots=True)
class Link:
    """A link or peer as exported: ``index`` is its stable row in the SNMP table."""

    index: int
    kind: str
    name: str
    required: bool
    provider: Callable[[], bool]

    @property
    def is_diameter(self) -> bool:
        return self.kind == "diameter"

    def up(self) -> bool:
        try:
            return bool(self.provider())
        except Exception:
            return False


class SlidingWindow:
    """Outcomes with their times; old ones fall out when the window is read.

    Hits and their values are summed as they come and go, so reading costs the same whatever the window
    holds: a 900 s window at 100 requests/s is 90k outcomes, which a sum on every read (SNMP snapshot,
    scrape, watch) would walk with the reactor held.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._items: deque[tuple[float, bool, float]] = deque()
        self._hits = 0
        self._hit_total = 0.0

    def add(self, at: float, hit: bool, value: float = 0.0) -> None:
        self._items.append((at, hit, value))
        if hit:
            self._hits += 1
            self._hit_total += value

    def prune(self, now: float) -> None:
        while self._items and self._items[0][0] < now - self.seconds:
            _, hit, value = self._items.popleft()
            if hit:
                self._hits -= 1
                self._hit_total -= value
        if not self._hits:
            self._hit_total = 0.0  # no float residue carried into the next busy hour

    @property
    def count(self) -> int:
        return len(self._items)

    def ratio(self) -> float:
        """Share of hits; 0 on an empty window so a gauge never reports NaN."""
        return self._hits / len(self._items) if self._items else 0.0

    def mean_of_hits(self) -> float:
        return self._hit_total / self._hits if self._hits else 0.0


class OpsFigures:
    """Counters, gauges and windows of one node; ``on_transition`` is the engine listener."""

    def __init__(self, clock: Callable[[], float], window_seconds: float = 900.0) -> None:
        self.clock = clock
        self.triggers: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self.cancelled: Counter[str] = Counter()
        self.accepted = 0  # reached RESERVED; a refusal for credit comes after the policy's acceptance
        self.completed = 0
        self.bridged_total = 0
        self.charging_failovers = 0
        self.outbox_depth = 0
        self.calls = SlidingWindow(window_seconds)  # dialled requests: bridged?, talk seconds
        self.decisions = SlidingWindow(window_seconds)  # decided requests: refused?
        self._where: dict[str, RequestState] = {}
        self._links: dict[tuple[str, str], Link] = {}
        self._latency: list[LatencyObserver] = []
        self._alarm_listeners: list[Callable[[Alarm], None]] = []

    # -- feeding ---------------------------------------------------------------------------------------

    def on_transition(self, request: CallbackRequest, transition: Transition) -> None:
        target = transition.target
        at = transition.at.timestamp()
        if transition.source is S.RECEIVED and target is S.RECEIVED:
            self.triggers[request.channel.value] += 1
        elif target is S.RESERVED:  # past every check, credit included: the request will be dialled
            self.accepted += 1
            self.decisions.add(at, False)
        elif target is S.REFUSED:
            self.refused[transition.reason or "unknown"] += 1
            self.decisions.add(at, True)
        elif target is S.DIALLING_A and request.attempts == 1:
            self._observe("received_to_dialling_a", (transition.at - request.created_at).total_seconds())
        elif target is S.BRIDGED:
            self.bridged_total += 1
        self._track_call(request, transition, at)

    def _track_call(self, request: CallbackRequest, transition: Transition, at: float) -> None:
        target = transition.target
        if target in _ON_SWITCH:
            self._where[request.id] = target
        elif target.terminal or target is S.A_RETRY_WAIT:
            self._where.pop(request.id, None)
        if not target.terminal:
            return
        if target is S.COMPLETED:
            self.completed += 1
        elif target is S.FAILED:
            self.failed[transition.reason or "unknown"] += 1
        elif target is S.CANCELLED:
            self.cancelled[transition.reason or "unknown"] += 1
        if request.attempts or transition.legs:  # the switch was involved: an ASR sample
            talk = _bridged_seconds(transition)
            self.calls.add(at, talk is not None, talk or 0.0)
            if talk is not None:
                self._observe("bridged_duration", talk)

    def _observe(self, name: str, seconds: float) -> None:
        for observer in self._latency:
            observer(name, max(0.0, seconds))

    def add_latency_observer(self, observer: LatencyObserver) -> None:
        """Histograms live with their exporter; this hands them each measured duration."""
        self._latency.append(observer)

    def report_charging_failover(self, detail: str) -> None:
        """The charging client engaged its failure handling (CCFH continue/retry, OCS fail-over)."""
        self.charging_failovers += 1
        self.publish(Alarm(AlarmKind.CHARGING_FAILOVER, "charging", detail))

    # -- reading ---------------------------------------------------------------------------------------

    @property
    def calls_active(self) -> int:
        return len(self._where)

    @property
    def calls_bridged(self) -> int:
        return sum(1 for state in self._where.values() if state is S.BRIDGED)

    def asr(self) -> float:
        self.calls.prune(self.clock())
        return self.calls.ratio()

    def acd_seconds(self) -> float:
        self.calls.prune(self.clock())
        return self.calls.mean_of_hits()

    def refusal_rate(self) -> float:
        self.decisions.prune(self.clock())
        return self.decisions.ratio()

    # -- links ------------------------------------------------------------------------------------------

    def register_link_state(self, kind: str, name: str, provider: Callable[[], bool], required: bool = True) -> Link:
        """Report a link's state through ``provider``; ``required`` links decide readiness."""
        key = (kind, name)
        index = self._links[key].index if key in self._links else len(self._links) + 1
        link = Link(index, kind, name, required, provider)
        self._links[key] = link
        return link

    @property
    def links(self) -> list[Link]:
        return sorted(self._links.values(), key=lambda link: link.index)

    def ready(self) -> tuple[bool, dict[str, bool]]:
        """Whether every required link is up, and each link's state as ``kind/name``."""
        states = {f"{link.kind}/{link.name}": link.up() for link in self.links}
        required = (states[f"{link.kind}/{link.name}"] for link in self.links if link.required)
        return all(required), states

    # -- alarms -------------------------------------------------------------------------------------------

    def subscribe(self, listener: Callable[[Alarm], None]) -> None:
        self._alarm_listeners.append(listener)

    def publish(self, alarm: Alarm) -> None:
        for listener in self._alarm_listeners:
            listener(alarm)


def _bridged_seconds(transition: Transition) -> float | None:
    """Talk time of the final attempt's B leg, None if it was never bridged."""
    for leg in transition.legs:
        if leg.leg is Leg.B and leg.bridged_at is not None and leg.ended_at is not None:
            return (leg.ended_at - leg.bridged_at).total_seconds()
    return None
