"""SNMPv2c reads of ROAMBACK-MIB answered from the snapshot's bytes, before pysnmp sees the datagram.

A manager polling our figures with the read community is the common case and the one that must not hold
the reactor: here it costs a parse of the request's few TLVs, dictionary lookups and a join, tens of
microseconds instead of pysnmp's milliseconds. Anything else returns None and goes to pysnmp unchanged:
SNMPv1 and v3, SET, another community (a wrong one is then dropped and counted by pysnmp), a GET naming an
object outside our subtree, a GETNEXT/GETBULK that may land in the system group, malformed BER, and a
response that would not fit in one datagram (pysnmp answers tooBig or trims a GETBULK).

Semantics are RFC 3416's, as pysnmp answers them with our instrumentation: the read view is the system
group and our subtree, so a GETNEXT from anywhere at or past the end of the system group can only find one
of our instances or endOfMibView. Requests answered here bypass pysnmp's snmpIn* counters; those are in
the SNMPv2-MIB snmp group, which our view does not let anyone read.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from . import _ber
from ._mib import Oid
from ._snapshot import Snapshot

GET, GETNEXT, RESPONSE, GETBULK = 0xA0, 0xA1, 0xA2, 0xA5
VERSION_2C = 1
MAX_MESSAGE = 65507  # pysnmp's snmpEngineMaxMessageSize, the most one UDP datagram carries
SYSTEM_END: Oid = (1, 3, 6, 1, 2, 1, 2)  # first OID past SNMPv2-MIB::system, the other subtree in view
_NO_ERROR = _ber.integer(_ber.INTEGER, 0) * 2  # error-status, error-index
_VERSION = _ber.integer(_ber.INTEGER, VERSION_2C)

Name = tuple[Oid, bytes]  # an OID and its encoded TLV, echoed as it came when there is no instance


class V2cResponder:
    """Answers the read community's GET, GETNEXT and GETBULK under ``base``."""

    def __init__(self, community: bytes, base: Oid, snapshot: Callable[[], Snapshot]) -> None:
        self._community = community
        self._base = base
        self._snapshot = snapshot

    def answer(self, datagram: bytes) -> bytes | None:
        """The response datagram, or None to leave the request to pysnmp."""
        try:
            community, pdu, request_id, n, r, encoded = _parse(datagram)
            if not hmac.compare_digest(community, self._community):
                return None
            snapshot = self._snapshot()
            names = [(snapshot.named(name) or _decode(name), name) for name in encoded]
        except _ber.BerError:
            return None
        if pdu == GET:
            if any(oid[: len(self._base)] != self._base for oid, _ in names):
                return None
            varbinds = [self._get(snapshot, name) for name in names]
        elif any(oid < SYSTEM_END for oid, _ in names):
            return None
        elif pdu == GETNEXT:
            varbinds = [_next_varbind(snapshot, name) for name in names]
        else:
            varbinds = _bulk(snapshot, names, max(0, n), max(0, r))
        if varbinds is None:
            return None
        pdu_body = request_id + _NO_ERROR + _ber.tlv(_ber.SEQUENCE, b"".join(varbinds))
        message = _VERSION + _ber.tlv(_ber.OCTET_STRING, community) + _ber.tlv(RESPONSE, pdu_body)
        response = _ber.tlv(_ber.SEQUENCE, message)
        return response if len(response) <= MAX_MESSAGE else None

    @staticmethod
    def _get(snapshot: Snapshot, name: Name) -> bytes:
        oid, encoded = name
        position = snapshot.position(oid)
        if position is not None:
            return snapshot.varbinds[position]
        missing = _ber.NO_SUCH_INSTANCE if snapshot.known_object(oid) else _ber.NO_SUCH_OBJECT
        return _ber.tlv(_ber.SEQUENCE, encoded + missing)


def _next(snapshot: Snapshot, name: Name) -> tuple[Name, bytes] | None:
    """The next instance's name and varbind, None at the end of the view."""
    position = snapshot.after(name[0])
    if position is None:
        return None
    return (snapshot.oids[position], snapshot.names[position]), snapshot.varbinds[position]


def _end(name: Name) -> bytes:
    return _ber.tlv(_ber.SEQUENCE, name[1] + _ber.END_OF_MIB_VIEW)


def _next_varbind(snapshot: Snapshot, name: Name) -> bytes:
    found = _next(snapshot, name)
    return _end(name) if found is None else found[1]


def _bulk(snapshot: Snapshot, names: list[Name], non_repeaters: int, repetitions: int) -> list[bytes] | None:
    """RFC 3416 4.2.3, stopping once every repeater is at the end of the view; None if it grows too big.

    A repeater at the end answers endOfMibView under the last name it reached, as the RFC says."""
    varbinds = [_next_varbind(snapshot, name) for name in names[:non_repeaters]]
    cursors = names[non_repeaters:]
    ended = [False] * len(cursors)
    size = sum(map(len, varbinds))
    for _ in range(repetitions):
        if all(ended):
            break
        for index, cursor in enumerate(cursors):
            found = None if ended[index] else _next(snapshot, cursor)
            if found is None:
                ended[index] = True
                varbind = _end(cursor)
            else:
                cursors[index], varbind = found
            varbinds.append(varbind)
            size += len(varbind)
        if size > MAX_MESSAGE:
            return None
    return varbinds


def _decode(name: bytes) -> Oid:
    _, start, end = _ber.read(name, 0)
    return _ber.read_oid(name, start, end)


def _parse(data: bytes) -> tuple[bytes, int, bytes, int, int, list[bytes]]:
    """Community, PDU type, the encoded request-id, the two integers after it and the requested names'
    TLVs."""
    tag, start, end = _ber.read(data, 0)
    if tag != _ber.SEQUENCE or end != len(data):
        raise _ber.BerError("not one SNMP message")
    version, at = _ber.read_integer(data, start)
    tag, community_start, community_end = _ber.read(data, at)
    if version != VERSION_2C or tag != _ber.OCTET_STRING:
        raise _ber.BerError("not SNMPv2c")
    pdu, at, pdu_end = _ber.read(data, community_end)
    if pdu not in (GET, GETNEXT, GETBULK) or pdu_end != end:
        raise _ber.BerError("not a read")
    request_start = at
    _, at = _ber.read_integer(data, at)
    request_id = data[request_start:at]
    n, at = _ber.read_integer(data, at)
    r, at = _ber.read_integer(data, at)
    tag, at, bindings_end = _ber.read(data, at)
    if tag != _ber.SEQUENCE or bindings_end != end:
        raise _ber.BerError("varbind list expected")
    names = []
    while at < end:
        tag, binding, at = _ber.read(data, at)
        name_tag, _, name_end = _ber.read(data, binding)
        if tag != _ber.SEQUENCE or name_tag != _ber.OBJECT_IDENTIFIER:
            raise _ber.BerError("varbind expected")
        _ber.read(data, name_end)  # the value: anything, but there
        names.append(data[binding:name_end])
    return data[community_start:community_end], pdu, request_id, n, r, names
