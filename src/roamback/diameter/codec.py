"""Diameter wire format (RFC 6733 section 3 and 4): header, AVPs, framing. No I/O, no state beyond a buffer.

Decoding produces flat ``Avp`` tuples whose payload stays raw bytes; a value is converted only when someone
asks for it, and a grouped AVP is split only when someone looks inside. A credit-control answer carries
twenty-odd AVPs of which the client reads a handful, so this laziness is most of the speed-up over
python-diameter, which builds a typed object for every AVP of every message.

Errors are the peer's fault and carry the Result-Code to answer with (h11's RemoteProtocolError idea).
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .dictionary import (
    AVP_FLAG_VENDOR,
    HEADER_FLAG_ERROR,
    HEADER_FLAG_REQUEST,
    HEADER_FLAG_RETRANSMIT,
    AvpDef,
    AvpType,
    ResultCode,
)

HEADER_LENGTH = 20
MAX_MESSAGE_LENGTH = 1 << 20  # the field allows 16 MiB; nothing this client talks about is near 1 MiB
_HEADER = struct.Struct("!IIIII")
_AVP = struct.Struct("!II")
_AVP_VENDOR = struct.Struct("!III")
_U32 = struct.Struct("!I")
_I32 = struct.Struct("!i")
_PAD = (b"", b"\0\0\0", b"\0\0", b"\0")


class DecodeError(Exception):
    """Bytes that are not valid Diameter; ``result_code`` is what an answer to the sender should say."""

    def __init__(self, message: str, result_code: ResultCode) -> None:
        super().__init__(message)
        self.result_code = result_code


class Avp(NamedTuple):
    code: int
    flags: int
    vendor: int
    data: bytes

    def u32(self) -> int:
        return int.from_bytes(self.data, "big")

    def i32(self) -> int:
        return int.from_bytes(self.data, "big", signed=True)

    def text(self) -> str:
        return self.data.decode("utf-8")

    def children(self) -> list[Avp]:
        return decode_avps(self.data)


@dataclass(slots=True)
class Message:
    command: int
    flags: int
    application: int
    hop_by_hop: int
    end_to_end: int
    avps: list[Avp] = field(default_factory=list)

    @property
    def is_request(self) -> bool:
        return bool(self.flags & HEADER_FLAG_REQUEST)

    @property
    def is_error(self) -> bool:
        return bool(self.flags & HEADER_FLAG_ERROR)

    @property
    def is_retransmit(self) -> bool:
        return bool(self.flags & HEADER_FLAG_RETRANSMIT)

    def find(self, code: int, vendor: int = 0) -> Avp | None:
        return find(self.avps, code, vendor)

    def find_all(self, code: int, vendor: int = 0) -> list[Avp]:
        return [a for a in self.avps if a.code == code and a.vendor == vendor]

    def text(self, code: int, default: str | None = None) -> str | None:
        found = find(self.avps, code)
        return found.data.decode("utf-8", "replace") if found is not None else default

    def u32(self, code: int, default: int | None = None) -> int | None:
        found = find(self.avps, code)
        return found.u32() if found is not None else default

    def result_code(self) -> int | None:
        """Result-Code, or the Experimental-Result-Code when a vendor result is all the peer sent."""
        found = self.u32(268)
        if found is not None:
            return found
        experimental = self.find(297)
        if experimental is None:
            return None
        try:
            inner = find(experimental.children(), 298)
        except DecodeError:  # a broken group is no result: the caller treats the answer as unusable
            return None
        return inner.u32() if inner is not None else None


def find(avps: Iterable[Avp], code: int, vendor: int = 0) -> Avp | None:
    for candidate in avps:
        if candidate.code == code and candidate.vendor == vendor:
            return candidate
    return None


# -- decoding ---------------------------------------------------------------------------------------


def decode_avps(data: bytes, start: int = 0, end: int | None = None) -> list[Avp]:
    end = len(data) if end is None else end
    out: list[Avp] = []
    offset = start
    unpack_from = _AVP.unpack_from
    while offset < end:
        if end - offset < 8:
            raise DecodeError(f"truncated AVP header at {offset}", ResultCode.INVALID_AVP_LENGTH)
        code, flags_length = unpack_from(data, offset)
        flags, length = flags_length >> 24, flags_length & 0xFFFFFF
        header = 12 if flags & AVP_FLAG_VENDOR else 8
        if length < header or offset + length > end:
            raise DecodeError(f"AVP {code} length {length} out of bounds", ResultCode.INVALID_AVP_LENGTH)
        vendor = _U32.unpack_from(data, offset + 8)[0] if header == 12 else 0
        out.append(Avp(code, flags, vendor, bytes(data[offset + header:offset + length])))
        offset += (length + 3) & ~3
    if offset > end + 3:
        raise DecodeError("AVP padding runs past the end", ResultCode.INVALID_AVP_LENGTH)
    return out


def decode_header(data: bytes) -> Message:
    """Only the header of a framed message, for answering one whose AVPs cannot be decoded."""
    _, flags_command, application, hop_by_hop, end_to_end = _HEADER.unpack_from(data)
    return Message(flags_command & 0xFFFFFF, flags_command >> 24, application, hop_by_hop, end_to_end)


def decode_message(data: bytes) -> Message:
    """Decode exactly one message (as cut by ``Framer``)."""
    if len(data) < HEADER_LENGTH:
        raise DecodeError("shorter than a header", ResultCode.INVALID_MESSAGE_LENGTH)
    version_length, flags_command, application, hop_by_hop, end_to_end = _HEADER.unpack_from(data)
    if version_length >> 24 != 1:
        raise DecodeError(f"version {version_length >> 24}", ResultCode.UNSUPPORTED_VERSION)
    if version_length & 0xFFFFFF != len(data):
        raise DecodeError("length field does not match", ResultCode.INVALID_MESSAGE_LENGTH)
    return Message(
        flags_command & 0xFFFFFF, flags_command >> 24, application, hop_by_hop, end_to_end,
        decode_avps(data, HEADER_LENGTH),
    )


class Framer:
    """Cuts a TCP byte stream into whole messages, whatever the segment boundaries."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        out: list[bytes] = []
        buffer = self._buffer
        offset = 0
        while len(buffer) - offset >= 4:
            version_length = _U32.unpack_from(buffer, offset)[0]
            if version_length >> 24 != 1:
                raise DecodeError(f"version {version_length >> 24}", ResultCode.UNSUPPORTED_VERSION)
            length = version_length & 0xFFFFFF
            if length < HEADER_LENGTH or length % 4 or length > MAX_MESSAGE_LENGTH:
                raise DecodeError(f"message length {length}", ResultCode.INVALID_MESSAGE_LENGTH)
            if len(buffer) - offset < length:
                break
            out.append(bytes(buffer[offset:offset + length]))
            offset += length
        if offset:
            del buffer[:offset]
        return out


# -- encoding ---------------------------------------------------------------------------------------


def encode_avp(code: int, flags: int, vendor: int, data: bytes) -> bytes:
    if vendor:
        head = _AVP_VENDOR.pack(code, ((flags | AVP_FLAG_VENDOR) << 24) | (12 + len(data)), vendor)
    else:
        head = _AVP.pack(code, (flags << 24) | (8 + len(data)))
    return head + data + _PAD[len(data) & 3]


def _payload(definition: AvpDef, value: Any) -> bytes:
    kind = definition.type
    if kind is AvpType.UNSIGNED32:
        return _U32.pack(value)
    if kind is AvpType.ENUMERATED:
        return _I32.pack(value)
    if kind is AvpType.UTF8:
        return value.encode("utf-8")
    if kind is AvpType.IDENTITY:
        return value if isinstance(value, bytes) else value.encode("ascii")
    if kind is AvpType.GROUPED:
        return b"".join(value)
    if kind is AvpType.ADDRESS:
        address = ipaddress.ip_address(value)
        return (b"\0\x01" if address.version == 4 else b"\0\x02") + address.packed
    raise TypeError(f"no encoder for {kind}")  # pragma: no cover - every AvpType is handled above


def encode(definition: AvpDef, value: Any) -> bytes:
    """One AVP with the flags its dictionary row demands (M bit included) and its typed value."""
    return encode_avp(definition.code, definition.flags, definition.vendor, _payload(definition, value))


def encode_message(
    command: int, flags: int, application: int, hop_by_hop: int, end_to_end: int, avps: Iterable[bytes]
) -> bytes:
    body = b"".join(avps)
    return _HEADER.pack(
        (1 << 24) | (HEADER_LENGTH + len(body)), (flags << 24) | command, application, hop_by_hop, end_to_end
    ) + body


def with_ids(raw: bytes, hop_by_hop: int, end_to_end: int, *, retransmit: bool = False) -> bytes:
    """The same message with other identifiers: a request is built once and stamped per peer it goes to."""
    flags = raw[4] | HEADER_FLAG_RETRANSMIT if retransmit else raw[4]
    return raw[:4] + bytes((flags,)) + raw[5:12] + struct.pack("!II", hop_by_hop, end_to_end) + raw[20:]


def encode_answer(request: Message, avps: Iterable[bytes], *, error: bool = False) -> bytes:
    """An answer echoing the request's command, application and identifiers (RFC 6733 6.2)."""
    flags = (request.flags & ~(HEADER_FLAG_REQUEST | HEADER_FLAG_RETRANSMIT)) | (HEADER_FLAG_ERROR if error else 0)
    return encode_message(request.command, flags, request.application, request.hop_by_hop, request.end_to_end, avps)
