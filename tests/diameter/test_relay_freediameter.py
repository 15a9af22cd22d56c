"""Through a real relay: Debian's freeDiameterd in front of two python-diameter OCS processes.

The relay routes realm ocs.test to either OCS (rt_default, equal scores), keeps a session on its OCS by
our Destination-Host, fails requests over when an OCS dies, and answers 3002 with the E bit for a realm
it cannot route. Configuration lives in tests/peers/freediameter/.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
import pytest_twisted

from roamback.core.model import Leg
from roamback.core.ports import ChargingRefused
from roamback.core.reasons import RefusalReason
from roamback.diameter import RoCharging

from .peers import (
    PEERS,
    PeerProcess,
    free_port,
    freediameterd,
    ocs_peer,
    ro_settings,
    start_peer,
    start_python_ocs,
    started_backend,
    wait_until,
)
from .test_ro_python_diameter import context

RELAY_HOST, RELAY_REALM = "dra.relay.test", "relay.test"
CONFIG = PEERS / "freediameter"


def write_config(workdir: Path, ocs_ports: dict[str, int]) -> tuple[Path, int]:
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    f"/CN={RELAY_HOST}", "-keyout", str(workdir / "key.pem"), "-out", str(workdir / "cert.pem")],
                   check=True, capture_output=True, timeout=30)
    for name in ("rt_default.conf", "acl_wl.conf"):
        (workdir / name).write_text((CONFIG / name).read_text())
    connect = "\n".join(
        f'ConnectPeer = "{host}" {{ ConnectTo = "127.0.0.1"; Port = {port}; No_TLS; No_SCTP; Prefer_TCP; }};'
        for host, port in ocs_ports.items()
    )
    port = free_port()
    text = (CONFIG / "freeDiameter.conf.in").read_text().format(
        port=port, sec_port=free_port(), workdir=workdir, connect_peers=connect)
    (workdir / "freeDiameter.conf").write_text(text)
    return workdir / "freeDiameter.conf", port


@pytest_twisted.async_yield_fixture
async def relay(tmp_path: Path):
    binary = freediameterd()
    hosts = {"ocs1.ocs.test": free_port(), "ocs2.ocs.test": free_port()}
    processes: list[PeerProcess] = []
    try:
        for host, port in hosts.items():
            processes.append(await start_python_ocs(port, host=host, client_host=RELAY_HOST,
                                                    client_realm=RELAY_REALM))
        config, port = write_config(tmp_path, hosts)
        dra = await start_peer("freeDiameterd", [binary, "-c", str(config)], ready="")  # ready: both CERs below
        processes.append(dra)
        for ocs in processes[:2]:
            await ocs.saw(f"CER {RELAY_HOST}", timeout=15)
        backend = await started_backend(ro_settings([ocs_peer("dra", port, realm="*", relay=True)]))
        await wait_until(lambda: backend.service.links["dra"].machine.state == "open", 15, "relay open")
        yield backend, processes
        await backend.service.stopService()
    finally:
        for process in processes:
            await process.stop()


def ccr_lines(processes: list[PeerProcess]) -> dict[str, list[list[str]]]:
    return {ocs.name: [line.split() for line in ocs.matching("CCR ")] for ocs in processes[:2]}


@pytest_twisted.ensureDeferred
async def test_sessions_are_routed_by_realm_and_stay_on_their_ocs(relay):
    backend, processes = relay
    for _ in range(4):
        grant = await backend.reserve(context("100"))
        await backend.terminate(grant.reservation_id, {Leg.A: 30, Leg.B: 10})
    lines = ccr_lines(processes)
    for name, requests in lines.items():
        sessions = {}
        for request in requests:
            sessions.setdefault(request[3], []).append(request)
        for per_session in sessions.values():
            assert [r[1] for r in per_session] == ["1", "3"], name  # CCR-I and CCR-T on the same OCS
            assert per_session[1][5] == name  # Destination-Host named the OCS that granted it
    assert sum(len(r) for r in lines.values()) == 8


@pytest_twisted.ensureDeferred
async def test_kill_9_of_one_ocs_behind_the_relay_fails_no_callback(relay):
    backend, processes = relay
    grants = [await backend.reserve(context("100")) for _ in range(3)]
    processes[0].signal("KILL")
    grants += [await backend.reserve(context("100")) for _ in range(6)]
    assert all(grant.max_talk_seconds == 600 for grant in grants)
    settlements = [await backend.terminate(g.reservation_id, {Leg.A: 20, Leg.B: 5}) for g in grants]
    assert all(s.billed_seconds == {Leg.A: 20, Leg.B: 5} for s in settlements)


@pytest_twisted.ensureDeferred
async def test_an_unknown_realm_gets_3002_and_charging_unavailable(relay):
    backend, _ = relay
    settings = ro_settings([ocs_peer("dra", 1, realm="*", relay=True)], destination_realm="nowhere.test")
    lost = RoCharging(backend.service, settings, session_prefix="roamback.client.test;0", schedule=lambda fn: None)
    with pytest.raises(ChargingRefused) as refused:
        await lost.reserve(context("100"))
    assert refused.value.reason is RefusalReason.CHARGING_UNAVAILABLE
    assert refused.value.detail == "CCA-I result 3002"


@pytest.mark.parametrize("handling", ["terminate", "continue"])
@pytest_twisted.ensureDeferred
async def test_frozen_ocs_behind_the_relay_times_out_within_tx_and_ccfh_decides(relay, handling: str):
    """SIGSTOP both OCS processes: the relay keeps the request, our Tx fires, and Credit-Control-Failure-
    Handling decides: TERMINATE refuses (nothing is dialled without a grant), CONTINUE lets the call go on
    uncontrolled."""
    backend, processes = relay
    settings = ro_settings([ocs_peer("dra", 1, realm="*", relay=True)], failure_handling=handling)
    charging = RoCharging(backend.service, settings, session_prefix=f"roamback.client.test;{handling}",
                          schedule=lambda fn: None)
    engaged: list[str] = []
    charging.observe_failure_handling(engaged.append)  # what raises the SNMP alarm and the metric
    for ocs in processes[:2]:
        ocs.signal("STOP")
    try:
        started = time.monotonic()
        if handling == "terminate":
            with pytest.raises(ChargingRefused) as refused:
                await charging.reserve(context("100"))
            assert refused.value.reason is RefusalReason.CHARGING_UNAVAILABLE
        else:
            grant = await charging.reserve(context("100"))
            assert grant.max_talk_seconds > 0 and grant.validity_seconds is None  # uncontrolled: no updates
        took = time.monotonic() - started
        assert engaged and engaged[0].startswith("CCR-I ") and engaged[0].endswith(handling.upper())
        assert settings.tx_seconds - 0.5 <= took <= 2 * settings.tx_seconds + 2, took  # Tx, maybe one failover
    finally:
        for ocs in processes[:2]:
            ocs.signal(signal.SIGCONT)
