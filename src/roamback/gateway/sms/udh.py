"""The User Data Header at the front of a short_message, as far as concatenation needs it.

A header is present only when the SMSC sets UDHI (esm_class 0x40); its first octet is its own length,
then information elements ``IEI, length, data``. Concatenation comes as IEI 0x00 (8-bit reference) from
most handsets and IEI 0x08 (16-bit reference) from some; other elements (ports, national shift tables)
are kept so a caller can see them, but they do not change how parts are put back together.
"""

from __future__ import annotations

from dataclasses import dataclass

IEI_CONCAT_8BIT = 0x00
IEI_CONCAT_16BIT = 0x08
UDH_CONCAT_8BIT_LENGTH = 6  # 05 00 03 ref total seq


class UdhError(ValueError):
    """A header that contradicts itself: the sender's fault, so the part is refused, not guessed at."""


@dataclass(frozen=True, slots=True)
class ConcatInfo:
    """One part's place in a long message, from a UDH or from the SAR TLVs (same meaning, same ranges:
    ``seqnum`` counts from 1 to ``total``). Out-of-range values raise UdhError wherever they came from,
    so an adapter building one from SAR TLVs gets the same refusal as for a bad header."""

    reference: int
    total: int
    seqnum: int

    def __post_init__(self) -> None:
        if not 1 <= self.total <= 255:
            raise UdhError(f"total parts {self.total} outside 1..255")
        if not 1 <= self.seqnum <= self.total:
            raise UdhError(f"part {self.seqnum} outside 1..{self.total}")
        if not 0 <= self.reference <= 0xFFFF:
            raise UdhError(f"reference {self.reference} outside 0..65535")


@dataclass(frozen=True, slots=True)
class UserDataHeader:
    elements: tuple[tuple[int, bytes], ...]

    @property
    def concat(self) -> ConcatInfo | None:
        """The concatenation element; the last one wins, as TS 23.040 says for a repeated element, and one
        with a zero total or a part number out of range is ignored, as it also says."""
        found = None
        for iei, data in self.elements:
            if iei == IEI_CONCAT_8BIT and len(data) == 3:
                found = _concat_or_none(data[0], data[1], data[2])
            elif iei == IEI_CONCAT_16BIT and len(data) == 4:
                found = _concat_or_none(int.from_bytes(data[:2], "big"), data[2], data[3])
            elif iei in (IEI_CONCAT_8BIT, IEI_CONCAT_16BIT):
                raise UdhError(f"concatenation element 0x{iei:02X} with {len(data)} octets")
        return found


def _concat_or_none(reference: int, total: int, seqnum: int) -> ConcatInfo | None:
    return ConcatInfo(reference, total, seqnum) if 1 <= seqnum <= total else None


def split_udh(short_message: bytes) -> tuple[UserDataHeader, bytes]:
    """Header and payload of a short_message sent with UDHI set; raises UdhError when the lengths lie."""
    if not short_message:
        raise UdhError("UDHI set on an empty short_message")
    header_length = short_message[0]
    if header_length + 1 > len(short_message):
        raise UdhError(f"header length {header_length} exceeds the {len(short_message) - 1} octets that follow")
    header, payload = short_message[1 : header_length + 1], short_message[header_length + 1 :]
    elements = []
    position = 0
    while position < len(header):
        if position + 2 > len(header):
            raise UdhError(f"element at octet {position} has no length")
        iei, length = header[position], header[position + 1]
        data = header[position + 2 : position + 2 + length]
        if len(data) != length:
            raise UdhError(f"element 0x{iei:02X} claims {length} octets, {len(data)} left")
        elements.append((iei, data))
        position += 2 + length
    return UserDataHeader(tuple(elements)), payload


def concat_udh(info: ConcatInfo) -> bytes:
    """The 6-octet header for an outgoing part: 8-bit reference, the form every handset reads."""
    if info.reference > 0xFF:
        raise ValueError(f"an 8-bit reference cannot hold {info.reference}")
    return bytes([UDH_CONCAT_8BIT_LENGTH - 1, IEI_CONCAT_8BIT, 3, info.reference, info.total, info.seqnum])
