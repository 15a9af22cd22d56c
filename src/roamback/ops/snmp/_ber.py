"""The few BER forms an SNMPv2c read uses, by hand.

pyasn1 builds and clones a typed object for every tag of every message; profiling put decoding and
encoding at well over half of the ~2.6 ms of reactor time a 10-OID GET took. SNMP reads need only
definite lengths, one-byte tags, integers, octet strings and OIDs: a few slices and ``int.from_bytes``.
"""

from __future__ import annotations

INTEGER, OCTET_STRING, OBJECT_IDENTIFIER, SEQUENCE = 0x02, 0x04, 0x06, 0x30
COUNTER32, GAUGE32 = 0x41, 0x42  # SNMPv2-SMI application types
NO_SUCH_OBJECT, NO_SUCH_INSTANCE, END_OF_MIB_VIEW = b"\x80\x00", b"\x81\x00", b"\x82\x00"


class BerError(ValueError):
    """Not the BER this module reads; the caller hands the message to a full decoder instead."""


def tlv(tag: int, body: bytes) -> bytes:
    length = len(body)
    if length < 0x80:
        return bytes((tag, length)) + body
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(size))) + size + body


def integer(tag: int, value: int) -> bytes:
    """Two's complement in the fewest octets (so an unsigned 2**31 gets its leading zero octet)."""
    magnitude = value if value >= 0 else ~value
    return tlv(tag, value.to_bytes(magnitude.bit_length() // 8 + 1, "big", signed=True))


def oid(arcs: tuple[int, ...]) -> bytes:
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] >= 40):
        raise BerError(f"not an OID: {arcs}")
    body = bytearray()
    for arc in (arcs[0] * 40 + arcs[1], *arcs[2:]):
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | arc & 0x7F)
            arc >>= 7
        body += bytes(reversed(chunk))
    return tlv(OBJECT_IDENTIFIER, bytes(body))


def read(data: bytes, at: int) -> tuple[int, int, int]:
    """Tag, start and end of the contents of the TLV at ``at``."""
    if at + 2 > len(data) or data[at] & 0x1F == 0x1F:
        raise BerError("truncated or multi-octet tag")
    tag, first, at = data[at], data[at + 1], at + 2
    if first < 0x80:
        length = first
    else:
        octets = first & 0x7F
        if not 0 < octets <= 4:
            raise BerError("indefinite or oversized length")
        length = int.from_bytes(data[at : at + octets], "big")
        at += octets
    if at + length > len(data):
        raise BerError("truncated")
    return tag, at, at + length


def read_integer(data: bytes, at: int) -> tuple[int, int]:
    """An INTEGER's value and the offset after it."""
    tag, start, end = read(data, at)
    if tag != INTEGER or start == end:
        raise BerError("INTEGER expected")
    return int.from_bytes(data[start:end], "big", signed=True), end


def read_oid(data: bytes, start: int, end: int) -> tuple[int, ...]:
    """The arcs of an OID's contents."""
    arcs: list[int] = []
    arc = 0
    for octet in data[start:end]:
        arc = arc << 7 | octet & 0x7F
        if not octet & 0x80:
            arcs.append(arc)
            arc = 0
    if not arcs or data[end - 1] & 0x80:
        raise BerError("malformed OID")
    top = min(arcs[0] // 40, 2)
    return (top, arcs[0] - 40 * top, *arcs[1:])
