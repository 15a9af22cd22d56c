"""The SNMP agent: pysnmp 7 on the asyncio loop that also runs the Twisted reactor.

Values come from a snapshot of ``OpsFigures`` taken every ``refresh_seconds`` (1 s by default), not
computed per request: a GET then holds the reactor only to find bytes, whatever the windows hold. Reads
with the v2c community are answered straight from the snapshot's bytes by ``V2cResponder`` before pysnmp
sees the datagram (pysnmp took ~2.6 ms of reactor time per 10-OID GET, most of it in pyasn1). Everything
else goes to pysnmp: v3 (USM), SET, the system group. There, requests under the ROAMBACK-MIB base are
answered from the same snapshot by an instrumentation controller of our own; everything else (the system
group, the SNMP engine's own objects) goes to pysnmp's standard controller, and GETNEXT takes whichever
answer comes first in OID order, so a walk crosses from one to the other seamlessly. Access goes through
VACM like any pysnmp agent: a read-only view of ``system`` and our subtree, for the v2c community and each
v3 user (authPriv).

Notifications are sent to each configured manager, trap or inform, v2c or v3, from the agent's own UDP
socket, with the figures' current values (not the snapshot's). pysnmp sends synchronously into the socket
(and retries informs itself), so an alarm never waits on the network; a manager that does not acknowledge
an inform is logged.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

from pysnmp.carrier.asyncio.dgram import udp
from pysnmp.entity import config, engine
from pysnmp.entity.rfc3413 import cmdrsp, context, ntforg
from pysnmp.proto import rfc1902, rfc1905
from pysnmp.smi.instrum import AbstractMibInstrumController
from twisted.internet import task
from twisted.logger import Logger

from ..figures import Alarm, OpsFigures
from ..settings import SnmpManager, SnmpSettings
from ._mib import SNMP_TRAP_OID, Instance, Layout, Oid
from ._snapshot import Snapshot
from ._v2c import V2cResponder

log = Logger()

_READ_VIEW = "roamback-read"
_NOTIFY_VIEW = "roamback-notify"
_SYSTEM: Oid = (1, 3, 6, 1, 2, 1, 1)
_V2C, _USM = 2, 3


def _value(instance: Instance) -> Any:
    if instance.syntax == "counter":
        return rfc1902.Counter32(int(instance.value) % 2**32)
    if instance.syntax == "gauge":
        return rfc1902.Gauge32(max(0, min(int(instance.value), 2**32 - 1)))
    if instance.syntax == "string":
        return rfc1902.OctetString(str(instance.value).encode())
    return rfc1902.Integer32(int(instance.value))


class _Instrumentation(AbstractMibInstrumController):
    """ROAMBACK-MIB from the snapshot; anything else from pysnmp's own controller."""

    def __init__(self, layout: Layout, snapshot: Callable[[], Snapshot], fallback: Any) -> None:
        self._layout = layout
        self._snapshot = snapshot
        self._fallback = fallback

    def _ours(self, oid: Oid) -> bool:
        return oid[: len(self._layout.base)] == self._layout.base

    @staticmethod
    def _hidden(oid: Oid, idx: int, context: dict[str, Any]) -> bool:
        """VACM: True if out of view; raises for a request that may not read at all."""
        return bool(context["acFun"]("read", (rfc1902.ObjectName(oid), None), **{**context, "idx": idx}))

    def read_variables(self, *var_binds: Any, **context: Any) -> list[Any]:
        snapshot = self._snapshot()
        answers = []
        for idx, (name, value) in enumerate(var_binds):
            oid = tuple(name)
            if not self._ours(oid):
                answers += self._fallback.read_variables((name, value), **context)
            elif self._hidden(oid, idx, context):
                answers.append((name, rfc1905.noSuchObject))
            elif (position := snapshot.position(oid)) is not None:
                answers.append((name, _value(snapshot.instances[position])))
            elif snapshot.known_object(oid):
                answers.append((name, rfc1905.noSuchInstance))
            else:
                answers.append((name, rfc1905.noSuchObject))
        return answers

    def read_next_variables(self, *var_binds: Any, **context: Any) -> list[Any]:
        snapshot = self._snapshot()
        answers = []
        for idx, (name, value) in enumerate(var_binds):
            ours = self._next_ours(snapshot, tuple(name), idx, context)
            (theirs,) = self._fallback.read_next_variables((name, value), **context)
            if ours is not None and (theirs[1] is rfc1905.endOfMibView or ours.oid < tuple(theirs[0])):
                answers.append((rfc1902.ObjectName(ours.oid), _value(ours)))
            else:
                answers.append(theirs)
        return answers

    def _next_ours(self, snapshot: Snapshot, oid: Oid, idx: int, context: dict[str, Any]) -> Instance | None:
        position = snapshot.after(oid)
        if position is None:
            return None
        for instance in snapshot.instances[position:]:
            if not self._hidden(instance.oid, idx, context):
                return instance
        return None


class _Transport(udp.UdpAsyncioTransport):
    """pysnmp's UDP transport, offering each datagram to the v2c fast path first."""

    def __init__(self, fast_path: Callable[[bytes], bytes | None], loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop=loop)
        self._fast_path = fast_path

    def datagram_received(self, datagram: bytes, transportAddress: Any) -> None:
        response = self._fast_path(datagram)
        if response is None:
            super().datagram_received(datagram, transportAddress)
        elif self.transport is not None:
            self.transport.sendto(response, transportAddress)


class SnmpAgent:
    """Start with ``await agent.start()`` inside the running reactor; ``stop()`` closes the socket.

    Values served are at most ``refresh_seconds`` old (``refresh()`` takes a snapshot at once).
    """

    def __init__(self, settings: SnmpSettings, figures: OpsFigures, reactor: Any, refresh_seconds: float = 1.0) -> None:
        self.settings = settings
        self._reactor = reactor
        self.figures = figures
        self.layout = Layout.parse(settings.base_oid)
        self.snapshot = Snapshot([])
        self._refresh = task.LoopingCall(self.refresh)
        self._refresh.clock = reactor
        self._refresh_seconds = refresh_seconds
        engine_id = rfc1902.OctetString(hexValue=settings.engine_id) if settings.engine_id else None
        self.engine = engine.SnmpEngine(snmpEngineID=engine_id)
        self.address: tuple[str, int] | None = None
        self._originator = ntforg.NotificationOriginator()
        figures.subscribe(self.notify)

    @property
    def engine_id(self) -> str:
        """Hex engine id, for managers that must create v3 trap users (``createUser -e``)."""
        return bytes(self.engine.snmpEngineID).hex()

    async def start(self) -> None:
        # pysnmp binds its dispatcher to the running asyncio loop, and none runs during the reactor's
        # start-up (callWhenRunning, startService): wait one turn so the loop is surely running.
        await task.deferLater(self._reactor, 0, lambda: None)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((self.settings.address, self.settings.port))  # a busy port fails here, at start
        sock.setblocking(False)
        self.address = sock.getsockname()[:2]
        self._refresh.start(self._refresh_seconds, now=True).addErrback(
            lambda failure: log.failure("SNMP snapshot refresh stopped: values are frozen", failure))
        transport = _Transport(self._fast_path(), asyncio.get_running_loop()).open_server_mode(sock=sock)
        config.add_transport(self.engine, udp.DOMAIN_NAME, transport)
        self._configure_views()
        self._configure_access()
        self._configure_managers()
        snmp_context = context.SnmpContext(self.engine)
        fallback = snmp_context.get_mib_instrum(b"")
        snmp_context.unregister_context_name(b"")
        snmp_context.register_context_name(b"", _Instrumentation(self.layout, lambda: self.snapshot, fallback))
        for responder in (cmdrsp.GetCommandResponder, cmdrsp.NextCommandResponder, cmdrsp.BulkCommandResponder):
            responder(self.engine, snmp_context)
        log.info("SNMP agent on udp {address}, engine {engine_id}", address=self.address, engine_id=self.engine_id)

    def refresh(self) -> None:
        """Take the snapshot that requests read until the next one."""
        self.snapshot = Snapshot(self.layout.objects(self.figures))

    def _fast_path(self) -> Callable[[bytes], bytes | None]:
        if self.settings.community is None:
            return lambda datagram: None
        community = self.settings.community.get_secret_value().encode()
        return V2cResponder(community, self.layout.base, lambda: self.snapshot).answer

    def _configure_views(self) -> None:
        config.add_context(self.engine, "")  # VACM answers noSuchContext for a context it does not list
        for subtree in (_SYSTEM, self.layout.base):
            config.add_vacm_view(self.engine, _READ_VIEW, "included", subtree, "")
        config.add_vacm_view(self.engine, _NOTIFY_VIEW, "included", (1, 3, 6), "")

    def _grant(self, group: str, model: int, name: str, level: str, read: bool) -> None:
        config.add_vacm_group(self.engine, group, model, name)
        config.add_vacm_access(self.engine, group, b"", model, level, "exact", _READ_VIEW if read else "", "",
                               _NOTIFY_VIEW)

    def _configure_access(self) -> None:
        s = self.settings
        if s.community is not None:
            config.add_v1_system(self.engine, "roamback-agent", s.community.get_secret_value())
            self._grant("roamback-v2c", _V2C, "roamback-agent", "noAuthNoPriv", read=True)
        for user in s.users:
            config.add_v3_user(self.engine, user.name, config.USM_AUTH_HMAC96_SHA, user.auth_key.get_secret_value(),
                               config.USM_PRIV_CFB128_AES, user.priv_key.get_secret_value())
            self._grant(f"roamback-v3-{user.name}", _USM, user.name, "authPriv", read=True)

    def _configure_managers(self) -> None:
        for index, manager in enumerate(self.settings.managers):
            params = f"roamback-params-{index}"
            if manager.version == "v3":
                assert manager.user is not None  # checked by SnmpSettings
                config.add_target_parameters(self.engine, params, manager.user, "authPriv", mpModel=3)
            else:
                security_name = self._manager_community(index, manager)
                config.add_target_parameters(self.engine, params, security_name, "noAuthNoPriv", mpModel=1)
            tag = f"roamback-manager-{index}"
            config.add_target_address(self.engine, f"roamback-addr-{index}", udp.DOMAIN_NAME,
                                      (manager.host, manager.port), params, tagList=tag.encode())
            config.add_notification_target(self.engine, f"roamback-notify-{index}", params, tag, manager.notify)

    def _manager_community(self, index: int, manager: SnmpManager) -> str:
        """A manager with its own community gets a notify-only security name: it cannot read with it."""
        if manager.community is None:
            return "roamback-agent"
        name = f"roamback-manager-{index}"
        config.add_v1_system(self.engine, name, manager.community.get_secret_value())
        self._grant(f"roamback-trap-{index}", _V2C, name, "noAuthNoPriv", read=False)
        return name

    def notify(self, alarm: Alarm) -> None:
        """Send the alarm's notification to every manager (the figures' alarm listener)."""
        if self.address is None:
            return  # not started: nothing to send from
        var_binds = [(SNMP_TRAP_OID, rfc1902.ObjectIdentifier(self.layout.notification(alarm.kind)))]
        var_binds += [(i.oid, _value(i)) for i in self.layout.notification_objects(alarm, self.figures)]
        for index, manager in enumerate(self.settings.managers):
            self._originator.send_varbinds(self.engine, f"roamback-notify-{index}", None, b"", var_binds,
                                           self._sent, (alarm, manager))

    @staticmethod
    def _sent(engine_: Any, handle: Any, error: Any, status: Any, index: Any, var_binds: Any, ctx: Any) -> None:
        alarm, manager = ctx
        if error:
            log.warn("SNMP {kind} to {host}:{port} not acknowledged: {error}", kind=alarm.kind.value,
                     host=manager.host, port=manager.port, error=str(error))

    def stop(self) -> None:
        if self._refresh.running:
            self._refresh.stop()
        self.engine.close_dispatcher()
        self.address = None
