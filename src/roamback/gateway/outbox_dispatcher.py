"""Moves queued notices from the durable outbox to the Notifier, with retries.

The outbox row is written in the same transaction as the state it reports, so a notice is never lost;
this loop only delivers. A crash between send and mark_sent may send one text twice: we prefer a rare
duplicate SMS to a lost refusal reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from twisted.application.service import Service
from twisted.internet import defer, task
from twisted.logger import Logger

from ..core.model import Notice
from ..core.ports import NoticeUndeliverable, Notifier, Runtime
from ..storage.outbox import OutboxItem, OutboxStore

log = Logger()


class OutboxDispatcher(Service):
    def __init__(
        self,
        outbox: OutboxStore,
        notifier: Notifier,
        runtime: Runtime,
        reactor: object,
        *,
        poll_seconds: float,
        retry_delays_seconds: Sequence[float],
        max_attempts: int,
        batch: int = 200,
    ) -> None:
        self.outbox = outbox
        self.notifier = notifier
        self.runtime = runtime
        self.poll_seconds = poll_seconds
        self.retry_delays = tuple(retry_delays_seconds) or (60.0,)
        self.max_attempts = max_attempts
        self.batch = batch
        self._loop = task.LoopingCall(self._tick)
        self._loop.clock = reactor
        self._running: defer.Deferred[None] | None = None

    def startService(self) -> None:
        super().startService()
        self._running = self._loop.start(self.poll_seconds, now=True)
        self._running.addErrback(lambda f: log.failure("outbox loop died", f))

    def stopService(self) -> defer.Deferred[None] | None:
        super().stopService()
        if self._loop.running:
            self._loop.stop()
        return self._running

    def _tick(self) -> defer.Deferred[int]:
        return defer.Deferred.fromCoroutine(self.deliver_due())

    async def deliver_due(self) -> int:
        """Deliver what is due now; return how many were handed to the notifier."""
        items = await self.outbox.due(self.runtime.now(), self.batch)
        sent = 0
        for item in items:
            sent += await self._deliver(item)
        return sent

    async def _deliver(self, item: OutboxItem) -> int:
        notice = Notice(request_id=item.request_id, msisdn=item.msisdn, language=item.language,
                        key=item.key, text=item.text)
        try:
            message_id = await self.notifier.send(notice)
        except NoticeUndeliverable as exc:
            log.warn("notice {id} refused by the network for good: {error}", id=item.id, error=exc)
            await self.outbox.mark_failed(item.id, f"{type(exc).__name__}: {exc}"[:200])
            return 0
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:200]
            if item.attempts + 1 >= self.max_attempts:
                log.error("notice {id} given up after {n} attempts: {error}", id=item.id,
                          n=item.attempts + 1, error=error)
                await self.outbox.mark_failed(item.id, error)
            else:
                delay = self.retry_delays[min(item.attempts, len(self.retry_delays) - 1)]
                await self.outbox.mark_retry(item.id, error, self.runtime.now() + timedelta(seconds=delay))
            return 0
        await self.outbox.mark_sent(item.id, message_id, self.runtime.now())
        return 1
