"""ROAMBACK-MIB's instances at one moment, each already encoded as the varbind a response carries.

The agent takes one on a timer, so a GET never computes figures (windows, link providers, sorting) and
never encodes a value: it looks up and copies bytes. Both request paths (the v2c fast path and pysnmp's,
which serves v3) read the same snapshot, so they cannot disagree.
"""

from __future__ import annotations

from bisect import bisect_right
from functools import lru_cache

from . import _ber
from ._mib import Instance, Oid

_TAGS = {"counter": _ber.COUNTER32, "gauge": _ber.GAUGE32, "integer": _ber.INTEGER}
_encoded_name = lru_cache(maxsize=4096)(_ber.oid)  # the same OIDs every second: encode them once


def encode_value(instance: Instance) -> bytes:
    """The instance's value as its SMI type says: Counter32 wraps, Gauge32 saturates (RFC 2578 7.1.6-7)."""
    if instance.syntax == "string":
        return _ber.tlv(_ber.OCTET_STRING, str(instance.value).encode())
    value = int(instance.value)
    if instance.syntax == "counter":
        value %= 2**32
    elif instance.syntax == "gauge":
        value = max(0, min(value, 2**32 - 1))
    return _ber.integer(_TAGS[instance.syntax], value)


class Snapshot:
    """Instances sorted by OID, with their encoded varbinds, for exact and next lookups."""

    def __init__(self, instances: list[Instance]) -> None:
        self.instances = sorted(instances, key=lambda instance: instance.oid)
        self.oids = [instance.oid for instance in self.instances]
        self.names = [_encoded_name(oid) for oid in self.oids]
        self.varbinds = [_ber.tlv(_ber.SEQUENCE, name + encode_value(instance))
                         for name, instance in zip(self.names, self.instances, strict=True)]
        self._position = {oid: position for position, oid in enumerate(self.oids)}
        self._named = dict(zip(self.names, self.oids, strict=True))
        self._objects = frozenset(oid[:-1] for oid in self.oids)

    def named(self, encoded: bytes) -> Oid | None:
        """The OID whose TLV is ``encoded``, if it is one of ours: a request names them byte for byte, and
        a lookup costs less than decoding."""
        return self._named.get(encoded)

    def position(self, oid: Oid) -> int | None:
        return self._position.get(oid)

    def after(self, oid: Oid) -> int | None:
        """Position of the first instance strictly after ``oid``, None past the last."""
        position = bisect_right(self.oids, oid)
        return position if position < len(self.oids) else None

    def known_object(self, oid: Oid) -> bool:
        """Whether ``oid`` names a row or instance of a scalar or column we serve (noSuchInstance, not
        noSuchObject, when it is missing). A column of an empty table is unknown, as the agent cannot tell."""
        return oid[:-1] in self._objects
