"""The Ro backend's decisions with a scripted node: failure handling, 4011, refused updates, restarts."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import pytest_twisted
from twisted.internet.defer import Deferred, fail, succeed

from roamback.core.model import Leg
from roamback.core.ports import ChargingRefused, PortUnavailable
from roamback.core.reasons import RefusalReason
from roamback.diameter import RoCharging, RoSettings
from roamback.diameter.codec import Message, decode_message, encode, encode_answer, encode_message
from roamback.diameter.dictionary import Command, ResultCode, avp
from roamback.diameter.routing import FailReason, OutgoingRequest
from roamback.diameter.twisted_peer import RequestNotAnswered

from .test_ro_python_diameter import context

Script = Callable[[Message], bytes | None]


class ScriptedNode:
    """Answers each request with ``script(request)``; None means Tx expired."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[OutgoingRequest] = []
        self.sent: list[Message] = []
        self.handler: Callable[[str, Message], bytes] | None = None

    def request(self, request: OutgoingRequest) -> Deferred[Message]:
        self.requests.append(request)
        message = decode_message(request.build(request.destination_host))
        self.sent.append(message)
        answer = self.script(message)
        if answer is None:
            return fail(RequestNotAnswered(FailReason.TIMEOUT))
        return succeed(decode_message(answer))

    def set_request_handler(self, handler: Callable[[str, Message], bytes]) -> None:
        self.handler = handler


def cca(code: int = 2001, *, grants: dict[int, int] | None = None, ccfh: int | None = None) -> Script:
    def script(request: Message) -> bytes:
        avps = [encode(avp("Session-Id"), request.text(263)), encode(avp("Result-Code"), code),
                encode(avp("Origin-Host"), "ocs9.ocs.test"), encode(avp("Origin-Realm"), "ocs.test")]
        if ccfh is not None:
            avps.append(encode(avp("Credit-Control-Failure-Handling"), ccfh))
        for rating_group, seconds in (grants or {}).items():
            gsu = encode(avp("Granted-Service-Unit"), [encode(avp("CC-Time"), seconds)])
            avps.append(encode(avp("Multiple-Services-Credit-Control"), [encode(avp("Rating-Group"), rating_group),
                                                                         gsu]))
        return encode_answer(request, avps)

    return script


def backend(script: Script, **overrides: object) -> tuple[RoCharging, ScriptedNode]:
    values: dict[str, object] = dict(origin_host="rb.client.test", origin_realm="client.test",
                                     destination_realm="ocs.test",
                                     peers=[{"name": "p", "host": "127.0.0.1", "realm": "ocs.test"}])
    values.update(overrides)
    node = ScriptedNode(script)
    scheduled: list[Callable[[], None]] = []
    charging = RoCharging(node, RoSettings.model_validate(values), session_prefix="rb.client.test;7",
                          schedule=scheduled.append)
    charging.scheduled = scheduled
    return charging, node


@pytest_twisted.ensureDeferred
async def test_continue_grants_the_whole_call_when_the_ocs_is_silent_and_sends_nothing_more():
    charging, node = backend(lambda _: None, failure_handling="continue")
    grant = await charging.reserve(context("100", max_call=300))
    assert (grant.max_talk_seconds, grant.validity_seconds) == (300, None)
    assert node.requests[0].retry_on_timeout  # CONTINUE first tries an alternate peer
    settlement = await charging.terminate(grant.reservation_id, {Leg.A: 100, Leg.B: 80})
    assert settlement.billed_seconds == {Leg.A: 100, Leg.B: 80} and len(node.sent) == 1


@pytest_twisted.ensureDeferred
async def test_terminate_refuses_at_once_and_does_not_retry():
    charging, node = backend(lambda _: None)
    with pytest.raises(ChargingRefused) as refused:
        await charging.reserve(context("100"))
    assert refused.value.reason is RefusalReason.CHARGING_UNAVAILABLE and not node.requests[0].retry_on_timeout


@pytest_twisted.ensureDeferred
async def test_credit_control_not_applicable_means_no_more_requests():
    charging, node = backend(cca(ResultCode.CREDIT_CONTROL_NOT_APPLICABLE))
    grant = await charging.reserve(context("100", max_call=120))
    assert grant.max_talk_seconds == 120
    await charging.update(grant.reservation_id, {Leg.A: 10, Leg.B: 5})
    await charging.terminate(grant.reservation_id, {Leg.A: 10, Leg.B: 5})
    assert len(node.sent) == 1


@pytest_twisted.ensureDeferred
async def test_the_answers_failure_handling_overrides_configuration_for_the_session():
    answers = [cca(grants={100: 100, 200: 60}, ccfh=1), lambda _: None]
    charging, node = backend(lambda request: answers.pop(0)(request))
    grant = await charging.reserve(context("100"))
    update = await charging.update(grant.reservation_id, {Leg.A: 30, Leg.B: 10})
    assert node.requests[1].retry_on_timeout and update.validity_seconds is None  # CONTINUE: call goes on
    assert node.sent[1].text(293) == "ocs9.ocs.test"  # Destination-Host from the CCA-I


@pytest_twisted.ensureDeferred
async def test_unanswered_update_under_terminate_is_port_unavailable():
    answers = [cca(grants={100: 100, 200: 60}), lambda _: None]
    charging, _ = backend(lambda request: answers.pop(0)(request))
    grant = await charging.reserve(context("100"))
    with pytest.raises(PortUnavailable):
        await charging.update(grant.reservation_id, {Leg.A: 30, Leg.B: 10})


@pytest_twisted.ensureDeferred
async def test_a_refused_update_ends_the_call_at_what_was_used():
    answers = [cca(grants={100: 100, 200: 60}), cca(ResultCode.CREDIT_LIMIT_REACHED)]
    charging, _ = backend(lambda request: answers.pop(0)(request))
    grant = await charging.reserve(context("100"))
    update = await charging.update(grant.reservation_id, {Leg.A: 60, Leg.B: 25})
    assert (update.leg_a_limit, update.leg_b_limit, update.validity_seconds) == (55, 25, None)


@pytest_twisted.ensureDeferred
async def test_zero_talk_time_is_refused_and_released():
    charging, node = backend(cca(grants={100: 20, 200: 60}))  # 20 s cannot cover a 30 s setup allowance
    with pytest.raises(ChargingRefused) as refused:
        await charging.reserve(context("100"))
    assert refused.value.reason is RefusalReason.NO_CREDIT
    assert [m.u32(416) for m in node.sent] == [1, 3]


@pytest_twisted.ensureDeferred
async def test_an_unanswered_ccr_t_can_be_retried_with_the_same_number():
    answers = [cca(grants={100: 630, 200: 600}), lambda _: None, cca()]
    charging, node = backend(lambda request: answers.pop(0)(request))
    grant = await charging.reserve(context("100"))
    with pytest.raises(PortUnavailable):
        await charging.terminate(grant.reservation_id, {Leg.A: 5, Leg.B: 3})
    await charging.terminate(grant.reservation_id, {Leg.A: 5, Leg.B: 3})
    assert [m.u32(415) for m in node.sent] == [0, 1, 1]


@pytest_twisted.ensureDeferred
async def test_terminate_after_a_restart_still_releases_the_session():
    charging, node = backend(cca())
    settlement = await charging.terminate("rb.client.test;1;9", {Leg.A: 40, Leg.B: 20})
    assert settlement.billed_seconds == {Leg.A: 40, Leg.B: 20}
    (sent,) = node.sent
    assert (sent.text(263), sent.u32(416), sent.u32(415)) == ("rb.client.test;1;9", 3, 1)


def test_server_requests_are_answered_before_any_work_starts():
    charging, node = backend(cca(grants={100: 630, 200: 600}))
    assert node.handler is not None
    raa = decode_message(node.handler("p", _request(Command.RE_AUTH, "nobody")))
    assert (raa.command, raa.is_request, raa.text(263)) == (Command.RE_AUTH, False, "nobody")
    assert raa.result_code() == ResultCode.UNKNOWN_SESSION_ID and not charging.scheduled
    unsupported = decode_message(node.handler("p", _request(Command.CREDIT_CONTROL, "x")))
    assert unsupported.is_error and unsupported.result_code() == ResultCode.COMMAND_UNSUPPORTED


def _request(command: Command, session: str) -> Message:
    return decode_message(encode_message(command, 0xC0, 4, 1, 1, [encode(avp("Session-Id"), session)]))


@pytest_twisted.ensureDeferred
async def test_asr_without_a_listener_is_unable_to_comply():
    charging, node = backend(cca(grants={100: 630, 200: 600}))
    grant = await charging.reserve(context("100"))
    assert node.handler is not None
    answer = decode_message(node.handler("p", _request(Command.ABORT_SESSION, grant.reservation_id)))
    assert answer.result_code() == ResultCode.UNABLE_TO_COMPLY


@pytest_twisted.ensureDeferred
async def test_an_undecodable_answer_is_charging_unavailable_and_forgets_the_session():
    def broken(request: Message) -> bytes:
        mscc = b"\x00\x00\x01\xc8\x40\x00\x00\x10" + b"\x00\x00\x01\xb0\x40\x00\x00\x40"  # 456 -> bad child
        return encode_answer(request, [encode(avp("Session-Id"), request.text(263)), encode(avp("Result-Code"), 2001),
                                       encode(avp("Origin-Host"), "ocs9.ocs.test"),
                                       encode(avp("Origin-Realm"), "ocs.test"), mscc])

    charging, _ = backend(broken)
    with pytest.raises(PortUnavailable, match="undecodable"):
        await charging.reserve(context("100"))
    assert charging._sessions == {}


@pytest_twisted.ensureDeferred
async def test_an_unknown_failure_handling_value_leaves_the_configured_one():
    charging, node = backend(cca(grants={100: 600, 200: 600}, ccfh=7), failure_handling="continue")
    grant = await charging.reserve(context("100"))
    assert grant.max_talk_seconds > 0 and node.requests[0].retry_on_timeout
    (session,) = charging._sessions.values()
    assert session.failure_handling.name == "CONTINUE"
