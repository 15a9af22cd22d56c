"""Reading what happened: live call-backs, one call-back's full history, CDRs, and ASR/ACD by destination.

These read the tables the engine writes (``callback_requests``, ``request_events``, ``call_legs``,
``notice_outbox``) and nothing else, so they agree with the service by construction. CDRs include every
leg attempt, answered or not, because failed and busy attempts are what a carrier disputes first.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from datetime import datetime
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ...config import Config
from ...core.states import TERMINAL_STATES
from ...storage.rows import from_db, to_db
from ...storage.schema import call_legs, callback_requests, notice_outbox, request_events
from ._db import AdminError, read

CDR_COLUMNS = (
    "request_id", "call_id", "leg", "attempt", "channel", "requester", "dialled", "caller_id", "started_at",
    "answered_at", "bridged_at", "ended_at", "cause", "billed_seconds", "cost_minor",
)


def _time(value: datetime | None) -> str:
    moment = from_db(value)
    return moment.isoformat() if moment is not None else ""


def live(args: argparse.Namespace, config: Config) -> int:
    query = (sa.select(callback_requests)
             .where(callback_requests.c.state.not_in([s.value for s in TERMINAL_STATES]))
             .order_by(callback_requests.c.created_at))
    for row in read(config, lambda conn: conn.execute(query).all()):
        print(f"{row.id}\t{row.state}\t{row.requester}\t{row.destination or row.destination_raw}\t"
              f"{_time(row.created_at)}")
    return 0


def history(args: argparse.Namespace, config: Config) -> int:
    def work(conn: Connection) -> tuple[Any, list[Any], list[Any], list[Any]]:
        request = conn.execute(sa.select(callback_requests).where(callback_requests.c.id == args.request_id)).first()
        if request is None:
            raise AdminError(f"no call-back {args.request_id}")
        events = conn.execute(sa.select(request_events).where(request_events.c.request_id == args.request_id)
                              .order_by(request_events.c.id)).all()
        legs = conn.execute(sa.select(call_legs).where(call_legs.c.request_id == args.request_id)
                            .order_by(call_legs.c.id)).all()
        notices = conn.execute(sa.select(notice_outbox).where(notice_outbox.c.request_id == args.request_id)
                               .order_by(notice_outbox.c.id)).all()
        return request, events, legs, notices

    request, events, legs, notices = read(config, work)
    print(f"call-back {request.id}: {request.state}{f' ({request.reason})' if request.reason else ''}, "
          f"{request.channel} from {request.requester} to {request.destination or request.destination_raw}")
    for event in events:
        why = f" ({event.reason})" if event.reason else ""
        print(f"  {_time(event.at)}  {event.source or '-'} -> {event.target}{why}")
    for leg in legs:
        answered = _time(leg.answered_at) or "-"
        print(f"  leg {leg.leg} #{leg.attempt} {leg.dialled}: {leg.cause or '-'}, answered {answered}, "
              f"billed {leg.billed_seconds}s, cost {leg.cost_minor}")
    for notice in notices:
        print(f"  notice {notice.msg_key} to {notice.msisdn}: {notice.state}")
    return 0


def _cdr_rows(conn: Connection, start: datetime, end: datetime) -> list[Any]:
    query = (sa.select(call_legs, callback_requests.c.channel, callback_requests.c.requester)
             .join(callback_requests, callback_requests.c.id == call_legs.c.request_id)
             .where(call_legs.c.started_at >= to_db(start), call_legs.c.started_at < to_db(end))
             .order_by(call_legs.c.started_at, call_legs.c.id))
    return list(conn.execute(query).mappings())


def write_cdrs(rows: list[Any], out: IO[str]) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CDR_COLUMNS)
    for row in rows:
        writer.writerow([_time(row[c]) if c.endswith("_at") else row[c] for c in CDR_COLUMNS])


def cdr_export(args: argparse.Namespace, config: Config) -> int:
    rows = read(config, lambda conn: _cdr_rows(conn, args.start, args.end))
    if args.output:
        with open(args.output, "w", encoding="utf-8", newline="") as out:
            write_cdrs(rows, out)
    else:
        write_cdrs(rows, sys.stdout)
    print(f"{len(rows)} CDRs", file=sys.stderr)
    return 0


def kpi(args: argparse.Namespace, config: Config) -> int:
    """ASR and ACD per destination prefix (the first ``digits`` digits of leg B's number)."""
    rows = read(config, lambda conn: _cdr_rows(conn, args.start, args.end))
    dialled: dict[str, set[str]] = defaultdict(set)
    talk: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        if row["leg"] != "B":
            continue
        prefix = row["dialled"].removeprefix("+")[: args.digits]
        dialled[prefix].add(row["request_id"])
        if row["bridged_at"] is not None and row["ended_at"] is not None:
            talk[prefix].append((row["ended_at"] - row["bridged_at"]).total_seconds())
    print("prefix\tattempts\tbridged\tasr\tacd_seconds")
    for prefix in sorted(dialled):
        attempts, bridged = len(dialled[prefix]), len(talk[prefix])
        acd = sum(talk[prefix]) / bridged if bridged else 0.0
        print(f"+{prefix}\t{attempts}\t{bridged}\t{bridged / attempts:.2f}\t{acd:.0f}")
    return 0
