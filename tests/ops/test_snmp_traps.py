"""Every alarm reaches a real snmptrapd: as v2c traps, v3 authPriv traps and v2c informs."""

from __future__ import annotations

from pathlib import Path

import pytest_twisted
from twisted.internet import reactor

from roamback.ops.figures import AlarmKind, OpsFigures
from roamback.ops.settings import SnmpSettings, SnmpThresholds
from roamback.ops.snmp._mib import NOTIFICATIONS
from roamback.ops.snmp.agent import SnmpAgent
from roamback.ops.watch import Watch

from .snmp_tools import COMMUNITY, ENGINE_ID, V3_AUTH, V3_PRIV, V3_USER, Trapd

BASE = "1.3.6.1.4.1.32473.1"
TRAP_OID = "1.3.6.1.6.3.1.1.4.1.0"


def _drive(figures: OpsFigures, watch: Watch, links: dict[str, bool], now: list[float]) -> list[AlarmKind]:
    """Walk every alarm through its real trigger: link states, the charging client, the windows."""
    raised: list[AlarmKind] = []
    links["smsc-1"] = False
    links["ocs-1"] = False
    raised += [a.kind for a in watch.check()]  # linkDown, peerDown
    links["smsc-1"] = True
    links["ocs-1"] = True
    raised += [a.kind for a in watch.check()]  # linkUp, peerUp
    published: list[AlarmKind] = []
    figures.subscribe(lambda alarm: published.append(alarm.kind))
    figures.report_charging_failover("CCFH=CONTINUE on ocs-1")
    raised += published
    for n in range(4):  # 4 refusals of 4 decisions, 4 unbridged calls of 4: both alarms
        figures.decisions.add(now[0], True)
        figures.calls.add(now[0] + n, False)
    raised += [a.kind for a in watch.check()]  # refusalRateHigh... asrLow
    now[0] += 10_000  # the window empties: both clear
    raised += [a.kind for a in watch.check()]
    return raised


@pytest_twisted.ensureDeferred
async def test_each_alarm_is_received_as_trap_v3_trap_and_inform(tmp_path: Path) -> None:
    trapd = Trapd(tmp_path, ENGINE_ID)
    agent = None
    try:
        await trapd.ready()
        now = [1000.0]
        figures = OpsFigures(clock=lambda: now[0], window_seconds=900)
        links = {"smsc-1": True, "ocs-1": True}
        figures.register_link_state("smpp", "smsc-1", lambda: links["smsc-1"])
        figures.register_link_state("diameter", "ocs-1", lambda: links["ocs-1"])
        thresholds = SnmpThresholds(asr_below=0.5, refusal_rate_above=0.5, min_samples=4)
        managers = [
            {"host": "127.0.0.1", "port": trapd.port, "version": "v2c", "notify": "trap"},
            {"host": "127.0.0.1", "port": trapd.port, "version": "v3", "user": V3_USER, "notify": "trap"},
            {"host": "127.0.0.1", "port": trapd.port, "version": "v2c", "notify": "inform"},
        ]
        settings = SnmpSettings(enabled=True, port=0, community=COMMUNITY, engine_id=ENGINE_ID,
                                users=[{"name": V3_USER, "auth_key": V3_AUTH, "priv_key": V3_PRIV}],
                                managers=managers, thresholds=thresholds)
        agent = SnmpAgent(settings, figures, reactor)
        await agent.start()
        raised = _drive(figures, Watch(figures, thresholds), links, now)
        log = await trapd.wait_for(f"{TRAP_OID} = OID: .{BASE}.0.", count=3 * len(AlarmKind))
    finally:
        if agent is not None:
            agent.stop()
        trapd.stop()
    assert sorted(raised) == sorted(AlarmKind)
    for kind in AlarmKind:
        assert log.count(f"{TRAP_OID} = OID: .{BASE}.0.{NOTIFICATIONS[kind]}\t") + log.count(
            f"{TRAP_OID} = OID: .{BASE}.0.{NOTIFICATIONS[kind]}\n") == 3, kind
    assert f'.{BASE}.1.3.1.1.3.2 = STRING: "ocs-1"' in log  # the peer's row rides with peerDown/peerUp
    assert f".{BASE}.1.3.1.1.4.2 = INTEGER: 2" in log and f".{BASE}.1.3.1.1.4.2 = INTEGER: 1" in log
    assert f'.{BASE}.1.6.1.0 = STRING: "CCFH=CONTINUE on ocs-1"' in log
    assert f".{BASE}.1.1.2.0 = Gauge32: 1000" in log  # refusal ratio at the alarm
    assert f".{BASE}.1.2.4.0 = Gauge32: 0" in log  # ASR at the alarm
