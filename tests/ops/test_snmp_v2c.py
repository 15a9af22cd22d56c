"""The v2c fast path as a sans-I/O core: requests built and responses read by pysnmp/pyasn1, as a manager would."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyasn1.codec.ber import decoder, encoder
from pyasn1.type import univ
from pysnmp.proto import api, rfc1902

from roamback.ops.figures import OpsFigures
from roamback.ops.snmp import _ber
from roamback.ops.snmp._mib import Layout
from roamback.ops.snmp._snapshot import Snapshot
from roamback.ops.snmp._v2c import SYSTEM_END, V2cResponder
from roamback.ops.snmp.agent import _value

P = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
COMMUNITY = "fast-path"
LAYOUT = Layout.parse("1.3.6.1.4.1.32473.1")
BASE = LAYOUT.base


def _snapshot() -> Snapshot:
    figures = OpsFigures(clock=lambda: 1000.0)
    figures.triggers["ussd"] = 2**32 + 5  # Counter32 wraps
    figures.accepted = 2**31  # needs a leading zero octet
    figures.register_link_state("smpp", "smsc-1", lambda: True)
    return Snapshot(LAYOUT.objects(figures))


SNAPSHOT = _snapshot()
RESPONDER = V2cResponder(COMMUNITY.encode(), BASE, lambda: SNAPSHOT)


def _request(pdu: Any, oids: list[tuple[int, ...]], community: str = COMMUNITY, defaults: bool = True) -> bytes:
    if defaults:
        P.apiPDU.set_defaults(pdu)
    P.apiPDU.set_request_id(pdu, 4242)
    P.apiPDU.set_varbinds(pdu, [(oid, P.Null("")) for oid in oids])
    message = P.Message()
    P.apiMessage.set_defaults(message)
    P.apiMessage.set_community(message, community)
    P.apiMessage.set_pdu(message, pdu)
    return encoder.encode(message)


def _bulk(oids: list[tuple[int, ...]], non_repeaters: int, repetitions: int) -> bytes:
    pdu = P.GetBulkRequestPDU()
    P.apiBulkPDU.set_defaults(pdu)
    P.apiBulkPDU.set_non_repeaters(pdu, non_repeaters)
    P.apiBulkPDU.set_max_repetitions(pdu, repetitions)
    return _request(pdu, oids, defaults=False)


def _answer(datagram: bytes) -> list[tuple[tuple[int, ...], Any]]:
    response = RESPONDER.answer(datagram)
    assert response is not None
    message, rest = decoder.decode(response, asn1Spec=P.Message())
    assert rest == b""
    pdu = P.apiMessage.get_pdu(message)
    assert P.apiMessage.get_community(message) == COMMUNITY.encode()
    assert (P.apiPDU.get_request_id(pdu), P.apiPDU.get_error_status(pdu), P.apiPDU.get_error_index(pdu)) == (4242, 0, 0)
    return [(tuple(name), value) for name, value in P.apiPDU.get_varbinds(pdu)]


def _expected(position: int) -> tuple[tuple[int, ...], Any]:
    """What pysnmp's path answers for the instance (the agent's own conversion for v3)."""
    instance = SNAPSHOT.instances[position]
    return instance.oid, _value(instance)


@pytest.mark.parametrize("value", [0, 1, 127, 128, 255, 256, -1, -128, -129, 2**31 - 1, 2**31, 2**32 - 1])
def test_integers_decode_as_encoded(value: int) -> None:
    encoded = _ber.integer(_ber.INTEGER, value)
    assert decoder.decode(encoded, asn1Spec=univ.Integer())[0] == value
    if value >= 0:  # the agent's values; pyasn1 spends an extra octet on some negatives (-128: ff 80)
        assert encoded == encoder.encode(univ.Integer(value))


@given(st.lists(st.integers(0, 2**32 - 1), min_size=0, max_size=20), st.integers(0, 39))
def test_oids_encode_and_decode_as_pyasn1_does(tail: list[int], second: int) -> None:
    arcs = (1, second, *tail)
    encoded = _ber.oid(arcs)
    assert encoded == encoder.encode(rfc1902.ObjectName(arcs))
    _, start, end = _ber.read(encoded, 0)
    assert _ber.read_oid(encoded, start, end) == arcs


def test_get_answers_values_and_both_kinds_of_absence() -> None:
    accepted, trigger = (*BASE, 1, 1, 1, 0), (*BASE, 1, 1, 3, 1, 3, 1)
    answers = _answer(_request(P.GetRequestPDU(), [accepted, trigger, (*BASE, 1, 1, 1, 7), (*BASE, 1, 9, 0)]))
    assert answers[0] == (accepted, rfc1902.Counter32(2**31))
    assert answers[1] == (trigger, rfc1902.Counter32(5))
    assert answers[2][0] == (*BASE, 1, 1, 1, 7) and answers[2][1].tagSet == P.NoSuchInstance.tagSet
    assert answers[3][0] == (*BASE, 1, 9, 0) and answers[3][1].tagSet == P.NoSuchObject.tagSet


def test_getnext_walks_every_instance_in_order_then_ends() -> None:
    walked, oid = [], SYSTEM_END
    while True:
        ((oid, value),) = _answer(_request(P.GetNextRequestPDU(), [oid]))
        if value.tagSet == P.EndOfMibView.tagSet:
            break
        walked.append((oid, value))
    assert walked == [_expected(position) for position in range(len(SNAPSHOT.oids))]
    assert oid == SNAPSHOT.oids[-1]  # endOfMibView under the name asked for


def test_getbulk_non_repeaters_then_repetitions_with_end_of_view() -> None:
    last = SNAPSHOT.oids[-1]
    answers = _answer(_bulk([(*BASE, 1, 1, 1, 0), SNAPSHOT.oids[-3], last], non_repeaters=1, repetitions=4))
    end = P.EndOfMibView.tagSet
    assert answers[0] == _expected(1)
    assert answers[1:3] == [_expected(len(SNAPSHOT.oids) - 2), (last, answers[2][1])]
    assert answers[2][1].tagSet == end
    assert answers[3] == _expected(len(SNAPSHOT.oids) - 1)
    assert [(oid, value.tagSet) for oid, value in answers[4:]] == [(last, end)] * 3  # all ended: no 4th repetition


@pytest.mark.parametrize(
    "datagram",
    [
        _request(P.GetRequestPDU(), [(*BASE, 1, 1, 1, 0)], community="guess"),
        _request(P.GetRequestPDU(), [(*BASE, 1, 1, 1, 0), (1, 3, 6, 1, 2, 1, 1, 3, 0)]),  # the system group
        _request(P.GetNextRequestPDU(), [(1, 3, 6, 1, 2, 1, 1, 9)]),  # may land in the system group
        _request(P.SetRequestPDU(), [(*BASE, 1, 1, 1, 0)]),
        _request(P.GetRequestPDU(), [(*BASE, 1, 1, 1, 0)]) + b"\x00",
        _request(P.GetRequestPDU(), [(*BASE, 1, 1, 1, 0)])[:-1],
        bytes.fromhex("302602010004067075626c6963a019020100020100020100300e300c06082b060102010101000500"),  # SNMPv1
        b"",
    ],
    ids=["community", "system-get", "system-next", "set", "trailing", "truncated", "v1", "empty"],
)
def test_anything_else_is_left_to_pysnmp(datagram: bytes) -> None:
    assert RESPONDER.answer(datagram) is None


@given(st.data())
def test_mangled_requests_are_answered_or_left_never_raise(data: st.DataObject) -> None:
    wire = bytearray(_bulk([(*BASE, 1, 1, 1, 0), (*BASE, 1, 3)], non_repeaters=1, repetitions=3))
    for _ in range(data.draw(st.integers(1, 4))):
        wire[data.draw(st.integers(0, len(wire) - 1))] = data.draw(st.integers(0, 255))
    RESPONDER.answer(bytes(wire[: data.draw(st.integers(0, len(wire)))]))
