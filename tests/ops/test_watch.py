"""Alarms are edges, not levels; ratios need enough samples; the ops service polls the real outbox."""

from __future__ import annotations

import pytest_twisted
from twisted.internet import reactor

from roamback.ops.figures import AlarmKind, OpsFigures
from roamback.ops.service import build_ops_service
from roamback.ops.settings import MetricsSettings, SnmpSettings, SnmpThresholds
from roamback.ops.watch import Watch

from ..core.harness import DEST_OK, make_harness, roamer


def test_a_link_alarms_once_per_change_and_a_link_first_seen_down_at_once() -> None:
    figures = OpsFigures(clock=lambda: 0.0)
    up = {"smsc": True}
    figures.register_link_state("smpp", "smsc", lambda: up["smsc"])
    figures.register_link_state("diameter", "ocs", lambda: False)
    heard: list[AlarmKind] = []
    figures.subscribe(lambda alarm: heard.append(alarm.kind))
    watch = Watch(figures, SnmpThresholds())
    assert [a.kind for a in watch.check()] == [AlarmKind.PEER_DOWN]
    assert watch.check() == []
    up["smsc"] = False
    assert [(a.kind, a.subject) for a in watch.check()] == [(AlarmKind.LINK_DOWN, "smsc")]
    assert watch.check() == []
    up["smsc"] = True
    assert [a.kind for a in watch.check()] == [AlarmKind.LINK_UP]
    assert heard == [AlarmKind.PEER_DOWN, AlarmKind.LINK_DOWN, AlarmKind.LINK_UP]


def test_ratios_alarm_only_over_enough_samples_and_clear_when_the_window_empties() -> None:
    now = [0.0]
    figures = OpsFigures(clock=lambda: now[0], window_seconds=60)
    watch = Watch(figures, SnmpThresholds(asr_below=0.5, refusal_rate_above=None, min_samples=3))
    figures.calls.add(0.0, False)
    figures.calls.add(1.0, False)
    assert watch.check() == []  # ASR 0 on two calls: not enough to page anyone
    figures.calls.add(2.0, True)
    alarms = watch.check()
    assert [(a.kind, round(a.value or 0, 2)) for a in alarms] == [(AlarmKind.ASR_LOW, 0.33)]
    assert watch.check() == []
    now[0] = 100.0
    assert [a.kind for a in watch.check()] == [AlarmKind.ASR_NORMAL]


@pytest_twisted.ensureDeferred
async def test_the_ops_service_counts_queued_notices(sqlite_database) -> None:
    h = await make_harness(sqlite_database)
    service = build_ops_service(h.engine, h.runtime, sqlite_database, reactor,
                                MetricsSettings(poll_seconds=0.05), SnmpSettings())
    service.startService()
    try:
        await service.started
        await h.add_roamer(roamer())
        await h.finished(await h.submit(DEST_OK))
        await h.until(lambda: service.figures.outbox_depth == 1)  # the completion notice, never sent here
        assert service.figures.completed == 1
        assert b"roamback_outbox_queued_notices 1.0" in service.metrics.render()
    finally:
        service.stopService()
