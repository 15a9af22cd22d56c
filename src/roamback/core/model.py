"""Plain data the core passes between itself and its ports.

Frozen dataclasses where the value is a fact (a trigger, a leg event, a grant); the one mutable object is
``CallbackRequest``, whose state only the engine changes, through the transition table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from .reasons import HangupCause
from .states import RequestState


class Channel(StrEnum):
    """The front door a trigger came through; decides how far the requester's identity is proven."""

    USSD = "ussd"
    SMS = "sms"
    MISSED_CALL = "missed_call"
    IVR = "ivr"
    WEB = "web"
    API = "api"
    EMAIL = "email"


class Leg(StrEnum):
    A = "A"
    B = "B"


class CallMode(StrEnum):
    A_FIRST = "a_first"
    SIMULTANEOUS = "simultaneous"
    B_FIRST = "b_first"


@dataclass(frozen=True, slots=True)
class Subscriber:
    """What the operator's subscriber database says about a roamer, as far as the service needs it."""

    msisdn: str  # E.164 with '+'
    home_region: str  # ISO 3166 alpha-2, used to read national-format numbers
    language: str = "en"
    active: bool = True
    roaming: bool = False
    visited_region: str | None = None
    service_allowed: bool = True
    account_id: str | None = None
    imsi: str | None = None


@dataclass(frozen=True, slots=True)
class CallbackTrigger:
    """A subscriber's request as a front door understood it, before any validation.

    ``requester`` is the identity the channel asserts (network MSISDN, caller ID, authenticated user);
    numbers are raw text as typed, so that the refusal can quote what the subscriber actually sent.
    """

    channel: Channel
    requester: str
    destination: str
    callback_number: str | None = None
    language: str | None = None
    reference: str | None = None  # channel's own id (SMPP message id, API idempotency key, ...)


@dataclass(frozen=True, slots=True)
class Grant:
    """What charging allows for one callback: limits per leg, counted from that leg's answer."""

    reservation_id: str
    max_talk_seconds: int
    leg_a_limit: int
    leg_b_limit: int
    currency: str | None = None
    balance_minor: int | None = None  # what the subscriber may hear/read; None if charging won't say
    validity_seconds: int | None = None  # ask again (update) before this runs out; None: grant is final


@dataclass(frozen=True, slots=True)
class ChargingContext:
    """Everything a charging backend may rate or reserve on, resolved by the core beforehand."""

    request_id: str
    subscriber: Subscriber
    leg_a_number: str
    leg_b_number: str
    max_call_seconds: int
    setup_allowance_seconds: int


@dataclass(frozen=True, slots=True)
class Settlement:
    """The result of terminating a reservation: what was billed per leg and what it cost."""

    billed_seconds: dict[Leg, int]
    cost_minor: int
    currency: str | None = None
    balance_minor: int | None = None
    leg_cost_minor: dict[Leg, int] = field(default_factory=dict)  # for per-leg CDRs, if known


@dataclass(frozen=True, slots=True)
class Balance:
    available_minor: int
    currency: str
    postpaid: bool = False


@dataclass(frozen=True, slots=True)
class Prompt:
    """What leg A hears on answer: the switch renders it in its own sound files."""

    language: str
    max_seconds: int
    balance_minor: int | None = None
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class CallPlan:
    """One attempt to place a two-leg callback; a leg-A retry is a new plan with a new call_id."""

    call_id: str
    request_id: str
    attempt: int
    leg_a_number: str
    leg_a_caller_id: str
    leg_b_number: str
    leg_b_caller_id: str
    leg_a_limit: int
    leg_b_limit: int
    ring_timeout: int
    prompt: Prompt
    mode: CallMode = CallMode.A_FIRST


class LegEventKind(StrEnum):
    DIALLING = "dialling"
    ANSWERED = "answered"
    BRIDGED = "bridged"
    ENDED = "ended"
    CALL_ENDED = "call_ended"


@dataclass(frozen=True, slots=True)
class LegEvent:
    """A fact reported by a switch adapter. ``leg`` is None for BRIDGED and CALL_ENDED."""

    call_id: str
    kind: LegEventKind
    at: datetime
    leg: Leg | None = None
    cause: HangupCause | None = None


@dataclass(slots=True)
class LegRecord:
    """One leg attempt as it will be written as a CDR: answered or not, with its cause."""

    request_id: str
    call_id: str
    leg: Leg
    attempt: int
    number: str
    caller_id: str
    started_at: datetime
    answered_at: datetime | None = None
    bridged_at: datetime | None = None
    ended_at: datetime | None = None
    cause: HangupCause | None = None
    billed_seconds: int = 0
    cost_minor: int = 0

    def copy(self) -> LegRecord:
        """A snapshot to persist while the live record keeps changing; ``dataclasses.replace`` costs
        five times as much, and the engine snapshots legs on every step of every call."""
        return LegRecord(self.request_id, self.call_id, self.leg, self.attempt, self.number, self.caller_id,
                         self.started_at, self.answered_at, self.bridged_at, self.ended_at, self.cause,
                         self.billed_seconds, self.cost_minor)

    def used_seconds(self, until: datetime | None = None) -> int:
        """Seconds from answer to end (or ``until`` if the end was never seen): what charging bills."""
        end = self.ended_at or until
        if self.answered_at is None or end is None:
            return 0
        return max(0, int((end - self.answered_at).total_seconds()))


@dataclass(frozen=True, slots=True)
class Notice:
    """A text to a subscriber, queued in the outbox in the same transaction as the state it reports."""

    request_id: str | None
    msisdn: str
    language: str
    key: str
    text: str


@dataclass(slots=True)
class CallbackRequest:
    id: str
    channel: Channel
    requester: str
    destination_raw: str
    callback_raw: str | None
    language: str
    created_at: datetime
    state: RequestState = RequestState.RECEIVED
    updated_at: datetime | None = None
    reason: str | None = None
    detail: str | None = None  # operator-facing detail of the reason; for invalid_number, the field name
    destination: str | None = None  # E.164 once validated
    callback_number: str | None = None  # E.164 once validated
    account_id: str | None = None
    reservation_id: str | None = None
    max_talk_seconds: int | None = None
    leg_a_limit: int | None = None
    leg_b_limit: int | None = None
    call_id: str | None = None
    attempts: int = 0
    reference: str | None = None
    legs: list[LegRecord] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Transition:
    """One persisted step of a request: the row update, its history line and whatever rides with it.

    ``changes`` names CallbackRequest attributes to write alongside the state, so the store never has to
    guess which fields moved. Legs, the notice and the release of the one-active claim are written in the
    same transaction, so a crash never leaves a terminal state without its CDRs and notice. The claim of
    the one-active slot rides with the acceptance for the same reason: no request is accepted without it.
    """

    request_id: str
    source: RequestState
    target: RequestState
    at: datetime
    reason: str | None = None
    detail: str | None = None
    changes: dict[str, object] = field(default_factory=dict)
    legs: tuple[LegRecord, ...] = ()
    notice: Notice | None = None
    release_active: bool = False
    claim_active: bool = False  # take the requester's one active-callback slot first, or write nothing


@dataclass(frozen=True, slots=True)
class RecentActivity:
    """What the fraud policies need to know about a subscriber's earlier requests."""

    accepted_since: int
    last_accepted_at: datetime | None
