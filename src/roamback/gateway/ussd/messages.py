"""What the SMPP glue hands in (an indication), what it gets back (a reply), and what an indication means.

The glue decodes PDUs and TLVs; this module only reads the already-decoded fields through the centre's
dialect. An op code the dialect does not know, or a missing TLV the dialect needs, is a typed result the
glue logs and answers, never an exception: a centre's firmware upgrade must not take the gateway down.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Protocol

from .dialect import CloseStrategy, DialogueKey, ReplySequence, UssdDialect
from .session_info import SIZE, next_sequence, with_end_bit


@dataclass(frozen=True, slots=True)
class UssdIndication:
    """One deliver_sm carrying ussd_service_op. ``text`` is the decoded short_message (or message_payload)."""

    msisdn: str
    op: int
    text: str
    its_session_info: bytes | None = None
    user_message_reference: int | None = None
    service_code: str | None = None  # when the centre passes it apart from the text (e.g. destination_addr)


@dataclass(frozen=True, slots=True)
class UssdReply:
    """One submit_sm to send back; ``close`` tells the glue (and its logs) the dialogue ends with it."""

    msisdn: str
    op: int
    text: str
    close: bool
    its_session_info: bytes | None = None
    user_message_reference: int | None = None


@dataclass(frozen=True, slots=True)
class Begin:
    indication: UssdIndication
    key: Hashable


@dataclass(frozen=True, slots=True)
class Continue:
    indication: UssdIndication
    key: Hashable


@dataclass(frozen=True, slots=True)
class Abort:
    """The centre or the subscriber ended the dialogue: nothing is sent back."""

    indication: UssdIndication
    key: Hashable


@dataclass(frozen=True, slots=True)
class UnknownOp:
    """An op code the dialect lists nowhere: usually a dialect misconfiguration worth an operator alert."""

    indication: UssdIndication


@dataclass(frozen=True, slots=True)
class Malformed:
    """A TLV the dialect needs is missing or has the wrong size; ``field`` names it for the log."""

    indication: UssdIndication
    field: str


UssdEvent = Begin | Continue | Abort | UnknownOp | Malformed


def classify(indication: UssdIndication, dialect: UssdDialect) -> UssdEvent:
    """What this indication means under this dialect, with the key of its dialogue."""
    info = indication.its_session_info
    if info is not None and len(info) != SIZE:
        return Malformed(indication, "its_session_info")
    if info is None and dialect.needs_session_info:
        return Malformed(indication, "its_session_info")
    key = dialogue_key(indication, dialect)
    if key is None:
        return Malformed(indication, dialect.dialogue_key.value)
    op = indication.op
    if info is not None and dialect.inbound_end_bit_aborts and info[1] & 1:
        return Abort(indication, key)
    if op in dialect.begin_ops:
        return Begin(indication, key)
    if op in dialect.continue_ops:
        return Continue(indication, key)
    if op in dialect.abort_ops:
        return Abort(indication, key)
    return UnknownOp(indication)


def dialogue_key(indication: UssdIndication, dialect: UssdDialect) -> Hashable | None:
    """The MSISDN plus the dialect's identifier, or None when the indication lacks that identifier.

    For its_session_info only the session number (octet 1) counts: the second octet carries a sequence
    number that may move on every message of the same dialogue.
    """
    kind = dialect.dialogue_key
    if kind is DialogueKey.MSISDN:
        return indication.msisdn
    if kind is DialogueKey.ITS_SESSION_INFO:
        info = indication.its_session_info
        return None if info is None else (indication.msisdn, info[0])
    reference = indication.user_message_reference
    return None if reference is None else (indication.msisdn, reference)


class Addressed(Protocol):
    """Anything a reply can answer: an indication, or a dialogue that remembers its last one."""

    @property
    def msisdn(self) -> str: ...
    @property
    def its_session_info(self) -> bytes | None: ...
    @property
    def user_message_reference(self) -> int | None: ...


def build_reply(dialect: UssdDialect, to: Addressed, text: str, *, close: bool) -> UssdReply:
    """The reply to ``to`` in the centre's dialect: its_session_info and user_message_reference echoed.

    The end bit is set on every close, not only under the end-bit strategy: SMPP 3.4 defines it as the end of
    session flag, and vumi's 6D processor sets it alongside the close op code.
    """
    info = to.its_session_info
    if info is not None:
        if dialect.reply_sequence is ReplySequence.INCREMENT:
            info = next_sequence(info)
        info = with_end_bit(info, close)
    elif close and dialect.close_strategy is CloseStrategy.END_BIT:
        raise ValueError(f"cannot close the dialogue with {to.msisdn}: no its_session_info to set the end bit on")
    op = dialect.close_op if close else dialect.continue_op
    return UssdReply(to.msisdn, op, text, close, info, to.user_message_reference)
