"""Long incoming SMS put back together from their parts.

Parts of one message share a source, a reference and a total, and SMSCs deliver them in any order,
sometimes twice (a deliver_sm_resp lost on the way back makes the SMSC send the part again). A part
whose siblings never come must not be held forever, and a sender inventing references must not be able
to fill memory, so waiting messages expire after a timeout and are capped in number, the oldest dropped
first. Time is passed in: the adapter owns the clock and calls ``expire`` from its timer.

Parts are joined as octets before decoding, because sloppy senders do split an escape pair or a
surrogate pair across parts and the joined octets still decode to what the subscriber typed.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from dataclasses import dataclass, field

from .encoding import SmsDecodeError, decode, is_ucs2
from .udh import ConcatInfo, split_udh


@dataclass(frozen=True, slots=True)
class ReassemblyStats:
    """Running totals for metrics: parts seen twice, messages given up for lateness or for room."""

    pending: int
    duplicates: int
    expired: int
    evicted: int


@dataclass(slots=True)
class _Waiting:
    started: float
    parts: dict[int, tuple[bytes, int]] = field(default_factory=dict)  # seqnum -> (payload, data_coding)


class Reassembler:
    """Holds the parts of incomplete messages; ``receive`` returns a message's text once it is whole."""

    def __init__(self, *, timeout: float = 300.0, max_pending: int = 10_000) -> None:
        if timeout <= 0 or max_pending < 1:
            raise ValueError("timeout must be positive and max_pending at least 1")
        self._timeout = timeout
        self._max_pending = max_pending
        # Insertion order is arrival order of each message's first part, so the oldest is always first.
        self._waiting: OrderedDict[tuple[str, int, int], _Waiting] = OrderedDict()
        self._duplicates = self._expired = self._evicted = 0

    def receive(
        self,
        source: str,
        short_message: bytes,
        data_coding: int,
        now: float,
        *,
        udhi: bool = False,
        sar: ConcatInfo | None = None,
    ) -> str | None:
        """Text of the message this part completes, or None while parts are missing.

        ``udhi`` is the esm_class 0x40 bit; ``sar`` the three SAR TLVs when present (a UDH wins when a
        part carries both). Raises UdhError, or SmsDecodeError for a UCS2 part of odd length, without
        storing the part: its siblings still wait. A complete message whose joined text cannot be decoded
        raises SmsDecodeError and is dropped, since no later part could repair it.
        """
        self.expire(now)
        payload, concat = split_concat(short_message, udhi=udhi, sar=sar)
        if is_ucs2(data_coding) and len(payload) % 2:
            raise SmsDecodeError(data_coding, f"odd number of octets ({len(payload)}) for UCS2")
        if concat is None or concat.total == 1:
            return decode(payload, data_coding)
        key = (source, concat.reference, concat.total)
        waiting = self._waiting.get(key)
        if waiting is None:
            self._make_room()
            waiting = self._waiting[key] = _Waiting(now)
        if concat.seqnum in waiting.parts:
            self._duplicates += 1
            return None
        waiting.parts[concat.seqnum] = (payload, data_coding)
        if len(waiting.parts) < concat.total:
            return None
        del self._waiting[key]
        return _decode_joined([waiting.parts[seqnum] for seqnum in sorted(waiting.parts)])

    def expire(self, now: float) -> int:
        """Drop messages whose first part came ``timeout`` or more ago; returns how many were dropped."""
        dropped = 0
        while self._waiting:
            key, waiting = next(iter(self._waiting.items()))
            if waiting.started + self._timeout > now:
                break
            del self._waiting[key]
            dropped += 1
        self._expired += dropped
        return dropped

    def next_deadline(self) -> float | None:
        """When ``expire`` next has something to do, for the adapter's single timer."""
        if not self._waiting:
            return None
        return next(iter(self._waiting.values())).started + self._timeout

    @property
    def stats(self) -> ReassemblyStats:
        return ReassemblyStats(len(self._waiting), self._duplicates, self._expired, self._evicted)

    def _make_room(self) -> None:
        while len(self._waiting) >= self._max_pending:
            self._waiting.popitem(last=False)
            self._evicted += 1


def split_concat(
    short_message: bytes, *, udhi: bool, sar: ConcatInfo | None = None
) -> tuple[bytes, ConcatInfo | None]:
    """Payload of a short_message without its header, and where it belongs in a long message (None for
    a message that stands alone)."""
    if not udhi:
        return short_message, sar
    header, payload = split_udh(short_message)
    return payload, header.concat or sar


def _decode_joined(parts: list[tuple[bytes, int]]) -> str:
    # Parts nearly always share one coding; if a sender mixed them, each run is decoded on its own.
    return "".join(
        decode(b"".join(payload for payload, _ in run), data_coding)
        for data_coding, run in itertools.groupby(parts, key=lambda part: part[1])
    )
