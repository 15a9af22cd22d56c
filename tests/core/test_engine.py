"""The engine end to end on the embedded adapters: every path, every refusal, retries, settlement."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted

from roamback.core.ports import ChargingRefused, PortUnavailable
from roamback.core.reasons import CancelReason, RefusalReason
from roamback.core.states import RequestState as S

from .harness import (
    A_BUSY_NUMBER,
    ALICE,
    DEST_B_BUSY,
    DEST_OK,
    SERVICE_CLI,
    default_dialling,
    default_policy,
    gather,
    make_harness,
    roamer,
)

HAPPY = ["received", "accepted", "reserved", "dialling_a", "a_answered", "dialling_b", "bridged", "completed"]


@pytest_twisted.ensureDeferred
async def test_completed_callback_walks_every_state_and_settles(sqlite_database) -> None:
    h = await make_harness(sqlite_database)
    await h.add_roamer(roamer(), credit_minor=1000)
    request = await h.submit("+49 151 12345678")
    assert request.state is S.DIALLING_A  # submit returns once leg A is being dialled
    done = await h.finished(request)
    assert done.state is S.COMPLETED
    assert h.states_of(request.id) == HAPPY
    a, b = await h.cdrs(request.id)
    assert (a.leg, a.dialled, a.caller_id) == ("A", ALICE, SERVICE_CLI)
    assert (b.leg, b.dialled, b.caller_id) == ("B", DEST_OK, ALICE)  # leg B shows the roamer's number
    assert a.answered_at < b.answered_at <= b.bridged_at < b.ended_at
    for leg in (a, b):  # billed from the leg's own answer, rounded up to the rate's increments
        used = (leg.ended_at - leg.answered_at).total_seconds()
        assert used > 0 and used <= leg.billed_seconds < used + 60
    account = await h.account(roamer().account_id)
    assert account.reserved_minor == 0
    assert 0 <= account.balance_minor < 1000
    assert 1000 - account.balance_minor == a.cost_minor + b.cost_minor
    (notice,) = await h.notices(request.id)
    assert notice.msg_key == "completed" and notice.msisdn == ALICE
    assert await h.slot_holder(ALICE) is None  # the one-active slot was released


async def _refusal(h: Any, destination: str = DEST_OK, **kw: Any) -> Any:
    request = await h.submit(destination, **kw)
    assert request.state is S.REFUSED
    stored = await h.store.get(request.id)
    assert stored.state is S.REFUSED and stored.reason == request.reason
    (notice,) = await h.notices(request.id)
    assert notice.msg_key == f"refusal.{request.reason}"
    assert await h.cdrs(request.id) == []  # nothing was dialled
    return request


@pytest.mark.parametrize(
    ("subscriber", "reason"),
    [
        (roamer(active=False), RefusalReason.INACTIVE),
        (roamer(roaming=False, visited_region=None), RefusalReason.NOT_ROAMING),
        (roamer(service_allowed=False), RefusalReason.SERVICE_NOT_ALLOWED),
        (roamer(visited_region="KP"), RefusalReason.COUNTRY_BANNED),
    ],
)
@pytest_twisted.ensureDeferred
async def test_eligibility_refusals(sqlite_database, subscriber: Any, reason: RefusalReason) -> None:
    h = await make_harness(sqlite_database, policy=default_policy(banned_visited_regions=frozenset({"KP"})))
    await h.add_roamer(subscriber)
    request = await _refusal(h)
    assert request.reason == reason.value


@pytest_twisted.ensureDeferred
async def test_unknown_subscriber_is_refused(sqlite_database) -> None:
    h = await make_harness(sqlite_database)
    request = await _refusal(h, requester="+33600000001")
    assert request.reason == RefusalReason.UNKNOWN_SUBSCRIBER.value


@pytest.mark.parametrize(
    ("kw", "field"),
    [({"destination": "12"}, "destination"), ({"destination": "not a number"}, "destination"),
     ({"destination": DEST_OK, "callback_number": "+1 555"}, "callback_number")],
)
@pytest_twisted.ensureDeferred
async def test_invalid_numbers_name_the_field(sqlite_database, kw: dict[str, str], field: str) -> None:
    h = await make_harness(sqlite_database)
    await h.add_roamer(roamer())
    request = await _refusal(h, **kw)
    assert (request.reason, request.detail) == (RefusalReason.INVALID_NUMBER.value, field)


@pytest_twisted.ensureDeferred
async def test_national_format_uses_home_region(sqlite_database) -> None:
    h = await make_harness(sqlite_database, policy=default_policy(require_roaming=False))
    await h.add_roamer(roamer())
    request = await h.submit("01 40 00 00 00")
    assert request.destination == "+33140000000"
    await h.finished(request)


@pytest_twisted.ensureDeferred
async def test_blocked_destination_and_foreign_leg_a(sqlite_database) -> None:
    h = await make_harness(sqlite_database)
    await h.add_roamer(roamer())
    blocked = await _refusal(h, "+881612345678")
    assert blocked.reason == RefusalReason.BLOCKED_DESTINATION.value
    stranger = await _refusal(h, callback_number="+34600123456")
    assert stranger.reason == RefusalReason.CALLBACK_NUMBER_NOT_REGISTERED.value
    await h.register(ALICE, "+34600123456")
    accepted = await h.submit(DEST_OK, callback_number="+34 600 123 456")
    assert accepted.state is S.DIALLING_A and accepted.callback_number == "+34600123456"
    await h.finished(accepted)


@pytest_twisted.ensureDeferred
async def test_one_active_callback_per_subscriber_under_concurrency(sqlite_database) -> None:
    h = await make_harness(sqlite_database)
    await h.add_roamer(roamer(), credit_minor=100000)
    requests = await gather(*(h.submit(DEST_OK) for _ in range(12)))
    accepted = [r for r in requests if r.state is not S.REFUSED]
    refused = [r for r in requests if r.state is S.REFUSED]
    assert len(accepted) == 1
    assert {r.reason for r in refused} == {RefusalReason.ALREADY_ACTIVE.value}
    await h.finished(accepted[0])


@pytest_twisted.ensureDeferred
async def test_daily_cap_and_cooldown(sqlite_database) -> None:
    h = await make_harness(sqlite_database, policy=default_policy(daily_cap=2, cooldown_seconds=0))
    await h.add_roamer(roamer(), credit_minor=100000)
    for _ in range(2):
        assert (await h.finished(await h.submit(DEST_OK))).state is S.COMPLETED
    capped = await _refusal(h)
    assert capped.reason == RefusalReason.DAILY_CAP.value

    h2 = await make_harness(sqlite_database, policy=default_policy(cooldown_seconds=3600))
    await h2.add_roamer(roamer("+33611223344", account_id="carla"), credit_minor=100000)
    first = await h2.finished(await h2.submit(DEST_OK, requester="+33611223344"))
    assert first.state is S.COMPLETED
    cooling = await _refusal(h2, requester="+33611223344")
    assert cooling.reason == RefusalReason.COOLDOWN.value


@pytest_twisted.ensureDeferred
async def test_no_credit_and_no_rate(sqlite_database) -> None:
    h = await make_harness(sqlite_database)
    await h.add_roamer(roamer(), credit_minor=5)
    poor = await _refusal(h)
    assert poor.reason == RefusalReason.NO_CREDIT.value
    account = await h.account(roamer().account_id)
    assert (account.balance_minor, account.reserved_minor) == (5, 0)
    assert await h.slot_holder(ALICE) is None  # a refusal after the claim releases it


class _Refusing:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    async def reserve(self, context: Any) -> Any:
        raise self.exc

    async def lookup(self, msisdn: str) -> Any:
        raise self.exc


@pytest.mark.parametrize(
    ("port", "exc", "reason"),
    [
        ("charging", ChargingRefused(RefusalReason.CHARGING_DENIED, "4010"), RefusalReason.CHARGING_DENIED),
        ("charging", ChargingRefused(RefusalReason.NO_RATE), RefusalReason.NO_RATE),
        ("charging", PortUnavailable("OCS timeout"), RefusalReason.CHARGING_UNAVAILABLE),
        ("directory", PortUnavailable("Oracle down"), RefusalReason.DIRECTORY_UNAVAILABLE),
    ],
)
@pytest_twisted.ensureDeferred
async def test_port_failures_become_refusals(sqlite_database, port: str, exc: Exception,
                                             reason: RefusalReason) -> None:
    h = await make_harness(sqlite_database, **{port: _Refusing(exc)})
    await h.add_roamer(roamer())
    request = await _refusal(h)
    assert request.reason == reason.value


@pytest_twisted.ensureDeferred
async def test_leg_a_busy_is_retried_then_fails_with_a_cdr_per_attempt(sqlite_database) -> None:
    h = await make_harness(sqlite_database, dialling=default_dialling(a_max_attempts=3))
    await h.add_roamer(roamer(A_BUSY_NUMBER, account_id="busy"), credit_minor=1000)
    request = await h.submit(DEST_OK, requester=A_BUSY_NUMBER)
    done = await h.finished(request)
    assert (done.state, done.reason, done.attempts) == (S.FAILED, "a_busy", 3)
    assert h.states_of(request.id) == ["received", "accepted", "reserved", "dialling_a", "a_retry_wait",
                                       "dialling_a", "a_retry_wait", "dialling_a", "failed"]
    legs = await h.cdrs(request.id)
    assert [(leg.leg, leg.attempt, leg.cause, leg.billed_seconds) for leg in legs] == [
        ("A", 1, "busy", 0), ("A", 2, "busy", 0), ("A", 3, "busy", 0)]
    account = await h.account("busy")
    assert (account.balance_minor, account.reserved_minor) == (1000, 0)  # nothing charged, all released


@pytest_twisted.ensureDeferred
async def test_unallocated_leg_a_is_never_retried(sqlite_database) -> None:
    h = await make_harness(sqlite_database)
    await h.add_roamer(roamer("+33699993333", account_id="gone"))
    done = await h.finished(await h.submit(DEST_OK, requester="+33699993333"))
    assert (done.state, done.reason, done.attempts) == (S.FAILED, "a_unreachable", 1)


@pytest_twisted.ensureDeferred
async def test_busy_leg_b_fails_and_leg_a_is_not_billed(sqlite_database) -> None:
    h = await make_harness(sqlite_database)
    await h.add_roamer(roamer(), credit_minor=1000)
    done = await h.finished(await h.submit(DEST_B_BUSY))
    assert (done.state, done.reason) == (S.FAILED, "b_busy")
    a, b = await h.cdrs(done.id)
    assert a.answered_at is not None and b.answered_at is None and b.cause == "busy"
    assert a.billed_seconds == b.billed_seconds == 0
    assert (await h.account(roamer().account_id)).balance_minor == 1000
    (notice,) = await h.notices(done.id)
    assert notice.msg_key == "failure.b_busy"


@pytest_twisted.ensureDeferred
async def test_billing_leg_a_when_b_fails_is_an_operator_choice(sqlite_database) -> None:
    h = await make_harness(sqlite_database, policy=default_policy(bill_leg_a_when_b_fails=True))
    await h.add_roamer(roamer(), credit_minor=1000)
    done = await h.finished(await h.submit(DEST_B_BUSY))
    a, _ = await h.cdrs(done.id)
    assert a.billed_seconds > 0
    assert (await h.account(roamer().account_id)).balance_minor == 1000 - a.cost_minor


@pytest_twisted.ensureDeferred
async def test_cancel_mid_call_settles_and_records(sqlite_database) -> None:
    h = await make_harness(sqlite_database, talk_seconds=10_000)
    await h.add_roamer(roamer(), credit_minor=1000)
    request = await h.submit(DEST_OK)
    await h.until(lambda: request.state is S.BRIDGED)
    assert await h.engine.cancel(request.id, CancelReason.BY_OPERATOR)
    done = await h.finished(request)
    assert (done.state, done.reason) == (S.CANCELLED, "by_operator")
    a, b = await h.cdrs(done.id)
    assert a.cause == b.cause == "cancelled"
    assert not await h.engine.cancel(request.id, CancelReason.BY_OPERATOR)


@pytest_twisted.ensureDeferred
async def test_the_grant_limits_the_call(sqlite_database) -> None:
    """Talk longer than the balance allows: the switch is told the limit and the balance stays >= 0."""
    h = await make_harness(sqlite_database, talk_seconds=100_000)
    await h.add_roamer(roamer(), credit_minor=150)
    done = await h.finished(await h.submit(DEST_OK), timeout=20)
    assert done.state is S.COMPLETED
    _a, b = await h.cdrs(done.id)
    assert b.billed_seconds <= done.max_talk_seconds + 60  # one billing increment at most
    account = await h.account(roamer().account_id)
    assert account.balance_minor >= 0 and account.reserved_minor == 0


@pytest_twisted.ensureDeferred
async def test_idempotent_reference(sqlite_database) -> None:
    h = await make_harness(sqlite_database)
    await h.add_roamer(roamer())
    first = await h.submit(DEST_OK, reference="portal-42")
    again = await h.submit(DEST_OK, reference="portal-42")
    assert again.id == first.id
    await h.finished(first)

