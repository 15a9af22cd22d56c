"""Store and forward towards the service: a deliver_sm is offered again until the service takes it.

This is the SMSC behaviour the service's "answer ESME_RX_T_APPN until the message is durably stored" rule
relies on: a temporary refusal, a timeout, a lost bind or no bind at all means "try later", with the delay
doubling up to a cap; a permanent refusal (any other status) drops the message at once, as SMSCs do.
ESME_RTHROTTLED is first handled by the bind itself (it resends after a pause); when that gives up the
refusal lands here and counts as temporary too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.python.failure import Failure

from ..gateway.smpp import FailureReason, MessageResp, Pdu, SmppRequestError, Status
from .config import RetryConfig

TEMPORARY = frozenset({Status.RX_T_APPN, Status.RTHROTTLED, Status.RMSGQFUL})

Deliver = Callable[[str, Pdu], Deferred[MessageResp]]
RetryNotice = Callable[[int, int | None, float], None]
"""Called before each wait with (attempt that failed, its status or None, seconds until the next)."""


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    ok: bool
    attempts: int
    status: int | None
    """The last command_status; None when the last attempt got no answer (no bind, timeout, lost bind)."""


class Redelivery:
    """Offers deliver_sm PDUs to an ESME with retries; ``stop`` cancels every wait still scheduled."""

    def __init__(self, deliver: Deliver, clock: IReactorTime, retry: RetryConfig) -> None:
        self._deliver = deliver
        self._clock = clock
        self._retry = retry
        self._waiting: set[IDelayedCall] = set()

    def send(self, system_id: str, pdu: Pdu, on_retry: RetryNotice | None = None) -> Deferred[DeliveryResult]:
        """Fires with the outcome once the service took the PDU or it was given up; never fails."""
        result: Deferred[DeliveryResult] = Deferred()
        self._attempt(system_id, pdu, 1, result, on_retry)
        return result

    def stop(self) -> None:
        for call in list(self._waiting):
            call.cancel()
        self._waiting.clear()

    def _attempt(
        self, system_id: str, pdu: Pdu, attempt: int, result: Deferred[DeliveryResult], on_retry: RetryNotice | None
    ) -> None:
        def refused(failure: Failure) -> None:
            failure.trap(SmppRequestError)
            error: SmppRequestError = failure.value
            answered = error.reason is FailureReason.STATUS
            status = error.status if answered else None
            if (answered and status not in TEMPORARY) or attempt >= self._retry.attempts:
                result.callback(DeliveryResult(False, attempt, status))
                return
            delay = min(self._retry.initial_seconds * 2 ** (attempt - 1), self._retry.max_seconds)
            if on_retry is not None:
                on_retry(attempt, status, delay)

            def again() -> None:
                self._waiting.discard(call)
                self._attempt(system_id, pdu, attempt + 1, result, on_retry)

            call = self._clock.callLater(delay, again)
            self._waiting.add(call)

        self._deliver(system_id, pdu).addCallbacks(
            lambda response: result.callback(DeliveryResult(True, attempt, response.command_status)), refused
        )
