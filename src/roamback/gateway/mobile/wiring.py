"""The SMPP side of the service, built from configuration: links, the MO handler, USSD and the notifier.

The notifier sends SMS on the sms/both links; with ``ussd.push_via_ussn`` it first pushes call-back
outcomes as USSN on the ussd/both links (``UssnNotifier``), when the dialect names a USSN op code.

``app`` adds the returned ``Messaging`` service after the outbox dispatcher, so the links (a front
door) start last and stop first, and calls ``resume`` so MO messages a previous process acknowledged
but did not handle run before new ones pile up.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from twisted.application.service import MultiService
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.logger import Logger

from ...core.engine import CallbackEngine
from ...core.ports import ChargingBackend, Notifier, Runtime, SubscriberDirectory
from ...storage.inbound import InboundStore
from ...storage.outbox import OutboxStore
from ...storage.pool import Database
from ..smpp import EsmeLink, FailureReason, LinkConfig, MessageResp, Pdu, SessionConfig, SmppRequestError, Status
from ..sms import ConcatMode, Reassembler
from .mo_handler import MoHandler
from .smpp_notifier import SmppNotifier, SmsSender
from .sms_commands import RegistrationSettings, SmsCommands
from .ussd_transport import UssdApplication, UssdTransport
from .ussn_notifier import UssnNotifier

if TYPE_CHECKING:
    from ...config import Config
    from ...ussd_menus import MenuEngine

log = Logger()


class Messaging(MultiService):
    """Every configured link; ``notifier`` replaces the handset inbox as the outbox's Notifier."""

    def __init__(self, links: Mapping[str, EsmeLink], handler: MoHandler, ussd: UssdTransport,
                 notifier: Notifier) -> None:
        super().__init__()
        self.links = dict(links)
        self.handler = handler
        self.ussd = ussd
        self.notifier = notifier
        for link in self.links.values():
            link.setServiceParent(self)

    async def resume(self) -> int:
        return await self.handler.resume()

    def stopService(self) -> Deferred[None]:
        self.ussd.stop()
        return maybeDeferred(super().stopService)


def submit_sms(links: Mapping[str, EsmeLink], names: list[str], pdu: Pdu) -> Deferred[MessageResp]:
    """On the first of the named links with a bind up; with none, fail as "not sent" (the outbox retries,
    a USSN falls back to SMS)."""
    for name in names:
        if links[name].bound:
            return links[name].submit(pdu)
    failed: Deferred[MessageResp] = Deferred()
    failed.errback(SmppRequestError(FailureReason.NOT_SENT, Status.RBINDFAIL))
    return failed


def link_config(link: Any) -> LinkConfig:
    session = SessionConfig(window=link.window, response_timeout=link.response_timeout_seconds,
                            enquire_link_interval=link.enquire_link_seconds, submit_rate=link.rate)
    return LinkConfig(link.name, link.endpoint, link.system_id, link.password.get_secret_value(),
                      system_type=link.system_type, binds=tuple(link.binds), session=session)


def build_messaging(
    config: Config,
    *,
    db: Database,
    engine: CallbackEngine,
    directory: SubscriberDirectory,
    charging: ChargingBackend,
    outbox: OutboxStore,
    runtime: Runtime,
    reactor: Any,
    endpoints: Mapping[str, IStreamClientEndpoint] | None = None,
    menu: MenuEngine | None = None,
) -> Messaging:
    """``endpoints`` replaces the configured endpoint strings (tests and simulators); with ``menu`` the
    USSD dialogues run the menu engine, without it only one-shot call-backs are served."""
    sms = config.sms
    links: dict[str, EsmeLink] = {}
    application: UssdApplication | None = None
    if menu is not None:
        from ...ussd_menus import SmppMenuApplication  # the menus build on this package: imported late

        application = SmppMenuApplication(menu)
    ussd = UssdTransport(settings=config.ussd, engine=engine, directory=directory, catalog=engine.catalog,
                         send=lambda name, pdu: links[name].submit(pdu), runtime=runtime, clock=reactor,
                         application=application)
    commands = SmsCommands(
        engine=engine, directory=directory, charging=charging, catalog=engine.catalog,
        keywords=sms.keyword_table(), now=runtime.now,
        registration=RegistrationSettings(sms.code_ttl_seconds, sms.code_max_attempts),
    )
    handler = MoHandler(inbound=InboundStore(db, duplicate_window_seconds=sms.duplicate_window_seconds),
                        outbox=outbox, commands=commands, runtime=runtime, clock=reactor,
                        reassembler=Reassembler(timeout=sms.reassembly_timeout_seconds), ussd=ussd)
    for link in config.smpp.links:
        links[link.name] = EsmeLink(link_config(link), handler, reactor, endpoint=(endpoints or {}).get(link.name))
    sms_links = [link.name for link in config.smpp.links if link.role in ("sms", "both")]
    notifier = SmppNotifier(partial(submit_sms, links, sms_links),
                            SmsSender(sms.source_addr, sms.source_ton, sms.source_npi), concat=ConcatMode(sms.concat))
    return Messaging(links, handler, ussd, with_ussn(config, links, notifier))


def with_ussn(config: Config, links: Mapping[str, EsmeLink], sms: Notifier) -> Notifier:
    """``sms`` wrapped to push call-back outcomes by USSN, when configured and the centre can take them."""
    settings = config.ussd
    if not settings.push_via_ussn:
        return sms
    ussd_links = [link.name for link in config.smpp.links if link.role in ("ussd", "both")]
    op = settings.dialect.ussn_op
    if op is None:
        log.warn("ussd.push_via_ussn is set but dialect {preset!r} has no ussn_op: notices go by SMS",
                 preset=settings.dialect.preset)
        return sms
    if not ussd_links:
        log.warn("ussd.push_via_ussn is set but no smpp link has role ussd or both: notices go by SMS")
        return sms
    return UssnNotifier(sms, partial(submit_sms, links, ussd_links), op=op, settings=settings,
                        source_addr=settings.source_addr or settings.service_codes[0])
