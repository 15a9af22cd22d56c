"""A reply text cut into the short_messages an SMSC accepts.

A text that fits one SMS (160 septets / 70 UCS2 units) goes out bare. A longer one is cut into parts of
153 septets / 67 units, leaving room for the 6-octet concatenation header, and each part says where it
belongs either in that header (UDHI must then be set in esm_class) or in SAR TLVs, for SMSCs that build
the header themselves: they still need the room, so the part sizes are the same. Cuts fall only between
characters, so an escape pair (``€`` and friends) or a UTF-16 surrogate pair (emoji) is never split:
a handset that received half of one would show garbage at the seam.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from .encoding import GSM_DEFAULT, UCS2, choose_data_coding, cost, encode_as
from .udh import ConcatInfo, concat_udh

SINGLE_LIMIT = {GSM_DEFAULT: 160, UCS2: 70}
PART_LIMIT = {GSM_DEFAULT: 153, UCS2: 67}
MAX_PARTS = 255


class ConcatMode(enum.Enum):
    UDH = "udh"
    SAR = "sar"


class MessageTooLong(ValueError):
    """More parts than allowed: a text this long is a template bug, not something to send."""

    def __init__(self, parts: int, limit: int) -> None:
        super().__init__(f"text needs {parts} parts, at most {limit} allowed")
        self.parts = parts
        self.limit = limit


@dataclass(frozen=True, slots=True)
class Part:
    """One submit_sm worth of text. ``esm_class_udhi`` must be OR-ed into esm_class as 0x40; ``sar``,
    when set, goes out as sar_msg_ref_num / sar_total_segments / sar_segment_seqnum."""

    short_message: bytes
    data_coding: int
    esm_class_udhi: bool
    sar: ConcatInfo | None


def segment(
    text: str,
    reference: int,
    *,
    mode: ConcatMode = ConcatMode.UDH,
    max_parts: int = MAX_PARTS,
    allow_gsm: bool = True,
) -> tuple[Part, ...]:
    """Parts of ``text`` in order; raises MessageTooLong.

    ``reference`` comes from the caller's counter and is wrapped to the field's width (8 bits for a UDH,
    16 for SAR): it only has to differ from the references recently sent to the same handset.
    """
    if reference < 0:
        raise ValueError(f"reference {reference} is negative")
    if not 1 <= max_parts <= MAX_PARTS:
        raise ValueError(f"max_parts {max_parts} outside 1..{MAX_PARTS}")
    data_coding = choose_data_coding(text, allow_gsm=allow_gsm)
    if cost(text, data_coding) <= SINGLE_LIMIT[data_coding]:
        return (Part(encode_as(text, data_coding), data_coding, esm_class_udhi=False, sar=None),)
    chunks = _split_by_cost(text, PART_LIMIT[data_coding], lambda char: cost(char, data_coding))
    if len(chunks) > max_parts:
        raise MessageTooLong(len(chunks), max_parts)
    wrapped = reference % (0x100 if mode is ConcatMode.UDH else 0x10000)
    parts = []
    for seqnum, chunk in enumerate(chunks, start=1):
        info = ConcatInfo(wrapped, len(chunks), seqnum)
        payload = encode_as(chunk, data_coding)
        if mode is ConcatMode.UDH:
            parts.append(Part(concat_udh(info) + payload, data_coding, esm_class_udhi=True, sar=None))
        else:
            parts.append(Part(payload, data_coding, esm_class_udhi=False, sar=info))
    return tuple(parts)


def _split_by_cost(text: str, limit: int, unit_cost: Callable[[str], int]) -> list[str]:
    """Greedy cut of ``text`` into chunks of at most ``limit`` units, only between characters."""
    chunks: list[str] = []
    start = used = 0
    for index, char in enumerate(text):
        char_cost = unit_cost(char)
        if used + char_cost > limit:
            chunks.append(text[start:index])
            start, used = index, 0
        used += char_cost
    chunks.append(text[start:])
    return chunks

