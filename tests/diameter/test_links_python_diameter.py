"""Peer links against python-diameter's Node: watchdog both ways, DPR both ways, SUSPECT/DOWN, failover."""

from __future__ import annotations

import os
import signal

import pytest_twisted
from twisted.internet import reactor

from roamback.core.model import Leg
from roamback.diameter import DiameterNode
from roamback.diameter.peer import LocalIdentity, PeerClosed, PeerOpened, PeerSuspected, PeerTimers, PeerWentDown
from roamback.diameter.routing import PeerRoute
from roamback.diameter.twisted_peer import PeerEndpoint

from .peers import (
    CLIENT_HOST,
    CLIENT_REALM,
    OCS_REALM,
    free_port,
    ocs_peer,
    ro_settings,
    start_python_ocs,
    started_backend,
    wait_until,
)
from .test_ro_python_diameter import context


def node_for(ports: dict[str, int], watchdog: float) -> tuple[DiameterNode, list[tuple[str, object]]]:
    peers = [PeerEndpoint(PeerRoute(name, frozenset({OCS_REALM})), f"tcp:host=127.0.0.1:port={port}:timeout=2")
             for name, port in ports.items()]
    node = DiameterNode(reactor, LocalIdentity(CLIENT_HOST, CLIENT_REALM), peers,
                        timers=PeerTimers(watchdog=watchdog, cea_timeout=1.0, dpa_timeout=2.0), tx=2.0, tc=0.3)
    seen: list[tuple[str, object]] = []
    node.observe(lambda peer, event: seen.append((peer, event)))
    return node, seen


def kinds(seen: list[tuple[str, object]], kind: type) -> list[str]:
    return [peer for peer, event in seen if isinstance(event, kind)]


@pytest_twisted.ensureDeferred
async def test_our_watchdog_is_answered_and_dpr_on_shutdown_too():
    port = free_port()
    ocs = await start_python_ocs(port)
    node, seen = node_for({"ocs1": port}, watchdog=0.5)
    try:
        node.startService()
        await ocs.saw("DWR", timeout=8, count=3)  # one per quiet Tw, each answered (else SUSPECT)
        assert not kinds(seen, PeerSuspected)
        await node.stopService()
        await ocs.saw("DPR", timeout=5)
        assert seen[-1] == ("ocs1", PeerClosed("DPA received"))
    finally:
        await ocs.stop()


@pytest_twisted.ensureDeferred
async def test_the_peers_watchdog_is_answered():
    port = free_port()
    ocs = await start_python_ocs(port, idle=1)
    node, seen = node_for({"ocs1": port}, watchdog=30.0)
    try:
        node.startService()
        await ocs.saw("DWA", timeout=8, count=2)  # the Node's DWR on a quiet link, answered by us
        assert kinds(seen, PeerOpened) == ["ocs1"] and len(seen) == 1
    finally:
        await node.stopService()
        await ocs.stop()


@pytest_twisted.ensureDeferred
async def test_a_frozen_peer_turns_suspect_then_down_and_comes_back():
    port = free_port()
    ocs = await start_python_ocs(port)
    node, seen = node_for({"ocs1": port}, watchdog=0.5)
    try:
        node.startService()
        await wait_until(lambda: kinds(seen, PeerOpened), 10, "open")
        os.kill(ocs.transport.pid, signal.SIGSTOP)
        await wait_until(lambda: kinds(seen, PeerSuspected), 5, "suspect")
        await wait_until(lambda: kinds(seen, PeerWentDown), 5, "down")
        assert [type(e).__name__ for _, e in seen[:3]] == ["PeerOpened", "PeerSuspected", "PeerWentDown"]
        os.kill(ocs.transport.pid, signal.SIGCONT)
        await wait_until(lambda: len(kinds(seen, PeerOpened)) >= 2, 15, "reopened after Tc")
    finally:
        await node.stopService()
        await ocs.stop()


@pytest_twisted.ensureDeferred
async def test_dpr_from_the_peer_is_answered_and_the_link_closes():
    port = free_port()
    ocs = await start_python_ocs(port)
    node, seen = node_for({"ocs1": port}, watchdog=30.0)
    try:
        node.startService()
        await wait_until(lambda: kinds(seen, PeerOpened), 10, "open")
        ocs.send("STOP")
        await wait_until(lambda: kinds(seen, PeerClosed), 10, "closed by the peer's DPR")
        assert isinstance(seen[1][1], PeerClosed) and "peer sent DPR" in seen[1][1].reason
    finally:
        await node.stopService()
        await ocs.stop()


@pytest_twisted.ensureDeferred
async def test_hung_ocs_fails_over_with_the_t_flag_under_retry_and_terminate():
    ports = {"ocs1": free_port(), "ocs2": free_port()}
    first = await start_python_ocs(ports["ocs1"], host="ocs1.ocs.test")
    second = await start_python_ocs(ports["ocs2"], host="ocs2.ocs.test")
    settings = ro_settings([ocs_peer("ocs1", ports["ocs1"], priority=1), ocs_peer("ocs2", ports["ocs2"], priority=2)],
                           failure_handling="retry_and_terminate", tx_seconds=1.5)
    backend = await started_backend(settings)
    links = backend.service.links
    try:
        await wait_until(lambda: all(link.machine.state == "open" for link in links.values()), 10, "both open")
        os.kill(first.transport.pid, signal.SIGSTOP)
        grant = await backend.reserve(context("100"))
        assert grant.max_talk_seconds == 600
        (retried,) = second.matching("CCR ")
        assert retried.split()[7] == "T"  # same request, second peer, retransmission flag
        await backend.terminate(grant.reservation_id, {Leg.A: 0, Leg.B: 0})
        assert second.matching("CCR 3")  # the session stays where it was granted
    finally:
        await backend.service.stopService()
        await first.stop()
        await second.stop()


@pytest_twisted.ensureDeferred
async def test_kill_9_of_one_of_two_ocs_fails_no_reservation():
    ports = {"ocs1": free_port(), "ocs2": free_port()}
    first = await start_python_ocs(ports["ocs1"], host="ocs1.ocs.test")
    second = await start_python_ocs(ports["ocs2"], host="ocs2.ocs.test")
    backend = await started_backend(ro_settings([ocs_peer("ocs1", ports["ocs1"]), ocs_peer("ocs2", ports["ocs2"])]))
    links = backend.service.links
    try:
        await wait_until(lambda: all(link.machine.state == "open" for link in links.values()), 10, "both open")
        grants = [await backend.reserve(context("100")) for _ in range(4)]
        assert first.matching("CCR ") and second.matching("CCR ")  # equal priority shares the load
        first.signal("KILL")
        grants += [await backend.reserve(context("100")) for _ in range(6)]
        assert all(grant.max_talk_seconds == 600 for grant in grants)
    finally:
        await backend.service.stopService()
        await first.stop()
        await second.stop()
