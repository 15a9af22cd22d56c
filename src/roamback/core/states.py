"""The callback request lifecycle as an explicit transition table.

A pair that is not in the table is a programming error in the engine (``IllegalTransition``), never
something to paper over: every stored request must have followed a path an auditor can read back.
"""

from __future__ import annotations

from enum import StrEnum


class RequestState(StrEnum):
    RECEIVED = "received"
    REFUSED = "refused"
    ACCEPTED = "accepted"
    RESERVED = "reserved"
    DIALLING_A = "dialling_a"
    A_RETRY_WAIT = "a_retry_wait"
    A_ANSWERED = "a_answered"
    DIALLING_B = "dialling_b"
    BRIDGED = "bridged"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATES


S = RequestState

TERMINAL_STATES = frozenset({S.REFUSED, S.COMPLETED, S.FAILED, S.CANCELLED})

# Every non-terminal state after RECEIVED may also end FAILED (switch/charging error, crash recovery)
# or CANCELLED (subscriber, operator, shutdown); those edges are added below rather than repeated.
_FORWARD: dict[RequestState, frozenset[RequestState]] = {
    S.RECEIVED: frozenset({S.REFUSED, S.ACCEPTED}),
    S.ACCEPTED: frozenset({S.REFUSED, S.RESERVED}),
    S.RESERVED: frozenset({S.DIALLING_A}),
    S.DIALLING_A: frozenset({S.A_ANSWERED, S.A_RETRY_WAIT}),
    S.A_RETRY_WAIT: frozenset({S.DIALLING_A}),
    S.A_ANSWERED: frozenset({S.DIALLING_B}),
    S.DIALLING_B: frozenset({S.BRIDGED}),
    S.BRIDGED: frozenset({S.COMPLETED}),
}

TRANSITIONS: dict[RequestState, frozenset[RequestState]] = {
    state: targets | ({S.FAILED, S.CANCELLED} if state is not S.RECEIVED else {S.FAILED})
    for state, targets in _FORWARD.items()
}


class IllegalTransition(Exception):
    def __init__(self, source: RequestState, target: RequestState) -> None:
        super().__init__(f"illegal callback transition {source.value} -> {target.value}")
        self.source = source
        self.target = target


def check_transition(source: RequestState, target: RequestState) -> None:
    if target not in TRANSITIONS.get(source, frozenset()):
        raise IllegalTransition(source, target)
