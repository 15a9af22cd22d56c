"""SMPP 3.4 command ids, statuses and the PDUs smpp34 has no class for.

smpp34 gives typed ``SubmitSm``/``DeliverSm`` objects; every other PDU comes back as a ``RawPdu`` that cannot
be built from Python. The link layer needs binds, responses, enquire_link, unbind and data_sm, so those are
small frozen dataclasses here, encoded and parsed by ``codec``. Sequence numbers are not part of a PDU: the
session assigns them, so the same PDU can be resent under a new number after throttling.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import smpp34


class CommandId(IntEnum):
    GENERIC_NACK = 0x80000000
    BIND_RECEIVER = 0x00000001
    BIND_RECEIVER_RESP = 0x80000001
    BIND_TRANSMITTER = 0x00000002
    BIND_TRANSMITTER_RESP = 0x80000002
    SUBMIT_SM = 0x00000004
    SUBMIT_SM_RESP = 0x80000004
    DELIVER_SM = 0x00000005
    DELIVER_SM_RESP = 0x80000005
    UNBIND = 0x00000006
    UNBIND_RESP = 0x80000006
    BIND_TRANSCEIVER = 0x00000009
    BIND_TRANSCEIVER_RESP = 0x80000009
    ENQUIRE_LINK = 0x00000015
    ENQUIRE_LINK_RESP = 0x80000015
    DATA_SM = 0x00000103
    DATA_SM_RESP = 0x80000103


RESPONSE_BIT = 0x80000000
BIND_COMMANDS = frozenset({CommandId.BIND_TRANSMITTER, CommandId.BIND_RECEIVER, CommandId.BIND_TRANSCEIVER})


class Status(IntEnum):
    """The command_status values the link layer itself produces or reacts to (SMPP 3.4 5.1.3)."""

    ROK = 0x00
    RINVMSGLEN = 0x01
    RINVCMDLEN = 0x02
    RINVCMDID = 0x03
    RINVBNDSTS = 0x04
    RALYBND = 0x05
    RSYSERR = 0x08
    RBINDFAIL = 0x0D
    RINVPASWD = 0x0E
    RINVSYSID = 0x0F
    RMSGQFUL = 0x14
    RTHROTTLED = 0x58
    RX_T_APPN = 0x64


@dataclass(frozen=True, slots=True)
class Bind:
    """bind_transmitter / bind_receiver / bind_transceiver (SMPP 3.4 4.1)."""

    command_id: int
    system_id: str
    password: str
    system_type: str = ""
    interface_version: int = 0x34
    addr_ton: int = 0
    addr_npi: int = 0
    address_range: str = ""

    def __repr__(self) -> str:  # the password must never reach a log line
        return f"Bind(command_id={self.command_id:#x}, system_id={self.system_id!r}, system_type={self.system_type!r})"


@dataclass(frozen=True, slots=True)
class BindResp:
    command_id: int
    command_status: int = 0
    system_id: str = ""


@dataclass(frozen=True, slots=True)
class MessageResp:
    """submit_sm_resp, deliver_sm_resp or data_sm_resp: a status and, for the first and last, a message id."""

    command_id: int
    command_status: int = 0
    message_id: str = ""


@dataclass(frozen=True, slots=True)
class HeaderOnly:
    """enquire_link(_resp), unbind(_resp), generic_nack and error responses: the header is the whole PDU."""

    command_id: int
    command_status: int = 0


@dataclass(frozen=True, slots=True)
class DataSm:
    """data_sm (SMPP 3.4 4.7): addresses and flags only, the payload travels in TLVs (message_payload)."""

    source_addr: str
    destination_addr: str
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    esm_class: int = 0
    registered_delivery: int = 0
    data_coding: int = 0
    tlvs: tuple[smpp34.Tlv, ...] = ()

    command_id = CommandId.DATA_SM


Pdu = smpp34.SubmitSm | smpp34.DeliverSm | DataSm | Bind | BindResp | MessageResp | HeaderOnly
"""Everything the codec decodes to and encodes from."""

RESPONSE_OF = {
    CommandId.BIND_RECEIVER: CommandId.BIND_RECEIVER_RESP,
    CommandId.BIND_TRANSMITTER: CommandId.BIND_TRANSMITTER_RESP,
    CommandId.BIND_TRANSCEIVER: CommandId.BIND_TRANSCEIVER_RESP,
    CommandId.SUBMIT_SM: CommandId.SUBMIT_SM_RESP,
    CommandId.DELIVER_SM: CommandId.DELIVER_SM_RESP,
    CommandId.DATA_SM: CommandId.DATA_SM_RESP,
    CommandId.UNBIND: CommandId.UNBIND_RESP,
    CommandId.ENQUIRE_LINK: CommandId.ENQUIRE_LINK_RESP,
}


def is_response(command_id: int) -> bool:
    return bool(command_id & RESPONSE_BIT)


def status_of(pdu: Pdu) -> int:
    """The command_status a PDU carries on the wire: requests always carry 0."""
    return getattr(pdu, "command_status", 0)


def status_name(status: int) -> str:
    try:
        return f"ESME_{Status(status).name} ({status:#04x})"
    except ValueError:
        return f"{status:#04x}"
