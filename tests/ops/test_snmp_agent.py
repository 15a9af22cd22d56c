"""The SNMP agent inside the asyncio reactor, read by Net-SNMP's snmpget/snmpwalk/snmpbulkwalk (v2c, v3)."""

from __future__ import annotations

from typing import Any

import pytest_twisted
from twisted.internet import reactor

from roamback.core.reasons import FailureReason, RefusalReason
from roamback.ops.figures import OpsFigures
from roamback.ops.settings import SnmpSettings
from roamback.ops.snmp import MIB_FILE
from roamback.ops.snmp._mib import CHANNELS, FAILURES, REFUSALS, Layout
from roamback.ops.snmp.agent import SnmpAgent

from .snmp_tools import (
    COMMUNITY,
    ENGINE_ID,
    V3_AUTH,
    V3_PRIV,
    V3_USER,
    ietf_mib_dir,
    parse,
    run,
    tool,
    v2c,
    v3,
)

BASE = "1.3.6.1.4.1.32473.1"


def _figures() -> OpsFigures:
    f = OpsFigures(clock=lambda: 1000.0, window_seconds=900)
    f.triggers["ussd"] = 7
    f.triggers["sms"] = 2
    f.refused[RefusalReason.NO_CREDIT.value] = 3
    f.failed[FailureReason.B_BUSY.value] = 4
    f.accepted, f.completed, f.outbox_depth = 6, 2, 5
    for at, bridged, talk in ((900.0, True, 60.0), (950.0, True, 30.0), (990.0, False, 0.0), (995.0, False, 0.0)):
        f.calls.add(at, bridged, talk)
    f.register_link_state("smpp", "smsc-1", lambda: True)
    f.register_link_state("diameter", "ocs-1", lambda: False, required=False)
    return f


async def _agent(figures: OpsFigures, refresh_seconds: float = 1.0, **settings: Any) -> SnmpAgent:
    config = SnmpSettings(
        enabled=True, port=0, community=COMMUNITY, engine_id=ENGINE_ID,
        users=[{"name": V3_USER, "auth_key": V3_AUTH, "priv_key": V3_PRIV}], **settings,
    )
    agent = SnmpAgent(config, figures, reactor, refresh_seconds=refresh_seconds)
    await agent.start()
    return agent


@pytest_twisted.ensureDeferred
async def test_snmpget_v2c_reads_the_figures() -> None:
    agent = await _agent(_figures())
    try:
        port = agent.address[1]
        result = await run(*v2c("snmpget", port, f"{BASE}.1.1.1.0", f"{BASE}.1.1.3.1.3.1", f"{BASE}.1.1.4.1.3.12",
                                f"{BASE}.1.2.4.0", f"{BASE}.1.2.5.0", f"{BASE}.1.2.6.1.3.5", f"{BASE}.1.4.1.0",
                                f"{BASE}.1.3.1.1.4.2", "1.3.6.1.2.1.1.3.0", f"{BASE}.1.1.1.7.0"))
    finally:
        agent.stop()
    assert result.returncode == 0, result.stderr
    values = parse(result.stdout)
    assert values[f"{BASE}.1.1.1.0"] == "Counter32: 6"
    assert values[f"{BASE}.1.1.3.1.3.1"] == "Counter32: 7"  # ussd is channel 1
    assert values[f"{BASE}.1.1.4.1.3.12"] == "Counter32: 3"  # no_credit is refusal 12
    assert values[f"{BASE}.1.2.4.0"] == "Gauge32: 500"  # ASR 2 of 4, per mille
    assert values[f"{BASE}.1.2.5.0"] == "Gauge32: 45"  # ACD (60 + 30) / 2
    assert values[f"{BASE}.1.2.6.1.3.5"] == "Counter32: 4"  # b_busy is failure 5
    assert values[f"{BASE}.1.4.1.0"] == "Gauge32: 5"
    assert values[f"{BASE}.1.3.1.1.4.2"] == "INTEGER: 2"  # the Diameter peer is down
    assert values["1.3.6.1.2.1.1.3.0"].startswith("Timeticks:")  # the system group still answers
    assert "No Such Object" in values[f"{BASE}.1.1.1.7.0"]


@pytest_twisted.ensureDeferred
async def test_snmpwalk_v2c_returns_every_instance_in_order() -> None:
    figures = _figures()
    agent = await _agent(figures)
    try:
        result = await run(*v2c("snmpwalk", agent.address[1], BASE))
    finally:
        agent.stop()
    assert result.returncode == 0, result.stderr
    walked = list(parse(result.stdout))
    expected = [".".join(map(str, i.oid)) for i in Layout.parse(BASE).objects(figures)]
    assert walked == expected
    assert len(walked) == 2 * (len(CHANNELS) + len(REFUSALS) + len(FAILURES)) + 2 * 4 + 9


@pytest_twisted.ensureDeferred
async def test_snmpbulkwalk_v3_auth_priv_and_v2c_agree() -> None:
    agent = await _agent(_figures())
    try:
        port = agent.address[1]
        secure = await run(*v3("snmpbulkwalk", port, f"{BASE}.1.3"))
        plain = await run(*v2c("snmpbulkwalk", port, f"{BASE}.1.3"))
        wrong_key = await run(*v3("snmpget", port, f"{BASE}.1.1.1.0", auth="not-the-key"))
        wrong_community = await run(*v2c("snmpget", port, f"{BASE}.1.1.1.0", community="guess"), timeout=20)
    finally:
        agent.stop()
    assert secure.returncode == 0, secure.stderr
    assert parse(secure.stdout) == parse(plain.stdout)
    assert parse(secure.stdout) == {
        f"{BASE}.1.3.1.1.2.1": 'STRING: "smpp"', f"{BASE}.1.3.1.1.2.2": 'STRING: "diameter"',
        f"{BASE}.1.3.1.1.3.1": 'STRING: "smsc-1"', f"{BASE}.1.3.1.1.3.2": 'STRING: "ocs-1"',
        f"{BASE}.1.3.1.1.4.1": "INTEGER: 1", f"{BASE}.1.3.1.1.4.2": "INTEGER: 2",
        f"{BASE}.1.3.1.1.5.1": "INTEGER: 1", f"{BASE}.1.3.1.1.5.2": "INTEGER: 2",
    }
    assert wrong_key.returncode != 0 and "Counter32" not in wrong_key.stdout
    assert wrong_community.returncode != 0 and "Timeout" in wrong_community.stderr


@pytest_twisted.ensureDeferred
async def test_v2c_fast_path_answers_as_pysnmp_answers_v3() -> None:
    """v2c reads of our subtree never reach pysnmp, v3 reads always do: the same requests must agree."""
    agent = await _agent(_figures())
    last = ".".join(map(str, agent.snapshot.oids[-1]))
    requests = [
        ("snmpget", f"{BASE}.1.1.1.0", f"{BASE}.1.1.1.7.0", f"{BASE}.1.1.3.1.3.99", f"{BASE}.1.9.0",
         f"{BASE}.1.3.1.1.4.2"),
        ("snmpgetnext", f"{BASE}.1.2", last, "1.3.6.1.2.1.2"),
        ("snmpbulkget", "-Cn2", "-Cr3", f"{BASE}.1.1.1.0", last, f"{BASE}.1.3.1.1.5", f"{BASE}.1.4"),
        ("snmpbulkget", "-Cn0", "-Cr50", f"{BASE}.1.3"),
    ]
    try:
        port = agent.address[1]
        answers = [(await run(*v2c(command, port, *args)), await run(*v3(command, port, *args)))
                   for command, *args in requests]
    finally:
        agent.stop()
    for (command, *args), (plain, secure) in zip(requests, answers, strict=True):
        assert plain.returncode == 0 and secure.returncode == 0, (command, args, plain.stderr, secure.stderr)
        assert _ends_once(plain.stdout) == _ends_once(secure.stdout), (command, args)
        assert plain.stdout.count(" = ") >= len(args) - 2


def _ends_once(output: str) -> list[str]:
    """GETBULK answers: pysnmp repeats endOfMibView for every repetition left, the fast path stops once every
    repeater has ended (RFC 3416 4.2.3 allows both, Net-SNMP's agent does the latter)."""
    return list(dict.fromkeys(output.splitlines()))


@pytest_twisted.ensureDeferred
async def test_values_change_with_each_snapshot_and_the_mib_names_them() -> None:
    figures = _figures()
    agent = await _agent(figures, refresh_seconds=3600)  # no timer refresh during the test: only ours
    mibs = f"{ietf_mib_dir()}:{MIB_FILE.parent}"
    try:
        port = agent.address[1]
        first = await run(*v2c("snmpget", port, f"{BASE}.1.2.1.0", f"{BASE}.1.1.1.0"))
        figures.accepted += 1
        figures.register_link_state("smpp", "smsc-2", lambda: True)
        stale = await run(*v2c("snmpget", port, f"{BASE}.1.1.1.0"))
        agent.refresh()
        fresh = await run(*v3("snmpget", port, f"{BASE}.1.1.1.0"))
        named = await run(tool("snmpwalk"), "-v2c", "-c", COMMUNITY, "-M", mibs, "-m", "ROAMBACK-MIB",
                          f"udp:127.0.0.1:{port}", "ROAMBACK-MIB::roambackLinkName")
        counts = await run(tool("snmpwalk"), "-v2c", "-c", COMMUNITY, "-M", mibs, "-m", "ROAMBACK-MIB",
                           f"udp:127.0.0.1:{port}", "ROAMBACK-MIB::roambackRefusalCount")
    finally:
        agent.stop()
    assert parse(first.stdout) == {f"{BASE}.1.2.1.0": "Gauge32: 0", f"{BASE}.1.1.1.0": "Counter32: 6"}
    assert parse(stale.stdout)[f"{BASE}.1.1.1.0"] == "Counter32: 6"  # served from the snapshot
    assert parse(fresh.stdout)[f"{BASE}.1.1.1.0"] == "Counter32: 7"
    assert named.returncode == 0, named.stderr
    assert "ROAMBACK-MIB::roambackLinkName.3 = STRING: smsc-2" in named.stdout
    # the MIB's enumeration names the same rows as the code's enum order
    assert "ROAMBACK-MIB::roambackRefusalCount.noCredit = Counter32: 3" in counts.stdout
    assert counts.stdout.count("ROAMBACK-MIB::roambackRefusalCount.") == len(REFUSALS)
    assert "Cannot find module" not in named.stderr + counts.stderr


@pytest_twisted.ensureDeferred
async def test_a_busy_port_fails_at_start() -> None:
    first = await _agent(_figures())
    try:
        second = SnmpAgent(SnmpSettings(enabled=True, port=first.address[1], community=COMMUNITY), _figures(),
                           reactor)
        try:
            await second.start()
        except OSError as exc:
            failure: OSError | None = exc
        else:
            second.stop()
            failure = None
    finally:
        first.stop()
    assert failure is not None and "in use" in str(failure)
