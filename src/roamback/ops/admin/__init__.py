"""``roamback admin ...``: provisioning and reports against the configured database.

``register(subparsers)`` adds the ``admin`` command to the ``roamback`` parser; each leaf sets ``run`` to a
handler ``(args, config) -> exit status``, the convention of ``roamback.cli``. An operator's mistake
(unknown subscriber, duplicate account, bad prefix) exits 1 with one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from ...config import Config
from ...ledger.accounts import UnknownAccount
from . import provisioning as p
from . import reports as r
from ._db import AdminError, moment

Handler = Callable[[argparse.Namespace, Config], int]

__all__ = ["register"]


def _guarded(handler: Handler) -> Handler:
    def run(args: argparse.Namespace, config: Config) -> int:
        try:
            return handler(args, config)
        except (AdminError, UnknownAccount, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1

    return run


def _group(parent: argparse._SubParsersAction, name: str, help: str) -> argparse._SubParsersAction:
    sub = parent.add_parser(name, help=help, description=help)
    return sub.add_subparsers(dest=f"{name}_command", required=True, metavar="COMMAND")


def _leaf(parent: argparse._SubParsersAction, name: str, handler: Handler, help: str) -> argparse.ArgumentParser:
    sub = parent.add_parser(name, help=help, description=help)
    sub.add_argument("--config", metavar="FILE", help="YAML configuration (default: embedded mode)")
    sub.set_defaults(run=_guarded(handler))
    return sub


def _subscribers(admin: argparse._SubParsersAction) -> None:
    group = _group(admin, "subscriber", "subscribers of the service")
    add = _leaf(group, "add", p.subscriber_add, "add or update a subscriber")
    add.add_argument("msisdn")
    add.add_argument("--region", help="home region (default: home.region)")
    add.add_argument("--language", default="en")
    add.add_argument("--visited", metavar="REGION", help="roaming in this region")
    add.add_argument("--account", help="prepaid account id")
    _leaf(group, "show", p.subscriber_show, "a subscriber, callback numbers and balance").add_argument("msisdn")
    _leaf(group, "list", p.subscriber_list, "subscribers by number").add_argument("--limit", type=int, default=100)
    for action in ("block", "unblock"):
        sub = _leaf(group, action, p.subscriber_block, f"{action} a subscriber (audited)")
        sub.add_argument("msisdn")
        sub.add_argument("--reason")
        sub.set_defaults(action=action)
    numbers = _group(admin, "number", "numbers a subscriber may be called back on")
    number = _leaf(numbers, "add", p.number_add, "register a confirmed callback number")
    number.add_argument("msisdn")
    number.add_argument("number")
    _switch_triggers(admin, group)


def _switch_triggers(admin: argparse._SubParsersAction, subscriber: argparse._SubParsersAction) -> None:
    destination = _leaf(subscriber, "destination", p.subscriber_destination,
                        "where a missed call (access number, recognised PIN caller) connects the subscriber")
    destination.add_argument("msisdn")
    choice = destination.add_mutually_exclusive_group(required=True)
    choice.add_argument("number", nargs="?")
    choice.add_argument("--clear", action="store_true", help="no default: missed calls make no request")
    dids = _group(admin, "did", "personal DIDs: a missed call to one is its owner's request")
    add = _leaf(dids, "add", p.did_add, "assign a DID to a subscriber, or change it")
    add.add_argument("did")
    add.add_argument("subscriber")
    add.add_argument("--callback", metavar="NUMBER", help="leg A (default: the subscriber's own number)")
    add.add_argument("--destination", metavar="NUMBER", help="leg B (default: the subscriber's default)")
    _leaf(dids, "remove", p.did_remove, "take a DID away").add_argument("did")
    _leaf(dids, "list", p.did_list, "DIDs with owner, callback number and destination")


def _ledger(admin: argparse._SubParsersAction) -> None:
    group = _group(admin, "account", "prepaid accounts of the built-in ledger")
    create = _leaf(group, "create", p.account_create, "open an empty account")
    create.add_argument("account")
    create.add_argument("--currency", help="ISO 4217 (default: home.currency)")
    top_up = _leaf(group, "top-up", p.account_top_up, "add credit, in minor units")
    top_up.add_argument("account")
    top_up.add_argument("amount", type=int)
    top_up.add_argument("--note")
    rates = _group(admin, "rates", "the rate table")
    _leaf(rates, "import", p.rates_import, "replace the rate table from a CSV file").add_argument("file")
    _leaf(rates, "export", p.rates_export, "write the rate table as CSV").add_argument("file", nargs="?")
    prefixes = _group(admin, "prefix", "blocked destination prefixes")
    block = _leaf(prefixes, "block", p.prefix_block, "block calls to a prefix, e.g. +881")
    block.add_argument("prefix")
    block.add_argument("--reason")
    _leaf(prefixes, "list", p.prefix_list, "blocked prefixes")


def _reports(admin: argparse._SubParsersAction) -> None:
    callbacks = _group(admin, "callbacks", "call-back requests")
    _leaf(callbacks, "live", r.live, "requests not finished yet")
    _leaf(callbacks, "history", r.history, "events, legs and notices of one request").add_argument("request_id")
    for name, handler, help in (("cdr", r.cdr_export, "export CDRs (every leg attempt) as CSV"),
                                ("kpi", r.kpi, "ASR and ACD by destination prefix")):
        sub = _leaf(admin, name, handler, help)
        sub.add_argument("--from", dest="start", type=moment, required=True, help="inclusive, e.g. 2024-05-01")
        sub.add_argument("--to", dest="end", type=moment, required=True, help="exclusive")
        if name == "cdr":
            sub.add_argument("--output", metavar="FILE", help="default: standard output")
        else:
            sub.add_argument("--digits", type=int, default=2, help="prefix length (default 2)")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``admin`` and its commands to the ``roamback`` command's subparsers."""
    admin = _group(subparsers, "admin", "provisioning and reports on the configured database")
    _subscribers(admin)
    _ledger(admin)
    _reports(admin)
