"""The durable state of callback requests: the core's RequestStore on any SQL backend.

Each method is one unit of work on the Database, so a transition, its history line, its CDRs, its
notice and the release of the subscriber's active slot commit together or not at all. A stale
transition is detected before anything is written, so the unit never fails inside a group commit and
never forces the writer to replay its neighbours one by one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from ..core.model import CallbackRequest, LegRecord, RecentActivity, Transition
from ..core.ports import StaleTransition
from ..core.states import TERMINAL_STATES, RequestState
from .pool import Database
from .prepared import Prepared
from .rows import (
    LEG_COLUMNS,
    NOTICE_COLUMNS,
    REQUEST_COLUMNS,
    from_db,
    leg_from_row,
    leg_values,
    notice_values,
    plain,
    request_from_row,
    request_values,
    to_db,
    truncate,
)
from .schema import (
    active_callbacks,
    call_legs,
    callback_requests,
    notice_outbox,
    registered_numbers,
    request_events,
)

# Columns a transition may change besides the ones it always sets (state, reason, detail, updated_at);
# identity and creation columns never move after ``create``.
_FIXED = frozenset({"id", "channel", "requester", "created_at", "state", "reason", "detail", "updated_at"})
CHANGEABLE = frozenset(f.name for f in fields(CallbackRequest) if f.name in callback_requests.c) - _FIXED

_TERMINAL = sorted(state.value for state in TERMINAL_STATES)


def _wall_clock() -> datetime:
    return datetime.now(UTC)


class SqlRequestStore:
    """``clock`` stamps what the port's methods carry no time for (when a claim was taken)."""

    def __init__(self, db: Database, clock: Callable[[], datetime] = _wall_clock) -> None:
        self._db = db
        self._clock = clock

    async def create(self, request: CallbackRequest) -> None:
        values = request_values(request)

        def work(conn: Connection) -> None:
            _INSERT_REQUEST.run(conn, values)
            _INSERT_EVENT.run(conn, {
                "request_id": request.id, "at": values["created_at"], "source": None,
                "target": values["state"], "reason": request.reason, "detail": values["detail"],
            })

        await self._db.write(work)

    async def record(self, transition: Transition) -> None:
        changes = _checked_changes(transition.changes)
        if not await self._db.write(lambda conn: _apply(conn, transition, changes)):
            raise StaleTransition(
                f"request {transition.request_id} is not in state {transition.source.value} "
                f"(wanted {transition.source.value} -> {transition.target.value})"
            )

    async def claim_active(self, msisdn: str, request_id: str) -> bool:
        since = to_db(self._clock())
        return await self._db.write(lambda conn: _claim(conn, msisdn, request_id, since))

    async def recent_activity(self, msisdn: str, since: datetime) -> RecentActivity:
        params = {"w_msisdn": msisdn, "w_since": to_db(since)}
        count, last = await self._db.read(lambda conn: conn.execute(_RECENT_ACTIVITY, params).one())
        return RecentActivity(accepted_since=count, last_accepted_at=from_db(last))

    async def confirmed_numbers(self, msisdn: str) -> frozenset[str]:
        return await self._db.read(
            lambda conn: frozenset(conn.execute(_CONFIRMED_NUMBERS, {"w_msisdn": msisdn}).scalars())
        )

    async def get(self, request_id: str) -> CallbackRequest | None:
        found = await self._db.read(lambda conn: _load(conn, callback_requests.c.id == request_id, limit=1))
        return found[0] if found else None

    async def find_by_reference(self, channel: str, reference: str) -> CallbackRequest | None:
        """The latest request a channel filed under its own id: how a front door detects a resend."""
        condition = sa.and_(
            callback_requests.c.channel == plain(channel), callback_requests.c.reference == reference
        )
        found = await self._db.read(lambda conn: _load(conn, condition, limit=1, newest_first=True))
        return found[0] if found else None

    async def unfinished(self) -> list[CallbackRequest]:
        condition = callback_requests.c.state.not_in(_TERMINAL)
        return await self._db.read(lambda conn: _load(conn, condition))


def _checked_changes(changes: dict[str, object]) -> dict[str, Any]:
    unknown = sorted(set(changes) - CHANGEABLE)
    if unknown:
        raise ValueError(
            f"Transition.changes has keys the store cannot write: {', '.join(unknown)} "
            f"(allowed: {', '.join(sorted(CHANGEABLE))})"
        )
    return {key: plain(value) for key, value in changes.items()}


# Statements built once: SQLAlchemy then reuses their compiled form, and the writer thread (the service's
# throughput limit) spends its time in the database rather than in statement construction. The SET
# clause of the UPDATEs comes from the parameters; WHERE parameters are prefixed so they cannot clash.
_RECENT_ACTIVITY = sa.select(sa.func.count(), sa.func.max(callback_requests.c.created_at)).where(
    callback_requests.c.requester == sa.bindparam("w_msisdn"),
    callback_requests.c.created_at >= sa.bindparam("w_since"),
    # The request being decided is still RECEIVED: it must not count against itself.
    callback_requests.c.state.not_in([RequestState.REFUSED.value, RequestState.RECEIVED.value]),
)
_CONFIRMED_NUMBERS = sa.select(registered_numbers.c.phone).where(
    registered_numbers.c.msisdn == sa.bindparam("w_msisdn"), registered_numbers.c.confirmed
)
_ALWAYS_SET = ("state", "reason", "detail", "updated_at")
_UPDATE_REQUEST = callback_requests.update().where(
    callback_requests.c.id == sa.bindparam("w_id"), callback_requests.c.state == sa.bindparam("w_source")
)
_EVENT_KEYS = ("request_id", "at", "source", "target", "reason", "detail")
_INSERT_REQUEST = Prepared(callback_requests.insert(), REQUEST_COLUMNS)
_INSERT_EVENT = Prepared(request_events.insert(), _EVENT_KEYS)
_UPDATE_LEG = Prepared(
    call_legs.update().where(
        call_legs.c.call_id == sa.bindparam("w_call_id"), call_legs.c.leg == sa.bindparam("w_leg")
    ),
    (*LEG_COLUMNS, "w_call_id", "w_leg"),
)
_INSERT_LEG = Prepared(call_legs.insert(), LEG_COLUMNS)
_INSERT_NOTICE = Prepared(notice_outbox.insert(), NOTICE_COLUMNS)
_RELEASE_ACTIVE = Prepared(
    active_callbacks.delete().where(
        active_callbacks.c.request_id == sa.bindparam("w_id"),
        active_callbacks.c.msisdn
        == sa.select(callback_requests.c.requester)
        .where(callback_requests.c.id == sa.bindparam("w_id"))
        .scalar_subquery(),
    ),
    ("w_id",),
)


@functools.cache
def _request_update(change_keys: frozenset[str]) -> Prepared:
    """One prepared UPDATE per set of changed columns (a handful exist: one per kind of transition)."""
    return Prepared(_UPDATE_REQUEST, ("w_id", "w_source", *_ALWAYS_SET, *sorted(change_keys)))


def _apply(conn: Connection, transition: Transition, changes: dict[str, Any]) -> bool:
    """Write the whole transition; False (and nothing written) if the row was not in the source state."""
    at = to_db(transition.at)
    detail = truncate(transition.detail, 400)
    target = transition.target.value
    updated = _request_update(frozenset(changes)).run(
        conn,
        {"w_id": transition.request_id, "w_source": transition.source.value, "state": target,
         "reason": transition.reason, "detail": detail, "updated_at": at, **changes},
    )
    if updated != 1:
        return False
    _INSERT_EVENT.run(
        conn,
        {"request_id": transition.request_id, "at": at, "source": transition.source.value,
         "target": target, "reason": transition.reason, "detail": detail},
    )
    for leg in transition.legs:
        _write_leg(conn, leg)
    if transition.notice is not None:
        _INSERT_NOTICE.run(conn, notice_values(transition.notice, transition.at))
    if transition.release_active:
        _RELEASE_ACTIVE.run(conn, {"w_id": transition.request_id})
    return True


def _write_leg(conn: Connection, leg: LegRecord) -> None:
    """A leg is one row per (call_id, leg): written again only to complete what an earlier step knew."""
    values = leg_values(leg)
    if _UPDATE_LEG.run(conn, {**values, "w_call_id": leg.call_id, "w_leg": values["leg"]}) == 0:
        _INSERT_LEG.run(conn, values)


_CLAIM_HOLDER = sa.select(active_callbacks.c.request_id).where(
    active_callbacks.c.msisdn == sa.bindparam("w_msisdn")
)
_CLAIM_KEYS = ("msisdn", "request_id", "since")


@functools.cache
def _claim_insert(dialect: str) -> Prepared | None:
    """An INSERT that skips a conflicting row instead of failing, where the dialect has one."""
    if dialect == "sqlite":
        return Prepared(sqlite.insert(active_callbacks).on_conflict_do_nothing(), _CLAIM_KEYS)
    if dialect == "postgresql":
        return Prepared(postgresql.insert(active_callbacks).on_conflict_do_nothing(), _CLAIM_KEYS)
    if dialect == "mysql":
        return Prepared(active_callbacks.insert().prefix_with("IGNORE"), _CLAIM_KEYS)
    return None


def _claim(conn: Connection, msisdn: str, request_id: str, since: datetime) -> bool:
    """Check first (writes are serialised per connection); the insert then only loses to another writer.

    Claiming again for the request that holds the slot succeeds: recovery re-decides such requests.
    A lost race must not raise, since an error would roll back the writer's whole group commit: the
    insert skips the conflicting row natively, or (Oracle) a savepoint contains the IntegrityError.
    Savepoints are avoided on SQLite, whose driver lets RELEASE SAVEPOINT commit the transaction early.
    """
    holder = conn.execute(_CLAIM_HOLDER, {"w_msisdn": msisdn}).scalar()
    if holder is not None:
        return holder == request_id
    values = {"msisdn": msisdn, "request_id": request_id, "since": since}
    insert = _claim_insert(conn.dialect.name)
    if insert is not None:
        return insert.run(conn, values) == 1
    try:
        with conn.begin_nested():
            conn.execute(active_callbacks.insert().values(values))
    except IntegrityError:
        return False
    return True


def _load(
    conn: Connection,
    condition: sa.ColumnElement[bool],
    *,
    limit: int | None = None,
    newest_first: bool = False,
) -> list[CallbackRequest]:
    """Requests matching ``condition`` with their legs, in creation order (id breaks ties)."""
    order = (callback_requests.c.created_at, callback_requests.c.id)
    query = sa.select(callback_requests).where(condition)
    query = query.order_by(*(col.desc() for col in order)) if newest_first else query.order_by(*order)
    if limit is not None:
        query = query.limit(limit)
    rows = conn.execute(query).mappings().all()
    if not rows:
        return []
    legs: dict[str, list[LegRecord]] = {row["id"]: [] for row in rows}
    # A subquery rather than a list of ids: recovery may load more than Oracle's 1000-item IN limit.
    owners = sa.select(callback_requests.c.id).where(condition) if limit is None else list(legs)
    leg_rows = conn.execute(
        sa.select(call_legs)
        .where(call_legs.c.request_id.in_(owners))
        .order_by(call_legs.c.started_at, call_legs.c.id)
    ).mappings()
    for leg_row in leg_rows:
        if leg_row["request_id"] in legs:  # skip requests created between the two reads
            legs[leg_row["request_id"]].append(leg_from_row(leg_row))
    return [request_from_row(row, legs[row["id"]]) for row in rows]
