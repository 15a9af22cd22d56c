"""Net-SNMP and libsmi as independent peers: the tools an operator's NMS team would use on the agent.

Under CI=true a missing tool fails the test: CI must prove the agent works with a real manager. The IETF
base MIBs (SNMPv2-SMI, -TC, -CONF) are non-free in Debian's net-snmp packaging; ``erlang-snmp`` (main)
ships them, and so does ``snmp-mibs-downloader`` where it is installed.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from twisted.internet import reactor, task, threads

COMMUNITY = "ops-public-test"
V3_USER, V3_AUTH, V3_PRIV = "nms", "auth-secret-1", "priv-secret-1"
ENGINE_ID = "8000000001020304aa"


def _missing(what: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is missing (CI installs it: see .ci/run)")
    pytest.skip(f"{what} is not installed")


def tool(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if path is None:
        _missing(name)
    assert path is not None
    return path


def ietf_mib_dir() -> str:
    candidates = ["/usr/share/snmp/mibs/ietf", *sorted(glob.glob("/usr/lib/erlang/lib/snmp-*/mibs"))]
    for directory in candidates:
        if any(Path(directory).glob("SNMPv2-SMI*")):
            return directory
    _missing("the IETF base MIBs (erlang-snmp or snmp-mibs-downloader)")
    return ""


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def run(*argv: str, timeout: float = 15.0) -> subprocess.CompletedProcess[str]:
    """Run a blocking tool off the reactor thread, so the agent under test can answer it."""
    return await threads.deferToThread(
        subprocess.run, list(argv), capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "MIBS": "", "MIBDIRS": ""},
    )


def v2c(command: str, port: int, *args: str, community: str = COMMUNITY) -> list[str]:
    return [tool(command), "-v2c", "-c", community, "-On", "-m", "", "-t", "2", "-r", "1",
            f"udp:127.0.0.1:{port}", *args]


def v3(command: str, port: int, *args: str, auth: str = V3_AUTH) -> list[str]:
    return [tool(command), "-v3", "-l", "authPriv", "-u", V3_USER, "-a", "SHA", "-A", auth, "-x", "AES",
            "-X", V3_PRIV, "-On", "-m", "", "-t", "5", "-r", "1", f"udp:127.0.0.1:{port}", *args]  # v3 is slow


def parse(output: str) -> dict[str, str]:
    """``.1.3.6... = TYPE: value`` lines as {oid: 'TYPE: value'}."""
    found = {}
    for line in output.splitlines():
        oid, sep, value = line.partition(" = ")
        if sep:
            found[oid.lstrip(".")] = value
    return found


class Trapd:
    """snmptrapd in the foreground, logging every notification it accepts to a file."""

    def __init__(self, tmp: Path, engine_id: str) -> None:
        self.port = free_udp_port()
        self.log = tmp / "traps.log"
        conf = tmp / "snmptrapd.conf"
        conf.write_text(
            f"authCommunity log {COMMUNITY}\n"
            f"createUser -e 0x{engine_id} {V3_USER} SHA {V3_AUTH} AES {V3_PRIV}\n"
            f"authUser log {V3_USER}\n"
        )
        (tmp / "persist").mkdir()
        self._process = subprocess.Popen(
            [tool("snmptrapd"), "-f", "-C", "-c", str(conf), "-Lf", str(self.log), "-On", "-m", "",
             f"udp:127.0.0.1:{self.port}"],
            env={**os.environ, "SNMP_PERSISTENT_DIR": str(tmp / "persist"), "MIBS": ""},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    async def ready(self) -> None:
        await self.wait_for("NET-SNMP version")

    def text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    async def wait_for(self, needle: str, count: int = 1, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while self.text().count(needle) < count:
            if time.monotonic() > deadline or self._process.poll() is not None:
                raise AssertionError(f"snmptrapd did not log {needle!r} x{count}; log:\n{self.text()}")
            await task.deferLater(reactor, 0.05, lambda: None)
        return self.text()

    def stop(self) -> None:
        self._process.terminate()
        self._process.wait(timeout=5)
