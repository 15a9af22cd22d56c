"""The two commands' reactor glue: ``roamback simnet`` serves the network, ``roamback phone`` is one handset.

Everything that decides something lives in ``network``/``control`` and ``phone``; this module only opens
ports and connections, moves lines between stdin/stdout and the phone, and stops the reactor.
"""

from __future__ import annotations

import json
import sys
import threading
from dataclasses import dataclass
from typing import IO, Any

from twisted.internet.defer import Deferred, DeferredList, gatherResults
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol, serverFromString
from twisted.internet.interfaces import IDelayedCall, IListeningPort
from twisted.logger import Logger
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure

from ..ops.logging import configure_logging
from .config import SimnetConfig
from .control import ControlFactory
from .network import SimNetwork
from .ocs import RunningOcs, start_ocs
from .phone import Phone

log = Logger()


@dataclass
class RunningSimnet:
    network: SimNetwork
    smpp_port: IListeningPort
    control_port: IListeningPort
    ocs: RunningOcs | None = None

    def stop(self) -> Deferred[Any]:
        """Stop accepting, then unbind the ESMEs, say DPR to the OCS's peers and cancel the timers."""
        stopping = [self.smpp_port.stopListening(), self.control_port.stopListening(), self.network.stop()]
        if self.ocs is not None:
            stopping.append(self.ocs.stop())
        return DeferredList([d for d in stopping if d is not None], consumeErrors=True)


def start_simnet(config: SimnetConfig, reactor: Any) -> Deferred[RunningSimnet]:
    """Listen on both endpoints, and the OCS's when enabled; fires with the running simulator (tests use
    port 0 endpoints). An OCS port that cannot be opened fails the start like the other two."""
    network = SimNetwork(config, reactor)
    listening = gatherResults([
        serverFromString(reactor, config.smpp.listen).listen(network.factory),
        serverFromString(reactor, config.control.listen).listen(ControlFactory(network)),
    ], consumeErrors=True)

    def started(ports: list[IListeningPort]) -> RunningSimnet:
        running = RunningSimnet(network, *ports)
        if config.ocs.enabled:
            try:
                running.ocs = start_ocs(config.ocs, reactor)
            except Exception:
                running.stop()
                raise
        return running

    return listening.addCallback(started)


def run_simnet(config: SimnetConfig) -> int:
    """``roamback simnet``: serve until SIGINT/SIGTERM; 1 when a port cannot be opened."""
    from twisted.internet import reactor

    configure_logging("text", "info", False, sys.stdout)
    exit_code = [0]

    def started(running: RunningSimnet) -> None:
        smpp, control = running.smpp_port.getHost(), running.control_port.getHost()
        accounts = ", ".join(sorted(config.smpp.accounts))
        log.info("simnet: SMSC + USSD centre (dialect {dialect}) on SMPP {host}:{port} for {accounts}; "
                 "handset control API on {chost}:{cport}", dialect=config.ussd.dialect.preset, host=smpp.host,
                 port=smpp.port, accounts=accounts, chost=control.host, cport=control.port)
        if running.ocs is not None:
            log.info("simnet: Diameter Ro OCS {host} ({realm}) on port {port}", host=config.ocs.origin_host,
                     realm=config.ocs.origin_realm, port=running.ocs.port)
        reactor.addSystemEventTrigger("before", "shutdown", running.stop)

    def failed(failure: Failure) -> None:
        log.failure("simnet could not start", failure)
        exit_code[0] = 1
        reactor.stop()

    reactor.callWhenRunning(lambda: start_simnet(config, reactor).addCallbacks(started, failed))
    reactor.run()
    return exit_code[0]


class PhoneLink(LineReceiver):
    """The control connection of one ``Phone``: JSON lines in and out, output printed as it comes."""

    delimiter = b"\n"
    MAX_LENGTH = 1 << 20

    def __init__(self, phone: Phone, out: IO[str], done: Deferred[int], wait: float, reactor: Any) -> None:
        self.phone = phone
        self._out = out
        self._done = done
        self._wait = wait
        self._reactor = reactor
        self._give_up: IDelayedCall | None = None

    def connectionMade(self) -> None:
        self.pump()

    def lineReceived(self, line: bytes) -> None:
        self.phone.received(json.loads(line))
        self.pump()

    def typed(self, line: str) -> None:
        self.phone.typed(line)
        self.pump()

    def input_ended(self) -> None:
        self.phone.input_ended()
        if self.phone.exit_code is None:
            self._give_up = self._reactor.callLater(self._wait, self._waited_too_long)
        self.pump()

    def _waited_too_long(self) -> None:
        self._give_up = None
        self._out.write(f"error: still waiting for the network {self._wait:g}s after the end of input\n")
        self._finish(1)

    def connectionLost(self, reason: Failure | None = None) -> None:
        if not self._done.called:
            self.phone.connection_lost()
            self.pump()

    def pump(self) -> None:
        for request in self.phone.requests_to_send():
            self.sendLine(json.dumps(request, ensure_ascii=False).encode())
        for line in self.phone.lines_to_print():
            self._out.write(line + "\n")
        self._out.flush()
        if self.phone.exit_code is not None:
            self._finish(self.phone.exit_code)

    def _finish(self, code: int) -> None:
        if self._give_up is not None and self._give_up.active():
            self._give_up.cancel()
        self._give_up = None
        if not self._done.called:
            self._done.callback(code)
            self.transport.loseConnection()


def run_phone(msisdn: str, host: str, port: int, wait: float) -> int:
    """``roamback phone``: one handset on stdin/stdout until the end of input (exit 0) or a failure (1)."""
    from twisted.internet import reactor

    configure_logging("text", "warn", False, sys.stderr)
    done: Deferred[int] = Deferred()
    exit_code = [1]

    def connected(link: PhoneLink) -> None:
        threading.Thread(target=_read_stdin, args=(reactor, link), name="stdin", daemon=True).start()

    def unreachable(failure: Failure) -> None:
        sys.stderr.write(f"error: cannot reach simnet at {host}:{port}: {failure.getErrorMessage()}\n")
        done.callback(1)

    def finished(code: int) -> None:
        exit_code[0] = code
        reactor.callLater(0, reactor.stop)  # let the connection close first

    def start() -> None:
        link = PhoneLink(Phone(msisdn), sys.stdout, done, wait, reactor)
        connectProtocol(TCP4ClientEndpoint(reactor, host, port, timeout=10), link).addCallbacks(
            connected, unreachable
        )

    done.addCallback(finished)
    reactor.callWhenRunning(start)
    reactor.run()
    return exit_code[0]


def _read_stdin(reactor: Any, link: PhoneLink) -> None:
    """Blocking reads on a thread: works alike for a terminal, a pipe and a regular file."""
    for raw in sys.stdin.buffer:
        reactor.callFromThread(link.typed, raw.decode("utf-8", "replace"))
    reactor.callFromThread(link.input_ended)
