"""ROAMBACK-MIB as data: where each object lives and what it reads from ``OpsFigures``.

This module is the MIB file's twin (``ROAMBACK-MIB.txt``, which the tests check against it). It knows
nothing of pysnmp: ``objects()`` returns the instances in OID order as plain Python values tagged with
their SMI syntax, so the agent only converts what a request actually returns.

Enumerations (channel, refusal and failure reasons) are indexed by their position in the core's enums,
counting from 1: new reasons must be appended there, never inserted, or managers' history would shift.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from ...core.model import Channel
from ...core.reasons import FailureReason, RefusalReason
from ..figures import Alarm, AlarmKind, Link, OpsFigures

Oid = tuple[int, ...]
Syntax = Literal["counter", "gauge", "string", "integer"]

CHANNELS: tuple[Channel, ...] = tuple(Channel)
REFUSALS: tuple[RefusalReason, ...] = tuple(RefusalReason)
FAILURES: tuple[FailureReason, ...] = tuple(FailureReason)
# Notification numbers under <base>.0, in the MIB's order.
NOTIFICATIONS: dict[AlarmKind, int] = {kind: number for number, kind in enumerate(AlarmKind, start=1)}
SNMP_TRAP_OID: Oid = (1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0)
PER_MILLE = 1000  # ratios are Gauge32 in per mille: SMI has no floating point
UP, DOWN = 1, 2  # RoambackLinkState
TRUE, FALSE = 1, 2  # SNMPv2-TC TruthValue


@dataclass(frozen=True, slots=True)
class Instance:
    oid: Oid
    syntax: Syntax
    value: int | str


class Layout:
    """The OIDs of ROAMBACK-MIB under a configurable base (default 1.3.6.1.4.1.32473.1)."""

    def __init__(self, base: Oid) -> None:
        self.base = base
        objects = (*base, 1)
        self.requests = (*objects, 1)
        self.calls = (*objects, 2)
        self.link_entry = (*objects, 3, 1, 1)
        self.outbox_depth = (*objects, 4, 1, 0)
        self.charging_failovers = (*objects, 5, 1, 0)
        self.alarm_detail = (*objects, 6, 1, 0)
        self.refusal_ratio = (*self.requests, 2, 0)
        self.asr = (*self.calls, 4, 0)

    @classmethod
    def parse(cls, dotted: str) -> Layout:
        return cls(tuple(int(part) for part in dotted.split(".")))

    def notification(self, kind: AlarmKind) -> Oid:
        return (*self.base, 0, NOTIFICATIONS[kind])

    def link_column(self, column: int, link: Link) -> Oid:
        return (*self.link_entry, column, link.index)

    def objects(self, f: OpsFigures) -> list[Instance]:
        """Every instance the agent serves, sorted by OID."""
        r, c = self.requests, self.calls
        found = [
            Instance((*r, 1, 0), "counter", f.accepted),
            Instance(self.refusal_ratio, "gauge", _per_mille(f.refusal_rate())),
            *_enum_table((*r, 3, 1), CHANNELS, f.triggers),
            *_enum_table((*r, 4, 1), REFUSALS, f.refused),
            Instance((*c, 1, 0), "gauge", f.calls_active),
            Instance((*c, 2, 0), "gauge", f.calls_bridged),
            Instance((*c, 3, 0), "counter", f.completed),
            Instance(self.asr, "gauge", _per_mille(f.asr())),
            Instance((*c, 5, 0), "gauge", round(f.acd_seconds())),
            *_enum_table((*c, 6, 1), FAILURES, f.failed),
            *self._link_rows(f.links),
            Instance(self.outbox_depth, "gauge", f.outbox_depth),
            Instance(self.charging_failovers, "counter", f.charging_failovers),
        ]
        found.sort(key=lambda instance: instance.oid)
        return found

    def _link_rows(self, links: Iterable[Link]) -> list[Instance]:
        rows = []
        for link in links:
            rows += [
                Instance(self.link_column(2, link), "string", link.kind),
                Instance(self.link_column(3, link), "string", link.name),
                Instance(self.link_column(4, link), "integer", UP if link.up() else DOWN),
                Instance(self.link_column(5, link), "integer", TRUE if link.required else FALSE),
            ]
        return rows

    def notification_objects(self, alarm: Alarm, figures: OpsFigures) -> list[Instance]:
        """The OBJECTS clause of the alarm's NOTIFICATION-TYPE, with current values."""
        if alarm.kind is AlarmKind.CHARGING_FAILOVER:
            return [Instance(self.alarm_detail, "string", alarm.detail[:255])]
        if alarm.kind in (AlarmKind.REFUSAL_RATE_HIGH, AlarmKind.REFUSAL_RATE_NORMAL):
            return [Instance(self.refusal_ratio, "gauge", _per_mille(alarm.value or 0.0))]
        if alarm.kind in (AlarmKind.ASR_LOW, AlarmKind.ASR_NORMAL):
            return [Instance(self.asr, "gauge", _per_mille(alarm.value or 0.0))]
        link = next(link for link in figures.links if (link.kind, link.name) == (alarm.detail, alarm.subject))
        up = alarm.kind in (AlarmKind.LINK_UP, AlarmKind.PEER_UP)
        return [
            Instance(self.link_column(2, link), "string", link.kind),
            Instance(self.link_column(3, link), "string", link.name),
            Instance(self.link_column(4, link), "integer", UP if up else DOWN),
        ]


def _per_mille(ratio: float) -> int:
    return max(0, min(PER_MILLE, round(ratio * PER_MILLE)))


def _enum_table(entry: Oid, members: tuple[StrEnum, ...], counts: Mapping[str, int]) -> list[Instance]:
    """A table indexed by an enumeration: column 2 the member's name, column 3 its count."""
    names = [Instance((*entry, 2, i), "string", m.value) for i, m in enumerate(members, start=1)]
    values = [Instance((*entry, 3, i), "counter", counts.get(m.value, 0)) for i, m in enumerate(members, start=1)]
    return names + values
