"""Reference data from the command line: subscribers, their numbers, accounts, rates, blocked prefixes,
and what the switch triggers read (default destinations, personal DIDs).

Numbers are normalised the way the service reads them (``config.home.region`` for national formats),
so ``0612345678`` and ``+33 6 12 34 56 78`` provision the same subscriber.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ...config import Config
from ...core import numbers
from ...core.model import Subscriber
from ...gateway.switch_triggers import PersonalDid
from ...ledger.accounts import (
    RateImportError,
    create_account,
    load_rates,
    rates_from_csv,
    rates_to_csv,
    replace_rates,
    top_up,
)
from ...storage.provisioning import block_prefix, register_number, upsert_subscriber
from ...storage.rows import subscriber_from_row
from ...storage.schema import accounts, blocked_prefixes, registered_numbers, subscribers
from ...storage.trigger_accounts import (
    list_personal_dids,
    personal_did,
    remove_personal_did,
    save_personal_did,
    set_default_destination,
)
from ._db import AdminError, now, read, write


def _number(config: Config, raw: str) -> str:
    try:
        return numbers.normalise(raw, config.home.region)
    except numbers.InvalidNumber:
        raise AdminError(f"{raw!r} is not a phone number") from None


def _subscriber(conn: Connection, msisdn: str) -> Subscriber:
    row = conn.execute(sa.select(subscribers).where(subscribers.c.msisdn == msisdn)).mappings().first()
    if row is None:
        raise AdminError(f"no subscriber {msisdn}")
    return subscriber_from_row(row)


def subscriber_add(args: argparse.Namespace, config: Config) -> int:
    msisdn = _number(config, args.msisdn)
    subscriber = Subscriber(
        msisdn=msisdn, home_region=(args.region or config.home.region).upper(), language=args.language,
        roaming=args.visited is not None, visited_region=args.visited.upper() if args.visited else None,
        account_id=args.account,
    )
    write(config, "subscriber.add", msisdn, lambda conn: upsert_subscriber(conn, subscriber, at=now()))
    print(f"subscriber {msisdn} saved")
    return 0


def subscriber_show(args: argparse.Namespace, config: Config) -> int:
    msisdn = _number(config, args.msisdn)

    def work(conn: Connection) -> tuple[Subscriber, list[sa.Row], sa.Row | None]:
        subscriber = _subscriber(conn, msisdn)
        phones = conn.execute(sa.select(registered_numbers).where(registered_numbers.c.msisdn == msisdn)
                              .order_by(registered_numbers.c.phone)).all()
        account = (conn.execute(sa.select(accounts).where(accounts.c.id == subscriber.account_id)).first()
                   if subscriber.account_id else None)
        return subscriber, phones, account

    subscriber, phones, account = read(config, work)
    for name in ("msisdn", "home_region", "language", "active", "roaming", "visited_region", "service_allowed",
                 "account_id"):
        print(f"{name}: {getattr(subscriber, name)}")
    for phone in phones:
        print(f"callback number: {phone.phone} ({'confirmed' if phone.confirmed else 'pending'})")
    if account is not None:
        print(f"balance: {account.balance_minor} {account.currency} (reserved {account.reserved_minor})")
    return 0


def subscriber_list(args: argparse.Namespace, config: Config) -> int:
    query = sa.select(subscribers).order_by(subscribers.c.msisdn).limit(args.limit)
    for row in read(config, lambda conn: conn.execute(query).mappings().all()):
        state = "active" if row["active"] else "blocked"
        print(f"{row['msisdn']}\t{state}\t{row['visited_region'] or '-'}\t{row['account_id'] or '-'}")
    return 0


def subscriber_block(args: argparse.Namespace, config: Config) -> int:
    msisdn = _number(config, args.msisdn)
    active = args.action == "unblock"

    def work(conn: Connection) -> None:
        upsert_subscriber(conn, replace(_subscriber(conn, msisdn), active=active), at=now())

    write(config, f"subscriber.{args.action}", msisdn, work, detail=args.reason or "")
    print(f"subscriber {msisdn} {'unblocked' if active else 'blocked'}")
    return 0


def number_add(args: argparse.Namespace, config: Config) -> int:
    msisdn, phone = _number(config, args.msisdn), _number(config, args.number)

    def work(conn: Connection) -> None:
        _subscriber(conn, msisdn)
        register_number(conn, msisdn, phone, at=now(), confirmed=True)

    write(config, "number.add", msisdn, work, detail=phone)
    print(f"{phone} registered for {msisdn}")
    return 0


def account_create(args: argparse.Namespace, config: Config) -> int:
    currency = args.currency or config.home.currency
    write(config, "account.create", args.account,
          lambda conn: create_account(conn, args.account, currency=currency, at=now()))
    print(f"account {args.account} created ({currency})")
    return 0


def account_top_up(args: argparse.Namespace, config: Config) -> int:
    balance = write(config, "account.topup", args.account,
                    lambda conn: top_up(conn, args.account, args.amount, at=now(), note=args.note),
                    detail=str(args.amount))
    print(f"account {args.account} balance {balance}")
    return 0


def rates_import(args: argparse.Namespace, config: Config) -> int:
    try:
        rows = rates_from_csv(Path(args.file).read_text(encoding="utf-8"))
    except RateImportError as exc:
        for line, problem in exc.errors:
            print(f"{args.file}:{line}: {problem}", file=sys.stderr)
        return 1
    count = write(config, "rates.import", Path(args.file).name, lambda conn: replace_rates(conn, rows))
    print(f"{count} rates imported; running services use them after a rate reload")
    return 0


def rates_export(args: argparse.Namespace, config: Config) -> int:
    text = rates_to_csv(read(config, load_rates))
    if args.file:
        Path(args.file).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def prefix_block(args: argparse.Namespace, config: Config) -> int:
    try:
        write(config, "prefix.block", args.prefix,
              lambda conn: block_prefix(conn, args.prefix, args.reason, at=now()), detail=args.reason or "")
    except ValueError as exc:
        raise AdminError(str(exc)) from None
    print(f"prefix {args.prefix} blocked")
    return 0


def prefix_list(args: argparse.Namespace, config: Config) -> int:
    query = sa.select(blocked_prefixes).order_by(blocked_prefixes.c.prefix)
    for row in read(config, lambda conn: conn.execute(query).all()):
        print(f"+{row.prefix}\t{row.reason or ''}")
    return 0


def subscriber_destination(args: argparse.Namespace, config: Config) -> int:
    msisdn = _number(config, args.msisdn)
    number = None if args.clear else _number(config, args.number)

    def work(conn: Connection) -> None:
        if not set_default_destination(conn, msisdn, number):
            raise AdminError(f"no subscriber {msisdn}")

    write(config, "subscriber.destination", msisdn, work, detail=number or "cleared")
    print(f"missed calls from {msisdn} connect to {number}" if number else
          f"default destination of {msisdn} cleared; missed calls make no request")
    return 0


def did_add(args: argparse.Namespace, config: Config) -> int:
    did = PersonalDid(
        did=_number(config, args.did), subscriber=_number(config, args.subscriber),
        callback_number=_number(config, args.callback) if args.callback else None,
        destination=_number(config, args.destination) if args.destination else None,
    )

    def work(conn: Connection) -> None:
        _subscriber(conn, did.subscriber)
        existing = personal_did(conn, did.did)
        if existing is not None and existing.subscriber != did.subscriber:
            raise AdminError(f"DID {did.did} belongs to {existing.subscriber}; remove it first")
        if did.callback_number not in (None, did.subscriber) and config.policy.leg_a_registered_only:
            _confirmed_number(conn, did.subscriber, did.callback_number)
        save_personal_did(conn, did, at=now())

    write(config, "did.add", did.did, work,
          detail=f"{did.subscriber} callback={did.callback_number or '-'} destination={did.destination or '-'}")
    print(f"DID {did.did} saved for {did.subscriber}")
    return 0


def _confirmed_number(conn: Connection, msisdn: str, number: str | None) -> None:
    """The core calls leg A only on confirmed numbers, so a DID that names another would never work."""
    query = sa.select(registered_numbers.c.id).where(
        registered_numbers.c.msisdn == msisdn, registered_numbers.c.phone == number,
        registered_numbers.c.confirmed == sa.true())
    if conn.execute(query).first() is None:
        raise AdminError(f"{number} is not a confirmed callback number of {msisdn}; "
                         "add it with `roamback admin number add`")


def did_remove(args: argparse.Namespace, config: Config) -> int:
    did = _number(config, args.did)

    def work(conn: Connection) -> None:
        if not remove_personal_did(conn, did):
            raise AdminError(f"no DID {did}")

    write(config, "did.remove", did, work)
    print(f"DID {did} removed")
    return 0


def did_list(args: argparse.Namespace, config: Config) -> int:
    for did in read(config, list_personal_dids):
        print(f"{did.did}\t{did.subscriber}\t{did.callback_number or '-'}\t{did.destination or '-'}")
    return 0
