"""Running independent Diameter peers (python-diameter's Node, freeDiameter) as subprocesses, bounded in time."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from twisted.internet import reactor
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.task import deferLater

from roamback.diameter import RoCharging, RoSettings
from roamback.diameter.settings import DiameterPeerSettings

PEERS = Path(__file__).resolve().parents[1] / "peers"
CLIENT_HOST, CLIENT_REALM = "roamback.client.test", "client.test"
OCS_REALM = "ocs.test"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def missing(what: str, hint: str) -> None:
    """A peer that is not installed: skip on a workstation, fail under CI where it must be present."""
    message = f"{what} is not available ({hint})"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


async def wait_until(condition: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> None:
    """Poll ``condition`` until it holds, failing after ``timeout`` seconds: no bare sleeps in tests."""
    deadline = reactor.seconds() + timeout
    while not condition():
        if reactor.seconds() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await deferLater(reactor, 0.02, lambda: None)


class PeerProcess(ProcessProtocol):
    """Collects a peer's stdout lines; signals go to this one process only."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.lines: list[str] = []
        self._partial = b""
        self.ended = False

    def outReceived(self, data: bytes) -> None:
        *complete, self._partial = (self._partial + data).split(b"\n")
        self.lines += [line.decode() for line in complete]

    def errReceived(self, data: bytes) -> None:
        sys.stderr.write(data.decode(errors="replace"))

    def processEnded(self, reason: object) -> None:
        self.ended = True

    def matching(self, prefix: str) -> list[str]:
        return [line for line in self.lines if line.startswith(prefix)]

    async def saw(self, prefix: str, timeout: float = 10.0, count: int = 1) -> list[str]:
        await wait_until(lambda: len(self.matching(prefix)) >= count, timeout, f"{self.name} {prefix!r} x{count}")
        return self.matching(prefix)

    def send(self, line: str) -> None:
        self.transport.write(line.encode() + b"\n")

    def signal(self, name: str | int) -> None:
        self.transport.signalProcess(name)

    async def stop(self) -> None:
        if not self.ended:
            os.kill(self.transport.pid, signal.SIGCONT)
            self.transport.signalProcess("KILL")
        await wait_until(lambda: self.ended, 5.0, f"{self.name} exit")


async def start_peer(name: str, argv: list[str], ready: str = "READY", timeout: float = 15.0) -> PeerProcess:
    """Spawn a peer and wait for its ``ready`` line on stdout."""
    peer = PeerProcess(name)
    reactor.spawnProcess(peer, argv[0], argv, env=dict(os.environ), path=str(PEERS))
    try:
        await peer.saw(ready, timeout)
    except AssertionError:
        await peer.stop()
        raise
    return peer


async def start_python_ocs(
    port: int, host: str = "ocs1.ocs.test", idle: int = 30, client_host: str = CLIENT_HOST,
    client_realm: str = CLIENT_REALM,
) -> PeerProcess:
    """python-diameter's Node as the OCS on ``port``, knowing ``client_host`` (us, or the relay) as its peer."""
    try:
        import diameter.node  # noqa: F401
    except ImportError:
        missing("python-diameter", "pip install python-diameter")
    argv = [sys.executable, str(PEERS / "ocs_python_diameter.py"), str(port), host, OCS_REALM,
            client_host, client_realm, str(idle)]
    return await start_peer(host, argv)


def ro_settings(peers: list[DiameterPeerSettings], **overrides: object) -> RoSettings:
    values: dict[str, object] = dict(
        origin_host=CLIENT_HOST, origin_realm=CLIENT_REALM, destination_realm=OCS_REALM, peers=peers,
        tx_seconds=3.0, tw_seconds=30.0, tc_seconds=0.5,
    )
    values.update(overrides)
    return RoSettings.model_validate(values)


def ocs_peer(name: str, port: int, *, realm: str = OCS_REALM, priority: int = 1, relay: bool = False):
    return DiameterPeerSettings(name=name, host="127.0.0.1", port=port, realm=realm, priority=priority, relay=relay)


async def started_backend(settings: RoSettings) -> RoCharging:
    backend = RoCharging.from_settings(settings, reactor)
    backend.service.startService()
    return backend


def freediameterd() -> str:
    found = shutil.which("freeDiameterd")
    if found is None:
        missing("freeDiameterd", "apt-get install -y freediameterd freediameter-extensions")
    assert found is not None
    return found
