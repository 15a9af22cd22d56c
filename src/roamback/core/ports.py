"""Interfaces the core depends on; adapters on the edges implement them, chosen by configuration.

Methods are coroutines so the core stays free of Twisted: adapters may await Deferreds inside them, and
the service drives the core with ``Deferred.fromCoroutine``.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any, Protocol

from .model import (
    Balance,
    CallbackRequest,
    CallPlan,
    ChargingContext,
    Grant,
    Leg,
    LegEvent,
    Notice,
    RecentActivity,
    Settlement,
    Subscriber,
    Transition,
)
from .reasons import RefusalReason


class ChargingRefused(Exception):
    """Charging said no: the reason is shown to the subscriber, the detail only to the operator."""

    def __init__(self, reason: RefusalReason, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail


class PortUnavailable(Exception):
    """An external system did not answer in time or at all; the core refuses or fails cleanly."""


class Cancellable(Protocol):
    def cancel(self) -> None: ...


class Runtime(Protocol):
    """Time and concurrency, injected so tests drive the core with a fake clock and no reactor."""

    def now(self) -> datetime: ...

    def call_later(self, seconds: float, fn: Callable[..., Any], *args: Any) -> Cancellable: ...

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run a coroutine in the background; failures are logged, never silently dropped."""
        ...


class SubscriberDirectory(Protocol):
    async def lookup(self, msisdn: str) -> Subscriber | None:
        """Return the subscriber or None; raise PortUnavailable if the directory cannot answer."""
        ...


class ChargingBackend(Protocol):
    async def reserve(self, context: ChargingContext) -> Grant:
        """Reserve credit for both legs before anything is dialled; raise ChargingRefused if none."""
        ...

    async def update(self, reservation_id: str, used: dict[Leg, int]) -> Grant:
        """Report usage so far and ask for the grant to be extended (Diameter CCR-U)."""
        ...

    async def terminate(self, reservation_id: str, used: dict[Leg, int]) -> Settlement:
        """Commit what was used and release the rest. Must be idempotent: recovery may call it twice."""
        ...

    async def balance(self, subscriber: Subscriber) -> Balance | None: ...


class SwitchAdapter(Protocol):
    def subscribe(self, listener: Callable[[LegEvent], None]) -> None:
        """Deliver every leg event of every call to ``listener``, in the order they happened per call."""
        ...

    async def originate(self, plan: CallPlan) -> None:
        """Start the call; returns when the switch accepted it. Outcomes arrive as leg events."""
        ...

    async def hangup(self, call_id: str) -> None: ...

    async def set_limits(self, call_id: str, leg_a_limit: int, leg_b_limit: int) -> None:
        """Move each leg's limit (seconds from that leg's answer, as in the plan) after charging changed it.

        The switch's own timer and backstop must follow the grant: an extended grant would otherwise be cut
        at the old limit, a withdrawn one would run on. A limit already passed ends the leg at once; an
        unknown or ended call is ignored.
        """
        ...

    async def live_calls(self) -> set[str]:
        """Call ids the switch still has, so recovery can clean up after a restart."""
        ...


class NoticeUndeliverable(Exception):
    """The network refused a text for good (bad destination, refused content): do not retry it."""


class Notifier(Protocol):
    async def send(self, notice: Notice) -> str:
        """Deliver a text; return the network's message id.

        Raise NoticeUndeliverable when retrying cannot help, anything else to have the outbox retry later.
        """
        ...


class RequestStore(Protocol):
    """Durable state of callback requests. Every method returns only after the data is committed."""

    async def create(self, request: CallbackRequest, *transitions: Transition) -> None:
        """Store a new request together with what was already decided about it, in one transaction.

        Raise ActiveClaimTaken (and store nothing) if a transition claims the requester's active slot
        and another request holds it.
        """
        ...

    async def record(self, *transitions: Transition) -> None:
        """Apply consecutive transitions of one request atomically.

        Raise StaleTransition if the stored state is not the first one's source, ActiveClaimTaken as
        for ``create``; in both cases nothing is written.
        """
        ...

    async def recent_activity(self, msisdn: str, since: datetime) -> RecentActivity: ...

    async def confirmed_numbers(self, msisdn: str) -> frozenset[str]:
        """Callback numbers the subscriber registered and confirmed (E.164)."""
        ...

    async def get(self, request_id: str) -> CallbackRequest | None: ...

    async def find_by_reference(self, channel: str, reference: str) -> CallbackRequest | None: ...

    async def unfinished(self) -> list[CallbackRequest]:
        """Requests in a non-terminal state, with their legs, oldest first."""
        ...


class ActiveClaimTaken(Exception):
    """Another request of the same subscriber holds the one active-callback slot."""


class StaleTransition(Exception):
    """The stored request was not in the transition's source state: another node or a bug moved it."""
