"""Choosing a peer for each request and following it until it is answered: sans-I/O, time passed in.

RFC 6733 2.7 realm routing over a small static table: each configured peer serves some realms with a
priority (1 is preferred, as in DNS SRV); among the open peers of the best priority, the one with the
fewest requests in flight takes the next one (ties go round robin). A CCR-U/T names the OCS that answered
the CCR-I in Destination-Host; it goes straight to that peer when we are connected to it, or through a
peer marked as a relay, which routes on it. Each request has its own Tx deadline (RFC 4006 13).

A request leaves its peer again, with the T flag and the same End-to-End id (RFC 6733 5.5.4), when the
peer turns SUSPECT or DOWN, when the peer answers 3002 UNABLE_TO_DELIVER or 3004 TOO_BUSY with the E bit,
and, if the caller asked (Credit-Control-Failure-Handling other than TERMINATE), when Tx expires. Those
retries go by realm alone, to a peer not tried yet: an alternate OCS takes the session over (CC-Session-
Failover), and a Destination-Host naming the OCS that just failed would only earn another 3002.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from .codec import Message
from .dictionary import ResultCode
from .peer import PeerMachine, PeerState

RETRY_ON_ANSWER = frozenset({ResultCode.UNABLE_TO_DELIVER, ResultCode.TOO_BUSY})


@dataclass(frozen=True, slots=True)
class PeerRoute:
    name: str
    realms: frozenset[str]  # "*" serves every realm
    priority: int = 1
    relay: bool = False  # forwards on Destination-Host to hosts we are not connected to


@dataclass(frozen=True, slots=True)
class OutgoingRequest:
    """A request to route. ``build(destination_host)`` renders it with or without Destination-Host."""

    build: Callable[[str | None], bytes]
    realm: str
    destination_host: str | None = None
    retry_on_timeout: bool = False


class FailReason(StrEnum):
    NO_ROUTE = "no_route"  # no open peer serves the realm
    TIMEOUT = "timeout"  # Tx expired (and no alternate peer, where one was wanted)
    SHUTDOWN = "shutdown"  # the node stopped with the request still unanswered


@dataclass(frozen=True, slots=True)
class RequestAnswered:
    token: int
    message: Message
    peer: str


@dataclass(frozen=True, slots=True)
class RequestFailed:
    token: int
    reason: FailReason


RouterEvent = RequestAnswered | RequestFailed


@dataclass(slots=True)
class _Pending:
    request: OutgoingRequest
    end_to_end: int
    deadline: float
    peer: str = ""
    tried: set[str] = field(default_factory=set)
    hops: list[tuple[str, int]] = field(default_factory=list)


class Router:
    def __init__(
        self, routes: list[PeerRoute], machines: dict[str, PeerMachine], *, tx: float, first_end_to_end: int
    ) -> None:
        self._routes = sorted(routes, key=lambda r: r.priority)
        self._machines = machines
        self._tx = tx
        self._next_e2e = first_end_to_end & 0xFFFFFFFF
        self._tokens = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._by_hop: dict[tuple[str, int], int] = {}
        self._deadlines: list[tuple[float, int]] = []  # a heap; entries of finished requests are skipped
        self._in_flight = dict.fromkeys(machines, 0)
        self._turn = 0

    def submit(self, request: OutgoingRequest, now: float) -> tuple[int, list[RouterEvent]]:
        token = next(self._tokens)
        pending = _Pending(request, self._e2e(), now + self._tx)
        self._pending[token] = pending
        heapq.heappush(self._deadlines, (pending.deadline, token))
        if self._send(token, pending, sticky=True, retransmit=False):
            return token, []
        del self._pending[token]
        return token, [RequestFailed(token, FailReason.NO_ROUTE)]

    def answer_received(self, peer: str, message: Message) -> list[RouterEvent]:
        token = self._by_hop.get((peer, message.hop_by_hop))
        if token is None:
            return []  # late or unknown: RFC 6733 6.2.1 says discard
        pending = self._pending[token]
        code = message.result_code()
        if message.is_error and code in RETRY_ON_ANSWER and self._send(token, pending, sticky=False, retransmit=True):
            return []
        self._finish(token)
        return [RequestAnswered(token, message, peer)]

    def peer_unavailable(self, peer: str) -> None:
        """Fail pending requests over to another peer; with none, they wait for Tx (the peer may recover)."""
        for token, pending in list(self._pending.items()):
            if pending.peer == peer:
                self._send(token, pending, sticky=False, retransmit=True)

    def get_timer(self) -> float | None:
        heap = self._deadlines
        while heap:
            deadline, token = heap[0]
            pending = self._pending.get(token)
            if pending is not None and pending.deadline == deadline:
                return deadline
            heapq.heappop(heap)  # finished, or its deadline moved (a newer entry exists)
        return None

    def handle_timer(self, now: float) -> list[RouterEvent]:
        events: list[RouterEvent] = []
        while (deadline := self.get_timer()) is not None and deadline <= now:
            _, token = heapq.heappop(self._deadlines)
            pending = self._pending[token]
            if pending.request.retry_on_timeout and self._send(token, pending, sticky=False, retransmit=True):
                pending.deadline = now + self._tx
                heapq.heappush(self._deadlines, (pending.deadline, token))
                continue
            self._finish(token)
            events.append(RequestFailed(token, FailReason.TIMEOUT))
        return events

    def abandon_all(self) -> list[RouterEvent]:
        """Give up on every pending request (the node is stopping): each gets its failure event."""
        tokens = list(self._pending)
        for token in tokens:
            self._finish(token)
        return [RequestFailed(token, FailReason.SHUTDOWN) for token in tokens]

    def in_flight(self, peer: str) -> int:
        return self._in_flight[peer]

    # -- internals ---------------------------------------------------------------------------------

    def _e2e(self) -> int:
        value = self._next_e2e
        self._next_e2e = (value + 1) & 0xFFFFFFFF
        return value

    def _send(self, token: int, pending: _Pending, *, sticky: bool, retransmit: bool) -> bool:
        choice = self._choose(pending, sticky)
        if choice is None:
            return False
        name, destination_host = choice
        machine = self._machines[name]
        hop = machine.send_request(pending.request.build(destination_host), pending.end_to_end, retransmit=retransmit)
        if pending.peer:
            self._in_flight[pending.peer] -= 1
        pending.peer = name
        pending.tried.add(name)
        pending.hops.append((name, hop))
        self._by_hop[(name, hop)] = token
        self._in_flight[name] += 1
        return True

    def _choose(self, pending: _Pending, sticky: bool) -> tuple[str, str | None] | None:
        request = pending.request
        host = request.destination_host if sticky else None
        open_routes = [r for r in self._routes
                       if r.name not in pending.tried and self._machines[r.name].state is PeerState.OPEN]
        if host is not None:
            for route in open_routes:
                if self._machines[route.name].remote_host == host:
                    return route.name, host
        candidates = [r for r in open_routes if request.realm in r.realms or "*" in r.realms]
        if not candidates:
            return None
        best = candidates[0].priority
        tier = [r for r in candidates if r.priority == best]
        fewest = min(self._in_flight[r.name] for r in tier)
        tier = [r for r in tier if self._in_flight[r.name] == fewest]
        self._turn += 1
        route = tier[self._turn % len(tier)]
        return route.name, host if route.relay else None

    def _finish(self, token: int) -> None:
        pending = self._pending.pop(token)
        for hop in pending.hops:
            self._by_hop.pop(hop, None)
        if pending.peer:
            self._in_flight[pending.peer] -= 1
