"""The transition table: every documented path is legal, everything else is refused."""

from __future__ import annotations

import itertools

import pytest

from roamback.core.states import (
    TERMINAL_STATES,
    TRANSITIONS,
    IllegalTransition,
    RequestState,
    check_transition,
)

S = RequestState

HAPPY_PATH = [S.RECEIVED, S.ACCEPTED, S.RESERVED, S.DIALLING_A, S.A_ANSWERED, S.DIALLING_B, S.BRIDGED,
              S.COMPLETED]


def test_happy_path_is_legal() -> None:
    for source, target in itertools.pairwise(HAPPY_PATH):
        check_transition(source, target)


def test_retry_loop_is_legal() -> None:
    for source, target in [(S.DIALLING_A, S.A_RETRY_WAIT), (S.A_RETRY_WAIT, S.DIALLING_A)]:
        check_transition(source, target)


@pytest.mark.parametrize("state", sorted(set(S) - TERMINAL_STATES - {S.RECEIVED}))
def test_every_live_state_can_fail_or_be_cancelled(state: RequestState) -> None:
    check_transition(state, S.FAILED)
    check_transition(state, S.CANCELLED)


def test_refusal_only_before_reservation() -> None:
    refusable = {source for source, targets in TRANSITIONS.items() if S.REFUSED in targets}
    assert refusable == {S.RECEIVED, S.ACCEPTED}


@pytest.mark.parametrize("state", sorted(TERMINAL_STATES))
def test_terminal_states_are_final(state: RequestState) -> None:
    assert state.terminal
    for target in S:
        with pytest.raises(IllegalTransition):
            check_transition(state, target)


def test_skipping_a_step_is_refused() -> None:
    with pytest.raises(IllegalTransition, match="reserved -> bridged"):
        check_transition(S.RESERVED, S.BRIDGED)
    with pytest.raises(IllegalTransition):
        check_transition(S.RECEIVED, S.DIALLING_A)
    with pytest.raises(IllegalTransition):
        check_transition(S.RECEIVED, S.CANCELLED)  # nothing to cancel before a decision
