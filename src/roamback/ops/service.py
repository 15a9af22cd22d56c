"""The operations service: feeds the figures from the running node and runs the SNMP agent.

It owns the only timers of the ops package: a reactor-lag probe (how late a timer set for ``interval``
actually fires is how long some callback hogged the reactor, the figure that explains every latency
spike), and a poll that counts the outbox, then asks the watch for alarms. Counting the outbox is a SQL
read, so it is done here on the database's reader threads, never during a scrape.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from twisted.application.service import Service
from twisted.internet import defer, task
from twisted.logger import Logger

from ..core.engine import CallbackEngine
from ..runtime import TwistedRuntime
from ..storage.outbox import QUEUED
from ..storage.pool import Database
from ..storage.schema import notice_outbox
from .figures import OpsFigures
from .metrics import Metrics
from .settings import MetricsSettings, SnmpSettings
from .snmp.agent import SnmpAgent
from .watch import Watch

log = Logger()
_QUEUED_COUNT = sa.select(sa.func.count()).select_from(notice_outbox).where(notice_outbox.c.state == QUEUED)


class ReactorLagProbe:
    """Sets ``gauge`` to how late each ``interval``-second timer fired."""

    def __init__(self, reactor: Any, gauge: Any, interval: float = 0.5) -> None:
        self._reactor = reactor
        self._gauge = gauge
        self._interval = interval
        self._call: Any = None
        self._due = 0.0

    def start(self) -> None:
        self._due = self._reactor.seconds() + self._interval
        self._call = self._reactor.callLater(self._interval, self._tick)

    def _tick(self) -> None:
        self._gauge.set(max(0.0, self._reactor.seconds() - self._due))
        self.start()

    def stop(self) -> None:
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None


class OpsService(Service):
    """Add as a child of the node's service tree once the database is up; stops before it."""

    def __init__(self, figures: OpsFigures, metrics: Metrics, db: Database, reactor: Any,
                 settings: MetricsSettings, snmp: SnmpSettings) -> None:
        self.figures = figures
        self.metrics = metrics
        self.agent = SnmpAgent(snmp, figures, reactor) if snmp.enabled else None
        self._db = db
        self._watch = Watch(figures, snmp.thresholds)
        self._lag = ReactorLagProbe(reactor, metrics.reactor_lag)
        self._poll = task.LoopingCall(lambda: defer.Deferred.fromCoroutine(self._poll_once()))
        self._poll.clock = reactor
        self._interval = settings.poll_seconds
        self.started: defer.Deferred[None] = defer.Deferred()

    def startService(self) -> None:
        super().startService()
        self._lag.start()
        defer.Deferred.fromCoroutine(self._start()).chainDeferred(self.started)

    async def _start(self) -> None:
        if self.agent is not None:
            await self.agent.start()
        self._poll.start(self._interval, now=True).addErrback(
            lambda failure: log.failure("ops poll stopped", failure))

    async def _poll_once(self) -> None:
        try:
            self.figures.outbox_depth = int(await self._db.read(lambda conn: conn.execute(_QUEUED_COUNT).scalar_one()))
        except Exception:  # the database being down must not silence the link alarms below
            log.failure("counting the outbox failed")
        self._watch.check()

    def stopService(self) -> None:
        self._lag.stop()
        if self._poll.running:
            self._poll.stop()
        if self.agent is not None:
            self.agent.stop()
        super().stopService()


def build_ops_service(engine: CallbackEngine, runtime: TwistedRuntime, db: Database, reactor: Any,
                      settings: MetricsSettings, snmp: SnmpSettings) -> OpsService:
    """Figures fed by ``engine``, their metrics registry, and the service that polls and serves SNMP.

    Windows use the runtime's clock, the one transitions are stamped with, so a compressed demo clock
    compresses the windows too.
    """
    figures = OpsFigures(clock=lambda: runtime.now().timestamp(), window_seconds=settings.window_seconds)
    engine.add_listener(figures.on_transition)
    metrics = Metrics(figures, db=db, thread_pool=reactor.getThreadPool())
    return OpsService(figures, metrics, db, reactor, settings, snmp)
