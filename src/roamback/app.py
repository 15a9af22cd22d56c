"""Builds the service from configuration and runs it: the one place adapters are chosen.

Start order follows Buildbot's rule: the database first (schema checked or migrated, then recovery of
what a previous process left), then the engine's adapters, and the front doors last, so that nothing is
accepted before the service can store it. Stop runs in reverse.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from twisted.application.service import MultiService
from twisted.internet import defer, endpoints, threads
from twisted.logger import Logger

from .config import Config
from .core.engine import CallbackEngine, DiallingSettings
from .core.messages import MessageCatalog
from .core.model import CallMode
from .core.policies import PolicySettings
from .core.ports import SubscriberDirectory
from .core.reasons import HangupCause
from .core.recovery import recover
from .gateway.http_api import build_api_site
from .gateway.inbox import HandsetInbox
from .gateway.mobile import Messaging, build_messaging
from .gateway.outbox_dispatcher import OutboxDispatcher
from .ledger.backend import LedgerCharging
from .runtime import TwistedRuntime
from .storage import migrate
from .storage.directory import SqlQueryDirectory, TableDirectory
from .storage.engine import make_engine
from .storage.outbox import OutboxStore
from .storage.pool import Database
from .storage.requests import SqlRequestStore
from .switch_adapters.simulated import SimulatedSwitch, rules_from_config

log = Logger()


@dataclass
class Components:
    """Everything the running service is made of; the demo, benchmarks and tests reach in here."""

    config: Config
    db: Database
    store: SqlRequestStore
    charging: LedgerCharging
    switch: SimulatedSwitch
    inbox: HandsetInbox
    engine: CallbackEngine
    outbox: OutboxStore
    runtime: TwistedRuntime
    directory: SubscriberDirectory


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


async def build_components(config: Config, reactor: Any) -> Components:
    await threads.deferToThread(prepare_schema, config.database.url)  # Alembic blocks: not on the reactor
    db = Database(make_engine(config.database.url, pool_size=config.database.readers + 2), reactor,
                  readers=config.database.readers)
    db.start()
    runtime = TwistedRuntime(reactor, speed=config.switch.simulated.speed)
    charging = LedgerCharging(db, now=runtime.now, currency=config.home.currency,
                              min_talk_seconds=config.policy.min_talk_seconds)
    if config.charging.ledger.seed_demo_data:
        from .demo_data import seed_if_empty

        await seed_if_empty(db, config, runtime.now())
    await charging.reload_rates()
    sim = config.switch.simulated
    switch = SimulatedSwitch(runtime, ring_seconds=sim.ring_seconds, prompt_seconds=sim.prompt_seconds,
                             talk_seconds=sim.talk_seconds,
                             rules=rules_from_config(sim.rules))
    store = SqlRequestStore(db, clock=runtime.now)
    directory = _directory(config, db, reactor)
    engine = CallbackEngine(
        runtime=runtime, store=store, directory=directory, charging=charging,
        switch=switch, catalog=MessageCatalog.load(config.messages.directory, config.messages.overrides,
                                    default_language=config.home.default_language),
        policy=policy_settings(config), dialling=dialling_settings(config),
        home_region=config.home.region, default_language=config.home.default_language,
    )
    return Components(config=config, db=db, store=store, charging=charging, switch=switch,
                      inbox=HandsetInbox(), engine=engine, outbox=OutboxStore(db), runtime=runtime,
                      directory=directory)


class RoambackService(MultiService):
    """The service tree: started asynchronously because the database must be ready first."""

    def __init__(self, config: Config, reactor: Any) -> None:
        super().__init__()
        self.config = config
        self.reactor = reactor
        self.components: Components | None = None
        self.ready: defer.Deferred[Components] = defer.Deferred()
        self.api_port: Any = None
        self.messaging: Messaging | None = None
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
        outcome = await recover(parts.engine)
        if outcome:
            log.info("recovery after restart: {outcome}", outcome=dict(outcome))
        ob = self.config.outbox
        messaging = self._messaging(parts)
        OutboxDispatcher(parts.outbox, messaging.notifier if messaging else parts.inbox, parts.runtime, self.reactor,
                         poll_seconds=ob.poll_seconds, retry_delays_seconds=ob.retry_delays_seconds,
                         max_attempts=ob.max_attempts).setServiceParent(self)
        super().startService()
        if messaging is not None:  # SMPP links are front doors: after the outbox, before the API
            messaging.setServiceParent(self)
            resumed = await messaging.resume()
            if resumed:
                log.info("re-ran {count} MO messages acknowledged before the restart", count=resumed)
        if self.config.api.enabled:  # front door last: nothing is accepted before it can be stored
            site = build_api_site(parts.engine, self.config.api.api_key_hashes())
            endpoint = endpoints.serverFromString(self.reactor, self.config.api.listen)
            self.api_port = await endpoint.listen(site)
        log.info("roamback {node} ready", node=self.config.node.name)
        return parts

    def _messaging(self, parts: Components) -> Messaging | None:
        """SMPP only when links are configured; otherwise notices go to the embedded handset inbox."""
        if not self.config.smpp.links:
            return None
        self.messaging = build_messaging(
            self.config, db=parts.db, engine=parts.engine, directory=parts.directory, charging=parts.charging,
            outbox=parts.outbox, runtime=parts.runtime, reactor=self.reactor, endpoints=self.smpp_endpoints,
        )
        return self.messaging

    async def _stop(self) -> None:
        if self.api_port is not None:
            await self.api_port.stopListening()
        await defer.maybeDeferred(super().stopService)
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
    reactor.callWhenRunning(service.startService)
    reactor.addSystemEventTrigger("before", "shutdown", service.stopService)
    reactor.run()
    return exit_code[0]
