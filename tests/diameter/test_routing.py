"""Routing: priorities, load sharing, realms, Destination-Host stickiness, Tx and failover with the T flag."""

from __future__ import annotations

from roamback.diameter.codec import Message, decode_message, encode, encode_answer, encode_message
from roamback.diameter.dictionary import ResultCode, avp
from roamback.diameter.peer import PeerMachine, PeerState
from roamback.diameter.routing import (
    FailReason,
    OutgoingRequest,
    PeerRoute,
    RequestAnswered,
    RequestFailed,
    Router,
)

from .test_peer import opened


def build(host: str | None) -> bytes:
    avps = [encode(avp("Session-Id"), "s;1")]
    if host is not None:
        avps.append(encode(avp("Destination-Host"), host))
    return encode_message(272, 0xC0, 4, 0, 0, avps)


def setup(*routes: PeerRoute) -> tuple[Router, dict[str, PeerMachine]]:
    machines = {}
    for route in routes:
        machine = opened()
        machine.remote_host = f"{route.name}.ocs.test"
        machines[route.name] = machine
    return Router(list(routes), machines, tx=10, first_end_to_end=500), machines


def sent(machine: PeerMachine) -> list[Message]:
    return [decode_message(frame) for frame in machine.data_to_send()]


def answer(request: Message, code: int = ResultCode.SUCCESS, *, error: bool = False) -> Message:
    return decode_message(encode_answer(request, [encode(avp("Result-Code"), code)], error=error))


def route(name: str, realm: str = "ocs.test", priority: int = 1, relay: bool = False) -> PeerRoute:
    return PeerRoute(name, frozenset({realm}), priority, relay)


def test_the_preferred_priority_takes_everything_while_open():
    router, machines = setup(route("a", priority=2), route("b", priority=1))
    for _ in range(3):
        router.submit(OutgoingRequest(build, "ocs.test"), 0)
    assert (len(sent(machines["a"])), len(sent(machines["b"]))) == (0, 3)


def test_equal_priorities_share_by_requests_in_flight():
    router, machines = setup(route("a"), route("b"))
    for _ in range(4):
        router.submit(OutgoingRequest(build, "ocs.test"), 0)
    assert (router.in_flight("a"), router.in_flight("b")) == (2, 2)
    (first, _) = sent(machines["a"])
    assert router.answer_received("a", answer(first))
    router.submit(OutgoingRequest(build, "ocs.test"), 0)
    assert router.in_flight("a") == 2  # the least busy peer got the fifth


def test_realms_choose_the_peer_and_an_unknown_realm_has_no_route():
    router, machines = setup(route("a", realm="one.test"), route("b", realm="two.test"))
    router.submit(OutgoingRequest(build, "two.test"), 0)
    assert len(sent(machines["b"])) == 1
    token, events = router.submit(OutgoingRequest(build, "three.test"), 0)
    assert events == [RequestFailed(token, FailReason.NO_ROUTE)]


def test_destination_host_sticks_to_its_peer_and_survives_only_through_a_relay():
    router, machines = setup(route("a"), route("b", priority=5), route("dra", realm="*", priority=9, relay=True))
    router.submit(OutgoingRequest(build, "ocs.test", destination_host="b.ocs.test"), 0)
    (sticky,) = sent(machines["b"])
    assert sticky.text(293) == "b.ocs.test"
    router.submit(OutgoingRequest(build, "ocs.test", destination_host="far.ocs.test"), 0)
    (plain,) = sent(machines["a"])
    assert plain.find(293) is None  # a is an OCS itself: a foreign Destination-Host would earn 3002
    machines["a"].state = machines["b"].state = PeerState.SUSPECT
    router.submit(OutgoingRequest(build, "ocs.test", destination_host="far.ocs.test"), 0)
    (relayed,) = sent(machines["dra"])
    assert relayed.text(293) == "far.ocs.test"


def test_tx_expiry_fails_or_retries_elsewhere_with_the_t_flag():
    router, machines = setup(route("a"), route("b", priority=2))
    token, _ = router.submit(OutgoingRequest(build, "ocs.test"), 0)
    retried, _ = router.submit(OutgoingRequest(build, "ocs.test", retry_on_timeout=True), 0)
    first = sent(machines["a"])
    assert router.get_timer() == 10 and router.handle_timer(9.9) == []
    assert router.handle_timer(10) == [RequestFailed(token, FailReason.TIMEOUT)]
    (again,) = sent(machines["b"])
    assert again.is_retransmit and again.end_to_end == first[1].end_to_end
    assert router.handle_timer(20) == [RequestFailed(retried, FailReason.TIMEOUT)]  # no third peer


def test_pending_requests_fail_over_when_their_peer_is_lost_and_the_first_answer_wins():
    router, machines = setup(route("a"), route("b", priority=2))
    token, _ = router.submit(OutgoingRequest(build, "ocs.test"), 0)
    (original,) = sent(machines["a"])
    machines["a"].state = PeerState.DOWN
    router.peer_unavailable("a")
    (moved,) = sent(machines["b"])
    assert moved.is_retransmit and moved.end_to_end == original.end_to_end
    assert router.answer_received("b", answer(moved)) == [RequestAnswered(token, answer(moved), "b")]
    assert router.answer_received("a", answer(original)) == []  # late duplicate: discarded
    assert router.get_timer() is None


def test_e_bit_3002_and_3004_try_another_peer_then_give_the_answer_back():
    router, machines = setup(route("a"), route("b", priority=2))
    token, _ = router.submit(OutgoingRequest(build, "ocs.test"), 0)
    (first,) = sent(machines["a"])
    assert router.answer_received("a", answer(first, ResultCode.TOO_BUSY, error=True)) == []
    (second,) = sent(machines["b"])
    busy = answer(second, ResultCode.UNABLE_TO_DELIVER, error=True)
    assert router.answer_received("b", busy) == [RequestAnswered(token, busy, "b")]
