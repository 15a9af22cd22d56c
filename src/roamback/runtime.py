"""The one place the core's ``Runtime`` port meets the Twisted reactor.

Everything in the core and in the embedded adapters asks this object for the time and for timers, so a
``twisted.internet.task.Clock`` handed in here makes a whole call flow run in fake time: tests advance
the clock instead of sleeping, and load tests can compress hours into seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

log = Logger()


class TwistedRuntime:
    """``core.ports.Runtime`` on a reactor (or anything providing ``IReactorTime``).

    ``speed`` > 1 runs simulated time faster than the wall clock (demo, load tests): timestamps and
    timers agree with each other, so a 60 s simulated call lasts 60 s in its CDR while taking 60/speed
    real seconds. The clock starts at the real time, so CDRs of a short demo stay near the present.
    """

    def __init__(self, reactor: IReactorTime, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._reactor = reactor
        self._speed = speed
        self._origin = reactor.seconds()

    def now(self) -> datetime:
        # reactor.seconds() rather than the system clock, so that a fake clock fakes every timestamp.
        elapsed = self._reactor.seconds() - self._origin
        return datetime.fromtimestamp(self._origin + elapsed * self._speed, UTC)

    def call_later(self, seconds: float, fn: Callable[..., Any], *args: Any) -> IDelayedCall:
        return self._reactor.callLater(seconds / self._speed, fn, *args)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Fire and forget, but never silently: a background failure is an operator's problem to see.

        Driven here rather than by ``Deferred.fromCoroutine``: it runs at once up to its first suspension
        either way, but a task spawned per USSD step then costs no Deferred, cancellation status or
        context copy of its own, only a callback on the Deferred it actually waits for.
        """
        _resume(None, coro, getattr(coro, "__qualname__", repr(coro)))


def _resume(result: object, coro: Coroutine[Any, Any, Any], name: str) -> None:
    """Send ``result`` (a ``Failure`` is thrown) into ``coro`` and run it to its next wait on a Deferred.

    Anything else it yields is sent straight back, as ``inlineCallbacks`` does. Awaiting a Deferred that
    has already fired never yields (Twisted returns its result at once), so each callback here starts from
    the reactor, never from a deeper stack. Returns None so that the Deferred it waited on has nothing left
    to report as unhandled.
    """
    while True:
        try:
            result = result.throwExceptionIntoGenerator(coro) if isinstance(result, Failure) else coro.send(result)
        except StopIteration:
            return
        except BaseException:
            _log_failure(Failure(), name)
            return
        if isinstance(result, Deferred):
            result.addBoth(_resume, coro, name)
            return


def _log_failure(failure: Failure, name: str) -> None:
    log.failure("Background task {task} failed", failure, task=name)
