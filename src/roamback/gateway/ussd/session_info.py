"""The its_session_info TLV (SMPP 3.4 5.3.2.43): two octets the USSD centre expects back on every reply.

Octet 1 is the session number, octet 2 the 7-bit sequence number shifted left once, its low bit the
end-of-session flag. Centres differ in what they put there (6D treats the first 15 bits as one dialogue id),
so replies echo what came in and only touch the bits they mean to change.
"""

from __future__ import annotations

from dataclasses import dataclass

SIZE = 2
_END = 0x01
_SEQUENCE_MASK = 0x7F


@dataclass(frozen=True, slots=True)
class SessionInfo:
    session: int
    sequence: int
    end: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.session <= 0xFF:
            raise ValueError(f"session number {self.session} is not one octet (0-255)")
        if not 0 <= self.sequence <= _SEQUENCE_MASK:
            raise ValueError(f"sequence number {self.sequence} does not fit 7 bits (0-127)")

    def encode(self) -> bytes:
        return bytes((self.session, self.sequence << 1 | self.end))


def decode(raw: bytes) -> SessionInfo:
    """Raises ValueError on a wrong length: the TLV is fixed-size, anything else is a broken centre."""
    _check(raw)
    return SessionInfo(raw[0], raw[1] >> 1, bool(raw[1] & _END))


def has_end_bit(raw: bytes) -> bool:
    _check(raw)
    return bool(raw[1] & _END)


def with_end_bit(raw: bytes, end: bool = True) -> bytes:
    """The same session info with the end flag set (to close) or cleared (to keep the dialogue open)."""
    _check(raw)
    return bytes((raw[0], raw[1] & ~_END & 0xFF | (_END if end else 0)))


def next_sequence(raw: bytes) -> bytes:
    """The sequence number moved on by one (wrapping at 128), for centres that expect the ESME to count."""
    _check(raw)
    sequence = ((raw[1] >> 1) + 1) & _SEQUENCE_MASK
    return bytes((raw[0], sequence << 1 | raw[1] & _END))


def _check(raw: bytes) -> None:
    if len(raw) != SIZE:
        raise ValueError(f"its_session_info must be {SIZE} octets, got {len(raw)}")
