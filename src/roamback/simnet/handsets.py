"""Per-handset state in the simulated network: the SMS inbox and who is watching the handset.

A handset exists as soon as anything names it (a phone attaching, or an SMS sent to its number), so the
service can text a number nobody has opened a phone for and the message is there when one attaches.
Numbers are kept as digits without ``+``, the way SMPP addresses with TON international carry them.
Events are small frozen records; the control API turns them into JSON for the attached phones.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


def normalise(number: str) -> str:
    """``+44 7700 900001`` -> ``447700900001``: the form used as a handset's key and in SMPP addresses."""
    return "".join(char for char in number if char.isdigit())


@dataclass(frozen=True, slots=True)
class InboxMessage:
    id: int
    sender: str
    text: str
    at: float


@dataclass(frozen=True, slots=True)
class SmsReceived:
    message: InboxMessage


@dataclass(frozen=True, slots=True)
class UssdScreen:
    """A USSD text on the handset's screen; ``open`` means the network waits for an answer."""

    text: str
    open: bool


@dataclass(frozen=True, slots=True)
class UssdEnded:
    """The dialogue ended without a final text: ``reason`` is timeout, released, aborted or unavailable."""

    reason: str


@dataclass(frozen=True, slots=True)
class SmsRetrying:
    reference: int
    attempt: int
    status: int | None
    delay: float


@dataclass(frozen=True, slots=True)
class SmsSent:
    """The outcome of an MO SMS: accepted by the service (``ok``) or given up after ``attempts``."""

    reference: int
    ok: bool
    attempts: int
    status: int | None


HandsetEvent = SmsReceived | UssdScreen | UssdEnded | SmsRetrying | SmsSent
Listener = Callable[[HandsetEvent], None]


@dataclass(slots=True)
class Handset:
    msisdn: str
    inbox: deque[InboxMessage]
    listeners: list[Listener] = field(default_factory=list)

    def notify(self, event: HandsetEvent) -> None:
        for listener in list(self.listeners):
            listener(event)


class Handsets:
    """Every handset the network has seen, created on first mention."""

    def __init__(self, inbox_limit: int = 200) -> None:
        self._inbox_limit = inbox_limit
        self._handsets: dict[str, Handset] = {}
        self._next_id = 1

    def get(self, number: str) -> Handset:
        msisdn = normalise(number)
        handset = self._handsets.get(msisdn)
        if handset is None:
            handset = self._handsets[msisdn] = Handset(msisdn, deque(maxlen=self._inbox_limit))
        return handset

    def attached(self, number: str) -> bool:
        """Whether a phone watches ``number``: a USSD push reaches only a handset that is on (USSD is never
        stored for later, unlike an SMS)."""
        handset = self._handsets.get(normalise(number))
        return handset is not None and bool(handset.listeners)

    def store(self, number: str, sender: str, text: str, at: float) -> InboxMessage:
        """Put an SMS in the inbox of ``number`` and tell whoever watches that handset."""
        handset = self.get(number)
        message = InboxMessage(self._next_id, sender, text, at)
        self._next_id += 1
        handset.inbox.append(message)
        handset.notify(SmsReceived(message))
        return message
