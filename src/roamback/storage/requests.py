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
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from ..core.model import CallbackRequest, LegRecord, RecentActivity, Transition
from ..core.ports import ActiveClaimTaken, StaleTransition
from ..core.states import TERMINAL_STATES, RequestState
from .pool import Database
from .prepared import Bulk, Prepared, unnest_rows
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

    async def create(self, request: CallbackRequest, *transitions: Transition) -> None:
        values = request_values(request)
        checked = [(transition, _checked_changes(transition.changes)) for transition in transitions]
        since = to_db(self._clock())
        outcome = await self._db.write(lambda conn: _insert(conn, request, values, checked, since))
        if outcome is _CLAIM_TAKEN:
            raise ActiveClaimTaken(request.requester)

    async def record(self, *transitions: Transition) -> None:
        if not transitions:
            return
        checked = [(transition, _checked_changes(transition.changes)) for transition in transitions]
        since = to_db(self._clock())
        outcome = await self._db.write(lambda conn: _update(conn, checked, since))
        if outcome is _CLAIM_TAKEN:
            raise ActiveClaimTaken(transitions[0].request_id)
        if outcome is _STALE:
            first = transitions[0]
            raise StaleTransition(
                f"request {first.request_id} is not in state {first.source.value} "
                f"(wanted {first.source.value} -> {transitions[-1].target.value})"
            )

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


# Units of work return one of these instead of raising: an exception would roll back the writer's
# whole group commit and make it replay every neighbour alone.
_CLAIM_TAKEN = object()
_STALE = object()
Checked = list[tuple[Transition, dict[str, Any]]]


def _insert(
    conn: Connection, request: CallbackRequest, values: dict[str, Any], checked: Checked, since: datetime
) -> object:
    """The request row as it stands after ``checked``, written once, with every step's history line."""
    if _claim_lost(conn, request.requester, checked, since):
        return _CLAIM_TAKEN
    final = dict(values)
    for transition, changes in checked:
        final.update(changes, state=transition.target.value, reason=transition.reason,
                     detail=truncate(transition.detail, 400), updated_at=to_db(transition.at))
    if any(transition.release_active for transition, _ in checked):
        _INSERT_REQUEST.run(conn, final)  # the release below finds the slot through the request's row
    else:
        # Deferred like its history lines: no unit of the batch reads it back (the engine never has two
        # writes of one request in flight), and the flush keeps it ahead of the lines queued after it.
        _INSERT_REQUEST.run_later(conn, final)
    _INSERT_EVENT.run_later(conn, {
        "request_id": request.id, "at": values["created_at"], "source": None,
        "target": values["state"], "reason": request.reason, "detail": values["detail"],
    })
    _write_consequences(conn, checked)
    return None


def _update(conn: Connection, checked: Checked, since: datetime) -> object:
    """One UPDATE from the first step's source to the last step's target, guarded by that source."""
    first = checked[0][0]
    last = checked[-1][0]
    if _claim_lost(conn, None, checked, since):
        return _CLAIM_TAKEN
    merged: dict[str, Any] = {}
    for _, changes in checked:
        merged.update(changes)
    updated = _request_update(frozenset(merged)).run(
        conn,
        {"w_id": first.request_id, "w_source": first.source.value, "state": last.target.value,
         "reason": last.reason, "detail": truncate(last.detail, 400), "updated_at": to_db(last.at), **merged},
    )
    if updated != 1:
        return _STALE
    _write_consequences(conn, checked)
    return None


def _claim_lost(conn: Connection, requester: str | None, checked: Checked, since: datetime) -> bool:
    claimant = next((transition for transition, _ in checked if transition.claim_active), None)
    if claimant is None:
        return False
    if requester is None:
        requester = conn.execute(_REQUESTER, {"w_id": claimant.request_id}).scalar_one()
    return not _claim(conn, requester, claimant.request_id, since)


def _write_consequences(conn: Connection, checked: Checked) -> None:
    """History lines, legs, notices and the slot's release: rows nothing in the batch reads back."""
    for transition, _ in checked:
        at = to_db(transition.at)
        _INSERT_EVENT.run_later(conn, {
            "request_id": transition.request_id, "at": at, "source": transition.source.value,
            "target": transition.target.value, "reason": transition.reason,
            "detail": truncate(transition.detail, 400),
        })
        for leg in transition.legs:
            _write_leg(conn, leg)
        if transition.notice is not None:
            _INSERT_NOTICE.run_later(conn, notice_values(transition.notice, transition.at))
        if transition.release_active:
            # Not deferred: a new request of the same subscriber later in this batch must find the slot free.
            _RELEASE_ACTIVE.run(conn, {"w_id": transition.request_id})


def _write_leg(conn: Connection, leg: LegRecord) -> None:
    """A leg is one row per (call_id, leg): written again only to complete what an earlier step knew."""
    values = leg_values(leg)
    upsert = _leg_upsert(conn.dialect.name)
    if upsert is not None:
        upsert.run_later(conn, values)
    elif _UPDATE_LEG.run(conn, {**values, "w_call_id": leg.call_id, "w_leg": values["leg"]}) == 0:
        _INSERT_LEG.run(conn, values)


@functools.cache
def _leg_upsert(dialect: str) -> Prepared | None:
    """INSERT that updates the existing (call_id, leg) row instead, where the dialect says so in one go."""
    keep = [name for name in LEG_COLUMNS if name not in ("call_id", "leg")]
    if dialect in ("sqlite", "postgresql"):
        insert = (sqlite.insert if dialect == "sqlite" else postgresql.insert)(call_legs)
        statement = insert.on_conflict_do_update(
            index_elements=[call_legs.c.call_id, call_legs.c.leg],
            set_={name: insert.excluded[name] for name in keep},
        )
        return Prepared(statement, LEG_COLUMNS, bulk=_leg_bulk() if dialect == "postgresql" else None)
    if dialect == "mysql":
        insert = mysql.insert(call_legs)
        return Prepared(insert.on_duplicate_key_update({name: insert.inserted[name] for name in keep}), LEG_COLUMNS)
    return None


def _leg_bulk() -> Bulk:
    """The flush's legs in one upsert; a leg written twice in a batch keeps its last values."""
    rows = unnest_rows({name: call_legs.c[name] for name in LEG_COLUMNS})
    insert = postgresql.insert(call_legs).from_select(list(LEG_COLUMNS), sa.select(rows))
    keep = [name for name in LEG_COLUMNS if name not in ("call_id", "leg")]
    statement = insert.on_conflict_do_update(
        index_elements=[call_legs.c.call_id, call_legs.c.leg],
        set_={name: insert.excluded[name] for name in keep},
    )
    return Bulk(statement, LEG_COLUMNS, unique=("call_id", "leg"))


_REQUESTER = sa.select(callback_requests.c.requester).where(callback_requests.c.id == sa.bindparam("w_id"))
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
    """Insert first (the usual case: the slot is free); only a skipped insert needs the holder read.

    Claiming again for the request that holds the slot succeeds: recovery re-decides such requests.
    A lost race must not raise, since an error would roll back the writer's whole group commit: the
    insert skips the conflicting row natively, or (Oracle) a savepoint contains the IntegrityError.
    Savepoints are avoided on SQLite, whose driver lets RELEASE SAVEPOINT commit the transaction early.
    """
    values = {"msisdn": msisdn, "request_id": request_id, "since": since}
    insert = _claim_insert(conn.dialect.name)
    if insert is not None:
        if insert.run(conn, values) == 1:
            return True
    else:
        try:
            with conn.begin_nested():
                conn.execute(active_callbacks.insert().values(values))
            return True
        except IntegrityError:
            pass
    return conn.execute(_CLAIM_HOLDER, {"w_msisdn": msisdn}).scalar() == request_id


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
