"""Running independent SMPP peers (other people's code) as subprocesses, bounded in time."""

from __future__ import annotations

import os
import shutil
import socket
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from twisted.internet import reactor
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.task import deferLater

PEERS = Path(__file__).resolve().parents[2] / "peers"
NPM_SMPP = PEERS / "npm_smpp"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def missing(what: str) -> None:
    """A peer that is not installed: skip on a workstation, fail under CI where it must be present."""
    message = f"{what} is not available (install with: npm ci --prefix tests/peers/npm_smpp)"
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
    """Collects a peer's stdout lines; ``kill`` only ever signals this one process."""

    def __init__(self) -> None:
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

    async def saw(self, prefix: str, timeout: float = 10.0) -> str:
        await wait_until(lambda: any(line.startswith(prefix) for line in self.lines), timeout, f"peer {prefix!r}")
        return next(line for line in self.lines if line.startswith(prefix))

    async def stop(self) -> None:
        if not self.ended:
            self.transport.signalProcess("KILL")
        await wait_until(lambda: self.ended, 5.0, "peer exit")


async def start_peer(argv: list[str]) -> PeerProcess:
    peer = PeerProcess()
    reactor.spawnProcess(peer, argv[0], argv, env=dict(os.environ), path=str(PEERS))
    await peer.saw("READY")
    return peer


def node() -> str:
    found = shutil.which("node")
    if found is None or not (NPM_SMPP / "node_modules" / "smpp").is_dir():
        missing("node and the npm `smpp` peer")
    return found
