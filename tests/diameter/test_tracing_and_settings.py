"""Operator-facing edges: one masked trace line per message, and configuration that refuses nonsense."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from twisted.internet.endpoints import clientFromString
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import capturedLogs

from roamback.diameter import RoSettings
from roamback.diameter.codec import decode_message, encode, encode_answer, encode_message
from roamback.diameter.credit_control import CcrEncoder, ServiceUsage, SessionFacts
from roamback.diameter.dictionary import CcRequestType, FailureHandling, ResultCode, avp
from roamback.diameter.node_factory import build_node, endpoint_string
from roamback.diameter.settings import DiameterPeerSettings
from roamback.diameter.tracing import describe, trace


def ccr() -> bytes:
    encoder = CcrEncoder(origin_host="rb.client.test", origin_realm="client.test", destination_realm="ocs.test",
                         service_context_id="32260@3gpp.org")
    parts = encoder.session_parts(SessionFacts("rb.client.test;1;2", "+447700900100", None, "+447700900100",
                                               "+33612345678"))
    return encoder.build(parts, CcRequestType.INITIAL, 0, [ServiceUsage(100, 1, requested_seconds=60)], None)


def test_one_line_per_message_with_the_subscriber_masked():
    with capturedLogs() as events:
        trace("out", "ocs1", raw=ccr())
    (event,) = events
    line = event["line"]
    assert line.startswith("CCR session=rb.client.test;1;2 hbh=0x0 e2e=0x0 cc=1/0")
    assert "subscriber=4477****00" in line and "447700900100" not in line
    assert (event["direction"], event["peer"]) == ("out", "ocs1")


def test_answers_show_flags_and_result():
    request = decode_message(encode_message(272, 0x90, 4, 5, 6, [encode(avp("Session-Id"), "s")]))
    answer = decode_message(encode_answer(request, [encode(avp("Session-Id"), "s"),
                                                   encode(avp("Result-Code"), ResultCode.UNABLE_TO_DELIVER)],
                                          error=True))
    assert describe(request) == "CCR[T] session=s hbh=0x5 e2e=0x6"
    assert describe(answer) == "CCA[E] session=s hbh=0x5 e2e=0x6 result=3002"


def minimal(**overrides: object) -> dict[str, object]:
    values: dict[str, object] = dict(origin_host="rb.client.test", origin_realm="client.test",
                                     destination_realm="ocs.test",
                                     peers=[{"name": "a", "host": "10.0.0.5", "realm": "ocs.test"}])
    values.update(overrides)
    return values


def test_defaults_follow_the_rfcs():
    settings = RoSettings.model_validate(minimal())
    assert (settings.tx_seconds, settings.tw_seconds, settings.service_context_id) == (10, 30, "32260@3gpp.org")
    assert settings.failure_handling_code is FailureHandling.TERMINATE


@pytest.mark.parametrize("bad", [
    {"tw_seconds": 3},  # RFC 3539: at least 6 s
    {"peers": []},
    {"peers": [{"name": "a", "host": "h", "realm": "r"}, {"name": "a", "host": "i", "realm": "r"}]},
    {"leg_b": {"rating_group": 100, "service_identifier": 1}},  # both legs would be one service
    {"failure_handling": "sometimes"},
    {"origin_host": "x" * 41},
    {"unknown_key": 1},
])
def test_nonsense_is_refused(bad: dict[str, object]):
    with pytest.raises(ValidationError):
        RoSettings.model_validate(minimal(**bad))


def test_the_node_built_from_settings_has_one_link_per_peer():
    settings = RoSettings.model_validate(minimal(peers=[
        {"name": "a", "host": "10.0.0.5", "realm": "ocs.test", "priority": 1},
        {"name": "b", "host": "10.0.0.6", "port": 3869, "realm": "ocs.test", "priority": 2},
    ]))
    node = build_node(settings, MemoryReactorClock())
    assert sorted(node.links) == ["a", "b"]
    assert node.identity.origin_host == "rb.client.test"


def test_endpoint_strings_for_names_and_ipv6_literals():
    v4 = DiameterPeerSettings(name="a", host="ocs1.example.net", realm="r")
    v6 = DiameterPeerSettings(name="b", host="2001:db8::5", port=3869, realm="r", connect_timeout_seconds=2)
    assert endpoint_string(v4) == "tcp:host=ocs1.example.net:port=3868:timeout=5"
    assert endpoint_string(v6) == "tcp:host=2001\\:db8\\:\\:5:port=3869:timeout=2"
    assert clientFromString(MemoryReactorClock(), endpoint_string(v6))._host == "2001:db8::5"


def test_a_subscriber_that_is_not_utf8_or_a_broken_group_still_traces():
    not_utf8 = b"\x00\x00\x01\xbc\x40\x00\x00\x0e" + b"\xff\xfe4477" + b"\x00\x00"  # 444, padded
    bad_text = encode(avp("Subscription-Id"), [not_utf8])
    broken = b"\x00\x00\x01\xbb\x40\x00\x00\x10" + b"\x00\x00\x01\xbc\x40\x00\x00\x40"  # 443 -> bad child
    for group, shown in ((bad_text, "subscriber="), (broken, "subscriber=<undecodable>")):
        message = decode_message(encode_message(272, 0x80, 4, 5, 6, [encode(avp("Session-Id"), "s"), group]))
        assert shown in describe(message)
