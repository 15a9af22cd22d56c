"""Framing and PDU encode/decode over smpp34's codec.

submit_sm and deliver_sm (the hot path, with arbitrary TLVs) go through smpp34's Rust codec; the handful of
fixed-layout PDUs it leaves as raw bytes are packed here. A PDU that frames correctly but cannot be decoded
is an ``UndecodablePdu`` carrying its sequence number, so the session can answer generic_nack and keep the
link; only a length that breaks framing (``FramingError``) forces the connection down.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

import smpp34

from .pdus import (
    BIND_COMMANDS,
    Bind,
    BindResp,
    CommandId,
    DataSm,
    HeaderOnly,
    MessageResp,
    Pdu,
    Status,
)

HEADER = struct.Struct(">IIII")
HEADER_LENGTH = HEADER.size
MAX_PDU_LENGTH = 70_000
"""A message_payload TLV holds up to 64 KiB; anything longer is a broken or hostile peer."""

_SEQUENCE = struct.Struct(">I")
_RUST_ENCODED = (smpp34.SubmitSm, smpp34.DeliverSm)  # a tuple: isinstance checks it faster than a union
_MESSAGE_COMMANDS = {CommandId.SUBMIT_SM, CommandId.DELIVER_SM}
_MESSAGE_RESPONSES = {CommandId.SUBMIT_SM_RESP, CommandId.DELIVER_SM_RESP, CommandId.DATA_SM_RESP}
_BIND_RESPONSES = {c | 0x80000000 for c in BIND_COMMANDS}
_HEADER_ONLY = {
    CommandId.GENERIC_NACK,
    CommandId.ENQUIRE_LINK,
    CommandId.ENQUIRE_LINK_RESP,
    CommandId.UNBIND,
    CommandId.UNBIND_RESP,
}


class FramingError(Exception):
    """The stream cannot be split into PDUs any more; the connection must close after a generic_nack."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status


class UndecodablePdu(Exception):
    """One framed PDU could not be decoded; the stream itself is still in sync."""

    def __init__(self, sequence_number: int, command_id: int, status: int, detail: str) -> None:
        super().__init__(detail)
        self.sequence_number = sequence_number
        self.command_id = command_id
        self.status = status


class FrameBuffer:
    """Accumulates bytes and cuts them into whole PDUs by command_length."""

    def __init__(self, max_length: int = MAX_PDU_LENGTH) -> None:
        self._buffer = bytearray()
        self._max_length = max_length

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data`` and return every complete frame now available, oldest first."""
        buffer = self._buffer
        buffer += data
        frames: list[bytes] = []
        offset = 0
        available = len(buffer)
        while available - offset >= 4:
            (length,) = _SEQUENCE.unpack_from(buffer, offset)
            if length < HEADER_LENGTH or length > self._max_length:
                raise FramingError(Status.RINVCMDLEN, f"command_length {length} outside 16..{self._max_length}")
            if available - offset < length:
                break
            frames.append(bytes(buffer[offset : offset + length]))
            offset += length
        if offset:
            del buffer[:offset]
        return frames


def decode(frame: bytes) -> tuple[int, Pdu]:
    """Decode one whole frame into ``(sequence_number, pdu)``."""
    _, command_id, status, sequence = HEADER.unpack_from(frame)
    decoder = _DECODERS.get(command_id)
    if decoder is None:
        raise UndecodablePdu(sequence, command_id, Status.RINVCMDID, f"unsupported command_id {command_id:#x}")
    try:
        return sequence, decoder(frame, command_id, status)
    except (smpp34.SmppError, ValueError, IndexError, struct.error) as exc:
        raise UndecodablePdu(sequence, command_id, Status.RINVCMDLEN, f"{command_id:#x}: {exc}") from exc


def _decode_message(frame: bytes, command_id: int, status: int) -> Pdu:
    return smpp34.decode(frame)  # type: ignore[return-value]


def _decode_header_only(frame: bytes, command_id: int, status: int) -> Pdu:
    if len(frame) != HEADER_LENGTH:
        raise ValueError("body present on a header-only PDU")
    return HeaderOnly(command_id, status)


def _decode_message_resp(frame: bytes, command_id: int, status: int) -> Pdu:
    body = _Reader(frame, HEADER_LENGTH)
    return MessageResp(command_id, status, body.cstring() if body.remaining() else "")


def _decode_bind_resp(frame: bytes, command_id: int, status: int) -> Pdu:
    body = _Reader(frame, HEADER_LENGTH)
    return BindResp(command_id, status, body.cstring() if body.remaining() else "")


def _decode_bind(frame: bytes, command_id: int, status: int) -> Pdu:
    body = _Reader(frame, HEADER_LENGTH)
    return Bind(command_id, body.cstring(), body.cstring(), body.cstring(), *body.octets(3), body.cstring())


def _decode_data_sm(frame: bytes, command_id: int, status: int) -> Pdu:
    body = _Reader(frame, HEADER_LENGTH)
    service_type = body.cstring()
    source_ton, source_npi = body.octets(2)
    source = body.cstring()
    dest_ton, dest_npi = body.octets(2)
    destination = body.cstring()
    esm_class, registered_delivery, data_coding = body.octets(3)
    return DataSm(
        source,
        destination,
        service_type=service_type,
        source_addr_ton=source_ton,
        source_addr_npi=source_npi,
        dest_addr_ton=dest_ton,
        dest_addr_npi=dest_npi,
        esm_class=esm_class,
        registered_delivery=registered_delivery,
        data_coding=data_coding,
        tlvs=body.tlvs(),
    )


_DECODERS: dict[int, Callable[[bytes, int, int], Pdu]] = {
    **dict.fromkeys(_MESSAGE_COMMANDS, _decode_message),
    **dict.fromkeys(_HEADER_ONLY, _decode_header_only),
    **dict.fromkeys(_MESSAGE_RESPONSES, _decode_message_resp),
    **dict.fromkeys(_BIND_RESPONSES, _decode_bind_resp),
    **dict.fromkeys(BIND_COMMANDS, _decode_bind),
    CommandId.DATA_SM: _decode_data_sm,
}


def encode(pdu: Pdu, sequence_number: int) -> bytes:
    """Encode ``pdu`` under ``sequence_number``."""
    if isinstance(pdu, _RUST_ENCODED):
        wire = pdu.encode()
        return wire[:12] + _SEQUENCE.pack(sequence_number) + wire[16:]
    if isinstance(pdu, HeaderOnly):
        body, status = b"", pdu.command_status
    elif isinstance(pdu, MessageResp | BindResp):
        status = pdu.command_status
        body = _cstring(pdu.message_id if isinstance(pdu, MessageResp) else pdu.system_id)
        if status and isinstance(pdu, BindResp):
            body = b""  # SMPP 3.4 4.1.2: the body is not returned when the bind failed
    elif isinstance(pdu, Bind):
        status = 0
        body = b"".join(
            (
                _cstring(pdu.system_id),
                _cstring(pdu.password),
                _cstring(pdu.system_type),
                bytes((pdu.interface_version, pdu.addr_ton, pdu.addr_npi)),
                _cstring(pdu.address_range),
            )
        )
    else:
        status, body = 0, _encode_data_sm(pdu)
    return HEADER.pack(HEADER_LENGTH + len(body), pdu.command_id, status, sequence_number) + body


def _encode_data_sm(pdu: DataSm) -> bytes:
    return b"".join(
        (
            _cstring(pdu.service_type),
            bytes((pdu.source_addr_ton, pdu.source_addr_npi)),
            _cstring(pdu.source_addr),
            bytes((pdu.dest_addr_ton, pdu.dest_addr_npi)),
            _cstring(pdu.destination_addr),
            bytes((pdu.esm_class, pdu.registered_delivery, pdu.data_coding)),
            *(struct.pack(">HH", tlv.tag, len(tlv.value)) + tlv.value for tlv in pdu.tlvs),
        )
    )


def _cstring(text: str) -> bytes:
    return text.encode("latin-1") + b"\0"


class _Reader:
    """Reads SMPP body fields; running off the end raises ValueError/IndexError, turned into RINVCMDLEN."""

    def __init__(self, data: bytes, offset: int) -> None:
        self._data = data
        self._offset = offset

    def remaining(self) -> int:
        return len(self._data) - self._offset

    def cstring(self) -> str:
        end = self._data.index(b"\0", self._offset)
        text = self._data[self._offset : end].decode("latin-1")
        self._offset = end + 1
        return text

    def octets(self, count: int) -> tuple[int, ...]:
        chunk = self._data[self._offset : self._offset + count]
        if len(chunk) != count:
            raise ValueError("body ends inside a fixed field")
        self._offset += count
        return tuple(chunk)

    def tlvs(self) -> tuple[smpp34.Tlv, ...]:
        found = []
        while self.remaining():
            tag, length = struct.unpack_from(">HH", self._data, self._offset)
            start = self._offset + 4
            value = self._data[start : start + length]
            if len(value) != length:
                raise ValueError(f"TLV {tag:#06x} runs past the end of the PDU")
            found.append(smpp34.Tlv(tag, value))
            self._offset = start + length
        return tuple(found)
