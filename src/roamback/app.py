"""Builds the service from configuration and runs it: the one place adapters are chosen.

Start order follows Buildbot's rule: the database first (schema checked or migrated), then the edges the
engine calls (charging peers, switch connection), then recovery of what a previous process left, then the
outbox and operations, and the front doors last, so that nothing is accepted before the service can store
it. Stop runs in reverse.
"""

from __future__ import annotations

import signal
import sys
from dataclasses import dataclass, field
from typing import Any

from twisted.application.service import IService, MultiService
from twisted.internet import defer, endpoints, task, threads
from twisted.logger import Logger

from .config import Config
from .core.engine import CallbackEngine, DiallingSettings
from .core.messages import MessageCatalog
from .core.model import CallMode
from .core.policies import PolicySettings
from .core.ports import ChargingBackend, SubscriberDirectory, SwitchAdapter
from .core.reasons import HangupCause
from .core.recovery import recover
from .gateway.http_api import build_api_site
from .gateway.inbox import HandsetInbox
from .gateway.mobile import Messaging, build_messaging
from .gateway.outbox_dispatcher import OutboxDispatcher
from .ledger.backend import LedgerCharging
from .ops.http import build_ops_site
from .ops.service import OpsService, build_ops_service
from .ops.transition_log import log_transition
from .runtime import TwistedRuntime
from .storage import migrate
from .storage.directory import SqlQueryDirectory, TableDirectory
from .storage.engine import make_engine
from .storage.outbox import OutboxStore
from .storage.pool import Database
from .storage.requests import SqlRequestStore
from .switch_adapters.simulated import SimulatedSwitch, rules_from_config
from .ussd_menus import MenuEngine, load_menu

log = Logger()


@dataclass
class Components:
    """Everything the running service is made of; the demo, benchmarks and tests reach in here."""

    config: Config
    db: Database
    store: SqlRequestStore
    charging: ChargingBackend
    switch: SwitchAdapter
    inbox: HandsetInbox
    engine: CallbackEngine
    outbox: OutboxStore
    runtime: TwistedRuntime
    directory: SubscriberDirectory
    edges: list[IService]
    """The charging and switch adapters' own services (peers, connections); started before recovery."""
    menu: MenuEngine | None = None
    doors: list[IService] = field(default_factory=list)
    """Front doors that are services of their own (switch triggers); started after recovery and the outbox."""


def policy_settings(config: Config) -> PolicySettings:
    p = config.policy
    return PolicySettings(
        require_roaming=p.require_roaming,
        banned_visited_regions=frozenset(r.upper() for r in p.banned_visited_regions),
        one_active_per_subscriber=p.one_active_per_subscriber,
        daily_cap=p.daily_cap,
        cooldown_seconds=p.cooldown_seconds,
        blocked_prefixes=tuple(p.blocked_prefixes),
        leg_a_registered_only=p.leg_a_registered_only,
        min_talk_seconds=p.min_talk_seconds,
        max_call_seconds=p.max_call_seconds,
        resume_window_seconds=p.resume_window_seconds,
    )


def dialling_settings(config: Config) -> DiallingSettings:
    d = config.dialling
    return DiallingSettings(
        service_caller_id=config.home.service_caller_id,
        mode=CallMode(d.mode),
        ring_timeout_seconds=d.ring_timeout_seconds,
        setup_allowance_seconds=d.setup_allowance_seconds,
        a_max_attempts=d.a_max_attempts,
        a_retry_delays_seconds=tuple(float(x) for x in d.a_retry_delays_seconds),
        a_retry_causes=frozenset(HangupCause(c) for c in d.a_retry_causes),
        leg_b_caller_id_is_requester=d.leg_b_caller_id == "requester",
        reauthorise_margin_seconds=d.reauthorise_margin_seconds,
    )


def prepare_schema(url: str) -> None:
    """Embedded SQLite migrates itself; an operator's server database must be upgraded on purpose."""
    if url.startswith("sqlite"):
        migrate.upgrade(url)
        return
    if migrate.current(url) != migrate.head():
        raise RuntimeError("database.url: schema is not at the latest revision; run `roamback db upgrade`")


def _directory(config: Config, db: Database, reactor: Any) -> SubscriberDirectory:
    if config.directory.backend == "sql":
        sql = config.directory.sql
        return SqlQueryDirectory(sql.url, sql.query, sql.timeout_seconds, reactor, strip_plus=sql.strip_plus)
    return TableDirectory(db)


async def _charging(config: Config, db: Database, runtime: TwistedRuntime, reactor: Any,
                    edges: list[IService]) -> ChargingBackend:
    if config.charging.backend == "diameter":
        from .diameter import RoCharging

        assert config.charging.diameter is not None  # the configuration refuses it otherwise
        ro = RoCharging.from_settings(config.charging.diameter, reactor)
        edges.append(ro.service)
        return ro
    ledger = LedgerCharging(db, now=runtime.now, currency=config.home.currency,
                            min_talk_seconds=config.policy.min_talk_seconds)
    await ledger.reload_rates()
    return ledger


def _switch(config: Config, runtime: TwistedRuntime, reactor: Any, edges: list[IService]) -> SwitchAdapter:
    if config.switch.adapter == "ari":
        from .switch_adapters.ari import AriSwitch

        assert config.switch.ari is not None
        ari = AriSwitch(reactor, config.switch.ari, runtime)
        edges.append(ari)
        return ari
    if config.switch.adapter == "esl":
        from .switch_adapters.esl import EslSwitch

        assert config.switch.esl is not None
        esl = EslSwitch(reactor, config.switch.esl, runtime)
        edges.append(esl)
        return esl
    if config.switch.adapter == "amqp":
        from .switch_adapters.amqp_bus import AmqpSwitchBus

        assert config.switch.amqp is not None
        bus = AmqpSwitchBus(reactor, config.switch.amqp, runtime)
        edges.append(bus)
        return bus
    sim = config.switch.simulated
    return SimulatedSwitch(runtime, ring_seconds=sim.ring_seconds, prompt_seconds=sim.prompt_seconds,
                           talk_seconds=sim.talk_seconds, rules=rules_from_config(sim.rules))


async def build_components(config: Config, reactor: Any) -> Components:
    await threads.deferToThread(prepare_schema, config.database.url)  # Alembic blocks: not on the reactor
    # every reader and writer keeps its connection (SQLite has one writer); two spare for other work
    writers = 1 if config.database.url.startswith("sqlite") else 4
    db = Database(make_engine(config.database.url, pool_size=config.database.readers + writers + 2), reactor,
                  readers=config.database.readers, writers=writers)
    db.start()
    runtime = TwistedRuntime(reactor, speed=config.switch.simulated.speed)
    if config.charging.ledger.seed_demo_data:
        from .demo_data import seed_if_empty

        await seed_if_empty(db, config, runtime.now())
    edges: list[IService] = []
    charging = await _charging(config, db, runtime, reactor, edges)
    switch = _switch(config, runtime, reactor, edges)
    store = SqlRequestStore(db, clock=runtime.now)
    directory = _directory(config, db, reactor)
    engine = CallbackEngine(
        runtime=runtime, store=store, directory=directory, charging=charging,
        switch=switch, catalog=MessageCatalog.load(config.messages.directory, config.messages.overrides,
                                    default_language=config.home.default_language),
        policy=policy_settings(config), dialling=dialling_settings(config),
        home_region=config.home.region, default_language=config.home.default_language,
    )
    engine.add_listener(log_transition)
    if hasattr(charging, "set_listener"):  # Diameter Ro: the OCS's RAR and ASR reach the live calls
        charging.set_listener(engine.charging_listener)
    parts = Components(config=config, db=db, store=store, charging=charging, switch=switch,
                       inbox=HandsetInbox(), engine=engine, outbox=OutboxStore(db), runtime=runtime,
                       directory=directory, edges=edges)
    if config.ussd_menu.enabled:
        from .ussd_menus.from_config import build_menu_engine

        parts.menu = build_menu_engine(config, parts, reactor)
    _switch_triggers(config, parts, reactor)
    return parts


def _switch_triggers(config: Config, parts: Components, reactor: Any) -> None:
    """Calls to the access, PIN, IVR and personal numbers, on the switch that places the call-backs.

    With ARI they are always listened for: a call entering our Stasis application that we did not place
    is a trigger by definition, and personal DIDs may exist only in the database (``admin did add``).
    The simulated switch only takes calls when trigger numbers are configured (the demo does), so a
    plain embedded service keeps ending every call dialled into it as unallocated.
    """
    from .gateway.switch_triggers import SimulatedTriggerDoor, SwitchTriggers
    from .storage.trigger_accounts import SqlTriggerAccounts

    t = config.triggers
    accounts = SqlTriggerAccounts(parts.db, clock=parts.runtime.now, dids=t.personal_dids)
    door: SimulatedTriggerDoor | SwitchTriggers
    if config.switch.adapter == "ari":
        assert config.switch.ari is not None  # the configuration refuses the adapter without its section
        door = SwitchTriggers(reactor, ari=config.switch.ari, settings=t, engine=parts.engine,
                              accounts=accounts, home_region=config.home.region, runtime=parts.runtime)
        parts.switch.subscribe_inbound(door.event)  # type: ignore[attr-defined]
    elif isinstance(parts.switch, SimulatedSwitch) and (
            t.missed_call_numbers or t.pin_numbers or t.ivr_numbers or t.personal_dids):
        door = SimulatedTriggerDoor(settings=t, engine=parts.engine, accounts=accounts,
                                    home_region=config.home.region, runtime=parts.runtime)
        parts.switch.subscribe_inbound(door.call)
    else:
        return
    parts.doors.append(door)


class RoambackService(MultiService):
    """The service tree: started asynchronously because the database must be ready first."""

    def __init__(self, config: Config, reactor: Any) -> None:
        super().__init__()
        self.config = config
        self.reactor = reactor
        self.components: Components | None = None
        self.ready: defer.Deferred[Components] = defer.Deferred()
        self.ports: list[Any] = []
        self.messaging: Messaging | None = None
        self.ops: OpsService | None = None
        self._edges = MultiService()
        self._menu_expiry: task.LoopingCall | None = None
        self.smpp_endpoints: dict[str, Any] | None = None
        """Per link name, an endpoint replacing the configured one (tests, simulators)."""

    def startService(self) -> None:
        d = defer.Deferred.fromCoroutine(self._start())
        d.addCallbacks(self.ready.callback, self.ready.errback)

    async def _start(self) -> Components:
        parts = await build_components(self.config, self.reactor)
        self.components = parts
        try:
            return await self._start_services(parts)
        except BaseException:
            await self._stop()  # the database threads would otherwise keep the process alive
            raise

    async def _start_services(self, parts: Components) -> Components:
        synced = parts.switch.synced() if hasattr(parts.switch, "synced") else None
        for edge in parts.edges:  # peers and switch connections first: recovery may hang up live calls
            edge.setServiceParent(self._edges)
        self._edges.startService()
        if synced is not None:
            await self._wait_for_switch(synced)
        outcome = await recover(parts.engine)
        if outcome:
            log.info("recovery after restart: {outcome}", outcome=dict(outcome))
        ob = self.config.outbox
        messaging = self._messaging(parts)
        OutboxDispatcher(parts.outbox, messaging.notifier if messaging else parts.inbox, parts.runtime, self.reactor,
                         poll_seconds=ob.poll_seconds, retry_delays_seconds=ob.retry_delays_seconds,
                         max_attempts=ob.max_attempts).setServiceParent(self)
        self.ops = build_ops_service(parts.engine, parts.runtime, parts.db, self.reactor, self.config.metrics,
                                     self.config.snmp)
        self._register_links(self.ops, parts, messaging)
        if hasattr(parts.charging, "observe_failure_handling"):  # Diameter Ro: CCFH engaged is an alarm
            parts.charging.observe_failure_handling(self.ops.figures.report_charging_failover)
        self.ops.setServiceParent(self)
        super().startService()
        if self.config.metrics.enabled:
            await self._listen(self.config.metrics.listen, build_ops_site(self.ops.metrics))
        if messaging is not None:  # SMPP links are front doors: after the outbox, before the API
            messaging.setServiceParent(self)
            resumed = await messaging.resume()
            if resumed:
                log.info("re-ran {count} MO messages acknowledged before the restart", count=resumed)
        for door in parts.doors:
            door.setServiceParent(self)
        if parts.menu is not None:
            self._menu_expiry = task.LoopingCall(lambda: defer.Deferred.fromCoroutine(parts.menu.expire()))
            self._menu_expiry.clock = self.reactor
            self._menu_expiry.start(self.config.ussd_menu.expire_every_seconds, now=False)
        if self.config.ussd_http.enabled:
            from .ussd_menus.from_config import build_http_ussd_site

            await self._listen(self.config.ussd_http.listen, build_http_ussd_site(self.config, parts))
        if self.config.api.enabled:  # front door last: nothing is accepted before it can be stored
            await self._listen(self.config.api.listen, build_api_site(parts.engine, self.config.api.api_key_hashes()))
        log.info("roamback {node} ready", node=self.config.node.name)
        return parts

    async def _wait_for_switch(self, synced: defer.Deferred[None]) -> None:
        """Recovery asks the switch which calls it still has; give the first connection a moment."""
        seconds = self.config.switch.connect_timeout_seconds
        try:
            await synced.addTimeout(seconds, self.reactor)
        except defer.TimeoutError:
            log.warn("switch not connected after {seconds}s; starting anyway (it keeps reconnecting)",
                     seconds=seconds)

    def reload_menu(self) -> defer.Deferred[None]:
        """SIGHUP: swap in the edited menu; open dialogues go on, a broken file keeps the old menu.

        The files are read and checked on a thread (about 0.1 s), only the swap runs on the reactor.
        """
        engine = self.components.menu if self.components is not None else None
        if engine is None:
            return defer.succeed(None)
        loading = threads.deferToThread(load_menu, engine.menu.source, engine.settings.limits)
        loading.addCallback(engine.install)

        def done(version: str) -> None:
            log.info("menu reloaded: version {version}", version=version)

        def refused(failure: Any) -> None:  # MenuError names file and line; anything else is the file's too
            log.error("menu reload refused, the running menu stays: {error}", error=str(failure.value))

        return loading.addCallbacks(done, refused)

    async def _listen(self, description: str, site: Any) -> None:
        self.ports.append(await endpoints.serverFromString(self.reactor, description).listen(site))

    def _register_links(self, ops: OpsService, parts: Components, messaging: Messaging | None) -> None:
        """Links whose loss readiness, metrics and SNMP traps report: SMPP binds and Diameter peers."""
        if messaging is not None:
            for name, link in messaging.links.items():
                ops.figures.register_link_state("smpp", name, lambda link=link: bool(link.bound))
        node = getattr(parts.charging, "service", None)
        if node is not None and hasattr(node, "links"):
            from .diameter.peer import PeerState

            machines = {name: link.machine for name, link in node.links.items()}
            for name, machine in machines.items():
                ops.figures.register_link_state("diameter", name, lambda m=machine: m.state is PeerState.OPEN,
                                                required=False)
            ops.figures.register_link_state(
                "diameter", "any-peer", lambda: any(m.state is PeerState.OPEN for m in machines.values()))

    def _messaging(self, parts: Components) -> Messaging | None:
        """SMPP only when links are configured; otherwise notices go to the embedded handset inbox."""
        if not self.config.smpp.links:
            return None
        self.messaging = build_messaging(
            self.config, db=parts.db, engine=parts.engine, directory=parts.directory, charging=parts.charging,
            outbox=parts.outbox, runtime=parts.runtime, reactor=self.reactor, endpoints=self.smpp_endpoints,
            menu=parts.menu,
        )
        return self.messaging

    async def _stop(self) -> None:
        for port in reversed(self.ports):
            await port.stopListening()
        self.ports.clear()
        if self._menu_expiry is not None and self._menu_expiry.running:
            self._menu_expiry.stop()
        await defer.maybeDeferred(super().stopService)
        if self._edges.running:
            await defer.maybeDeferred(self._edges.stopService)
        if self.components is not None:
            await self.components.db.stop()

    def stopService(self) -> defer.Deferred[None]:
        return defer.Deferred.fromCoroutine(self._stop())


def serve(config: Config) -> int:
    """`roamback serve`: run until SIGTERM/SIGINT."""
    from twisted.internet import reactor

    from .ops.logging import configure_logging

    configure_logging(config.logging.format, config.logging.level, config.logging.mask_msisdn, sys.stdout)
    service = RoambackService(config, reactor)
    exit_code = [0]

    def failed(failure: Any) -> None:
        log.failure("start-up failed", failure)
        exit_code[0] = 1
        reactor.stop()

    service.ready.addErrback(failed)
    signal.signal(signal.SIGHUP, lambda *_: reactor.callFromThread(service.reload_menu))
    reactor.callWhenRunning(service.startService)
    reactor.addSystemEventTrigger("before", "shutdown", service.stopService)
    reactor.run()
    return exit_code[0]
