"""Prometheus exposition of the node's figures, in a registry of its own.

Each service instance gets its own ``CollectorRegistry`` (never the global one) so that two services in
one test process, or a benchmark next to the service, do not collide on metric names. The request
figures are read from ``OpsFigures`` at scrape time by a custom collector, so Prometheus shows exactly
what SNMP shows; only the histograms are prometheus_client objects, fed with each measured duration.

Names follow ``roamback_<subsystem>_<thing>`` (Synapse's convention); every label value comes from a
closed set (channels, reasons, configured links), never from a number or an id, so the series count
stays bounded. Label sets of reasons are emitted in full, zeros included, so that a dashboard's rate()
sees a series before its first increment.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from ..core.model import Channel
from ..core.reasons import CancelReason, FailureReason, RefusalReason
from .figures import OpsFigures

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_DURATION_BUCKETS = (5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 3600.0)


def _counter(name: str, doc: str, label: str, values: Iterable[str], counts: dict[str, int]) -> CounterMetricFamily:
    family = CounterMetricFamily(name, doc, labels=[label])
    for value in sorted({*values, *counts}):
        family.add_metric([value], counts.get(value, 0))
    return family


class _FiguresCollector(Collector):
    def __init__(self, figures: OpsFigures) -> None:
        self._f = figures

    def collect(self) -> Iterator[Any]:
        f = self._f
        yield _counter("roamback_requests_triggers", "Callback triggers received, by front door.", "channel",
                       (c.value for c in Channel), f.triggers)
        yield CounterMetricFamily("roamback_requests_accepted", "Requests past every check, credit reserved.",
                                  value=f.accepted)
        yield _counter("roamback_requests_refused", "Requests refused, by reason.", "reason",
                       (r.value for r in RefusalReason), f.refused)
        yield GaugeMetricFamily("roamback_requests_refusal_ratio",
                                "Refused / (accepted + refused) over the sliding window.", value=f.refusal_rate())
        yield GaugeMetricFamily("roamback_calls_active", "Callbacks with a call on the switch.",
                                value=f.calls_active)
        yield GaugeMetricFamily("roamback_calls_bridged", "Callbacks bridged now (both legs talking).",
                                value=f.calls_bridged)
        yield CounterMetricFamily("roamback_calls_bridged_events", "Calls bridged since start.",
                                  value=f.bridged_total)
        yield CounterMetricFamily("roamback_calls_completed", "Callbacks completed (bridged, then ended).",
                                  value=f.completed)
        yield _counter("roamback_calls_failed", "Accepted callbacks that ended without a call, by reason.",
                       "reason", (r.value for r in FailureReason), f.failed)
        yield _counter("roamback_calls_cancelled", "Callbacks cancelled, by reason.", "reason",
                       (r.value for r in CancelReason), f.cancelled)
        yield GaugeMetricFamily("roamback_calls_asr_ratio",
                                "Answer-seizure ratio: dialled callbacks that were bridged, sliding window.",
                                value=f.asr())
        yield GaugeMetricFamily("roamback_calls_acd_seconds",
                                "Average bridged duration over the sliding window.", value=f.acd_seconds())
        yield CounterMetricFamily("roamback_charging_failovers", "Times charging failure handling engaged.",
                                  value=f.charging_failovers)
        yield GaugeMetricFamily("roamback_outbox_queued_notices", "Notices queued and not yet sent.",
                                value=f.outbox_depth)
        links = GaugeMetricFamily("roamback_link_up", "1 if the link or peer is up.", labels=["kind", "name"])
        for link in f.links:
            links.add_metric([link.kind, link.name], 1.0 if link.up() else 0.0)
        yield links


class _DatabaseCollector(Collector):
    """The group-commit writer's work: batch size is rate(units) / rate(batches)."""

    def __init__(self, db: Any) -> None:
        self._db = db

    def collect(self) -> Iterator[Any]:
        yield CounterMetricFamily("roamback_db_write_batches", "Transactions committed by the writers.",
                                  value=self._db.batches)
        yield CounterMetricFamily("roamback_db_write_units", "Units of work committed in those batches.",
                                  value=self._db.units)
        # Database keeps its queue private; qsize() of a SimpleQueue is safe from any thread.
        yield GaugeMetricFamily("roamback_db_write_queue_depth", "Units of work waiting for a writer.",
                                value=self._db._queue.qsize())


class _ThreadPoolCollector(Collector):
    """The reactor's thread pool (deferToThread: directory queries, Alembic, DNS)."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    def collect(self) -> Iterator[Any]:
        yield GaugeMetricFamily("roamback_threadpool_workers", "Threads in the reactor pool.",
                                value=self._pool.workers)
        yield GaugeMetricFamily("roamback_threadpool_busy", "Threads of the pool running a job.",
                                value=len(self._pool.working))


class Metrics:
    """One node's Prometheus registry: figures, histograms, database, thread pool and reactor lag."""

    def __init__(self, figures: OpsFigures, db: Any = None, thread_pool: Any = None) -> None:
        self.figures = figures
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(_FiguresCollector(figures))
        if db is not None:
            self.registry.register(_DatabaseCollector(db))
        if thread_pool is not None:
            self.registry.register(_ThreadPoolCollector(thread_pool))
        self.reactor_lag = Gauge("roamback_reactor_lag_seconds", "How late the last reactor tick probe ran.",
                                 registry=self.registry)
        histograms = {
            "received_to_dialling_a": Histogram(
                "roamback_requests_dialling_latency_seconds", "From trigger received to leg A dialled.",
                buckets=_LATENCY_BUCKETS, registry=self.registry),
            "bridged_duration": Histogram(
                "roamback_calls_bridged_duration_seconds", "Talk time of bridged calls.",
                buckets=_DURATION_BUCKETS, registry=self.registry),
        }
        figures.add_latency_observer(lambda name, seconds: histograms[name].observe(seconds))

    def render(self) -> bytes:
        return generate_latest(self.registry)
