"""Run coroutine steps of one object strictly one after another, in the order they were submitted.

Switch adapters receive a call's events, timers and commands from several sources at once; a step that
awaits a network answer must not interleave with the next one, or it would act on a call that changed
under it. ``submit`` hands back a Deferred for a step's own result; ``post`` is for steps nobody waits
for, whose failures are logged instead.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

from twisted.internet.defer import Deferred
from twisted.logger import Logger

log = Logger()

Step = Callable[..., Coroutine[Any, Any, Any]]


class Serial:
    __slots__ = ("_queue", "_running")

    def __init__(self) -> None:
        self._queue: deque[tuple[Step, tuple[Any, ...], Deferred[Any]]] = deque()
        self._running = False

    @property
    def idle(self) -> bool:
        return not self._running and not self._queue

    def submit(self, step: Step, *args: Any) -> Deferred[Any]:
        """Queue ``step(*args)``; the returned Deferred fires with its result or failure."""
        done: Deferred[Any] = Deferred()
        self._queue.append((step, args, done))
        if not self._running:
            Deferred.fromCoroutine(self._run())
        return done

    def post(self, step: Step, *args: Any) -> None:
        """Queue ``step(*args)`` with nobody waiting: a failure is logged, never dropped."""
        self.submit(step, *args).addErrback(
            lambda failure: log.failure("Switch step {step} failed", failure, step=step.__qualname__))

    async def _run(self) -> None:
        self._running = True
        try:
            while self._queue:
                step, args, done = self._queue.popleft()
                try:
                    result = await step(*args)
                except Exception as exc:
                    done.errback(exc)
                else:
                    done.callback(result)
        finally:
            self._running = False
