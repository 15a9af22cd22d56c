"""Start-up recovery: every request a previous process left unfinished is resumed or ended cleanly.

The rule an operator can predict: a request that never reached the switch is resumed if it is still
fresh (the subscriber is probably still waiting), otherwise ended with a notice; a request whose call
was in progress is ended, its live call hung up, and charged only for what the stored leg events prove
(up to the moment we hung it up, or the last moment the call was seen alive).
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime

from .engine import CallbackEngine
from .model import CallbackRequest
from .reasons import FailureReason
from .states import RequestState

S = RequestState
log = logging.getLogger(__name__)

_UNDECIDED = frozenset({S.RECEIVED, S.ACCEPTED})
_NOT_DIALLING = frozenset({S.RESERVED, S.A_RETRY_WAIT})


async def recover(engine: CallbackEngine) -> Counter[str]:
    """Return how many requests were resumed and ended, by their state at the crash."""
    now = engine.runtime.now()
    window = engine.policy.resume_window_seconds
    try:
        live_calls = await engine.switch.live_calls()
    except Exception:  # no switch yet: calls it still has end by its own backstop timer, billed to the last event
        log.exception("the switch could not list its calls; interrupted calls are billed to their last event")
        live_calls = set()
    outcome: Counter[str] = Counter()
    for request in await engine.store.unfinished():
        fresh = (now - request.created_at).total_seconds() <= window
        state = request.state
        try:
            if state in _UNDECIDED and fresh:
                await engine.resume_decision(request)
                outcome[f"resumed_{state.value}"] += 1
            elif state in _NOT_DIALLING and fresh:
                await engine.resume_dialling(request)
                outcome[f"resumed_{state.value}"] += 1
            else:
                await _end(engine, request, live_calls, now)
                outcome[f"ended_{state.value}"] += 1
        except Exception:
            log.exception("recovery of request %s (%s) failed; it stays for the next start", request.id,
                          state.value)
            outcome["failed"] += 1
    return outcome


async def _end(
    engine: CallbackEngine, request: CallbackRequest, live_calls: set[str], now: datetime
) -> None:
    if request.call_id is not None and request.call_id in live_calls:
        await engine.switch.hangup(request.call_id)
        until, detail = now, "call hung up by recovery after a restart"
    else:
        until, detail = _last_seen(request), "call lost in a restart; billed to the last event seen"
    if request.state is S.BRIDGED:
        await engine.end_request(request, S.COMPLETED, None, detail, until)
    else:
        await engine.end_request(request, S.FAILED, FailureReason.INTERRUPTED.value, detail, until)


def _last_seen(request: CallbackRequest) -> datetime:
    moments = [request.updated_at or request.created_at]
    for leg in request.legs:
        moments += [t for t in (leg.started_at, leg.answered_at, leg.bridged_at, leg.ended_at) if t]
    return max(moments)
