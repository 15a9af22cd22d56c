"""Shared builders for the SMPP tests: PDUs, a pair of sessions wired together, feeding modes."""

from __future__ import annotations

import struct
from collections.abc import Iterator

import smpp34

from roamback.gateway.smpp import Bind, CommandId, Event, Role, SessionConfig, SmppSession

USSD_TLVS = [smpp34.Tlv(0x0501, b"\x01"), smpp34.Tlv(0x1383, b"\x2a\x02")]


def submit(text: bytes = b"hello", dest: str = "447700900456") -> smpp34.SubmitSm:
    return smpp34.SubmitSm("4477", dest, text)


def deliver(text: bytes = b"*123#") -> smpp34.DeliverSm:
    return smpp34.DeliverSm("447700900456", "123", text, service_type="USSD", tlvs=USSD_TLVS)


def header(command_id: int, sequence: int, status: int = 0, body: bytes = b"") -> bytes:
    return struct.pack(">IIII", 16 + len(body), command_id, status, sequence) + body


def bind_trx(system_id: str = "esme", password: str = "secret") -> Bind:
    return Bind(CommandId.BIND_TRANSCEIVER, system_id, password)


def chunks(data: bytes, mode: str) -> Iterator[bytes]:
    """Feed modes from h11's tests: all at once, one byte at a time, or split in two uneven halves."""
    if mode == "whole":
        yield data
    elif mode == "bytes":
        yield from (data[i : i + 1] for i in range(len(data)))
    else:
        cut = len(data) // 3
        yield data[:cut]
        yield data[cut:]


FEED_MODES = ("whole", "bytes", "split")


class Pair:
    """An ESME session and an SMSC session exchanging bytes in memory, with time under the test's control."""

    def __init__(self, config: SessionConfig | None = None, smsc_config: SessionConfig | None = None) -> None:
        self.now = 0.0
        self.esme = SmppSession(Role.ESME, config, now=self.now)
        self.smsc = SmppSession(Role.SMSC, smsc_config or config, now=self.now)

    def pump(self) -> tuple[list[Event], list[Event]]:
        """Carry bytes both ways until quiet; return the events each side produced."""
        esme_events: list[Event] = []
        smsc_events: list[Event] = []
        while True:
            to_smsc = self.esme.data_to_send()
            if to_smsc:
                self.smsc.receive_data(to_smsc, self.now)
            to_esme = self.smsc.data_to_send()
            if to_esme:
                self.esme.receive_data(to_esme, self.now)
            esme_events += self.esme.next_events()
            smsc_events += self.smsc.next_events()
            if not to_smsc and not to_esme:
                return esme_events, smsc_events

    def bound(self, bind: Bind | None = None) -> Pair:
        self.esme.bind(bind or bind_trx(), self.now)
        self.pump()
        self.smsc.accept_bind("smsc", self.now)
        self.pump()
        return self

    def advance(self, seconds: float) -> None:
        self.now += seconds
        for session in (self.esme, self.smsc):
            timer = session.get_timer()
            if timer is not None and timer <= self.now:
                session.handle_timer(self.now)
