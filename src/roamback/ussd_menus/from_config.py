"""The menu engine and its HTTP door, built from the service's configuration.

Kept apart from ``roamback.app`` because only the menu knows how its settings, store and actions fit
together; the application just asks for an engine and hands it to the doors (SMPP USSD and HTTP).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twisted.web.resource import Resource
from twisted.web.server import Site

from ..gateway.decision import DecisionWaiter
from ..gateway.http_ussd import HttpUssdSettings, UssdFrontDoor
from ..gateway.mobile.sms_commands import RegistrationSettings
from .core_actions import CoreMenuActions
from .engine import MenuEngine, MenuSettings
from .loader import default_menu_path, load_menu
from .state import MemoryStore, StateStore

if TYPE_CHECKING:
    from ..app import Components
    from ..config import Config


def _store(config: Config, clock: Any) -> StateStore:
    menu = config.ussd_menu
    if menu.store == "redis":
        from .redis_store import RedisStore, connect

        redis = menu.redis
        password = redis.password.get_secret_value() if redis.password is not None else None
        return RedisStore(connect(redis.host, redis.port, db=redis.db, password=password,
                                  timeout=redis.timeout_seconds), clock=clock, prefix=redis.prefix)
    return MemoryStore()


def build_menu_engine(config: Config, parts: Components, reactor: Any) -> MenuEngine:
    menu = config.ussd_menu
    settings = MenuSettings.from_ussd(
        config.ussd, default_language=config.home.default_language, max_errors=menu.max_errors,
        max_phonebook_entries=menu.max_phonebook_entries, index_digits=menu.index_digits,
        notify_on_timeout=menu.notify_on_timeout)
    actions = CoreMenuActions(engine=parts.engine, db=parts.db, directory=parts.directory, charging=parts.charging,
                              now=parts.runtime.now,
                              registration=RegistrationSettings(config.sms.code_ttl_seconds,
                                                                config.sms.code_max_attempts),
                              waiter=DecisionWaiter(parts.engine, parts.runtime)
                              if menu.confirm == "on_decision" else None)
    return MenuEngine(load_menu(menu.file or default_menu_path(), settings.limits), actions=actions,
                      store=_store(config, reactor.seconds), catalog=parts.engine.catalog, settings=settings,
                      clock=reactor.seconds)


def build_http_ussd_site(config: Config, parts: Components) -> Site:
    """The aggregators' door at ``ussd_http.path``; it refuses every call without the configured secret."""
    assert parts.menu is not None, "ussd_http needs ussd_menu.enabled"
    http = config.ussd_http
    door = UssdFrontDoor(parts.menu, HttpUssdSettings(secret_sha256=http.digest(), secret_header=http.secret_header,
                                                      allow_from=tuple(http.allow_from)))
    root = Resource()
    node = root
    segments = [segment.encode() for segment in http.path.strip("/").split("/") if segment]
    for segment in segments[:-1]:
        child = Resource()
        node.putChild(segment, child)
        node = child
    node.putChild(segments[-1] if segments else b"", door)
    return Site(root)
