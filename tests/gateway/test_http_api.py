"""The HTTP API on a real loopback port, hit with treq, in front of an engine test double."""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_twisted
from treq.client import HTTPClient
from twisted.logger import formatEvent, globalLogPublisher
from twisted.web.client import Agent, HTTPConnectionPool

from roamback.core.model import CallbackRequest, CallbackTrigger, Channel, Leg, LegRecord
from roamback.core.reasons import HangupCause, RefusalReason
from roamback.core.states import RequestState
from roamback.gateway import MAX_BODY_BYTES, build_api_site

KEY = "rb_live_7Qm2xT9vK4pL8sN3wZ6yB1cD5fG0hJ"
OPS_KEY = "rb_ops_Xx83jdKs02LmQpaZ"
CREATED = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
GOOD = {"requester": "+33612345678", "destination": "+447700900123"}


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class EngineDouble:
    """Test double for the core engine: decides by destination, deterministically, and remembers."""

    def __init__(self) -> None:
        self.triggers: list[CallbackTrigger] = []
        self.requests: dict[str, CallbackRequest] = {}
        self._ids = itertools.count(1)

    async def submit(self, trigger: CallbackTrigger) -> CallbackRequest:
        self.triggers.append(trigger)
        if trigger.destination == "+999":
            raise RuntimeError("store exploded at /var/lib/roamback/secret.db")
        request = CallbackRequest(
            id=f"req-{next(self._ids)}",
            channel=trigger.channel,
            requester=trigger.requester,
            destination_raw=trigger.destination,
            callback_raw=trigger.callback_number,
            language=trigger.language or "en",
            created_at=CREATED,
            reference=trigger.reference,
        )
        if trigger.destination.startswith("+1900"):
            self._refuse(request, RefusalReason.BLOCKED_DESTINATION, "premium rate")
        elif not trigger.destination.startswith("+"):
            self._refuse(request, RefusalReason.INVALID_NUMBER, "destination")
        elif trigger.callback_number == "nope":
            self._refuse(request, RefusalReason.INVALID_NUMBER, "callback_number")
        else:
            self._accept(request, trigger)
        self.requests[request.id] = request
        return request

    @staticmethod
    def _refuse(request: CallbackRequest, reason: RefusalReason, detail: str) -> None:
        request.state, request.reason, request.detail = RequestState.REFUSED, reason.value, detail

    @staticmethod
    def _accept(request: CallbackRequest, trigger: CallbackTrigger) -> None:
        request.state = RequestState.DIALLING_A
        request.destination = trigger.destination
        request.callback_number = trigger.callback_number or trigger.requester
        request.max_talk_seconds = 600
        request.account_id = "acct-secret-42"
        request.legs.append(
            LegRecord(
                request_id=request.id,
                call_id="call-1",
                leg=Leg.A,
                attempt=1,
                number=request.callback_number,
                caller_id="+33100000000",
                started_at=CREATED + timedelta(seconds=1),
                answered_at=CREATED + timedelta(seconds=5, milliseconds=250),
                ended_at=CREATED + timedelta(seconds=65),
                cause=HangupCause.NORMAL,
                billed_seconds=60,
            )
        )

    async def get(self, request_id: str) -> CallbackRequest | None:
        return self.requests.get(request_id)

    def describe(self, request: CallbackRequest) -> str:
        return f"[{request.language}] {request.state.value} {request.reason or ''}".strip()


@dataclass
class Response:
    status: int
    headers: Any
    body: Any

    def header(self, name: str) -> str | None:
        values = self.headers.getRawHeaders(name)
        return values[0] if values else None


@dataclass
class Api:
    base: str
    engine: EngineDouble
    client: HTTPClient

    async def call(
        self, method: str, path: str, body: Any = None, *, key: str | None = KEY, raw: bytes | None = None
    ) -> Response:
        headers = {"Content-Type": ["application/json"]}
        if key is not None:
            headers["Authorization"] = [f"Bearer {key}"]
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        response = await self.client.request(method, self.base + path, data=data, headers=headers)
        text = await response.text("utf-8")
        assert response.headers.getRawHeaders("content-type") == ["application/json; charset=utf-8"]
        return Response(response.code, response.headers, json.loads(text))

    async def submit(self, body: Any = None, **options: Any) -> Response:
        return await self.call("POST", "/api/v1/callbacks", body, **options)


@pytest_twisted.async_yield_fixture
async def api():
    from twisted.internet import reactor

    engine = EngineDouble()
    site = build_api_site(engine, {sha256(KEY): "partner-portal", sha256(OPS_KEY).upper(): "ops"})
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    pool = HTTPConnectionPool(reactor, persistent=False)
    yield Api(f"http://127.0.0.1:{port.getHost().port}", engine, HTTPClient(Agent(reactor, pool=pool)))
    await pool.closeCachedConnections()
    await port.stopListening()


@pytest.fixture
def logged() -> Iterator[list[dict]]:
    events: list[dict] = []
    observer = events.append
    globalLogPublisher.addObserver(observer)
    yield events
    globalLogPublisher.removeObserver(observer)


@pytest_twisted.ensureDeferred
async def test_accepted_request_is_created_and_can_be_read_back_with_its_legs(api: Api) -> None:
    body = {**GOOD, "callback_number": "+33698765432", "language": "fr", "reference": "order-77"}
    created = await api.submit(body)
    assert created.status == 201
    assert created.header("location") == "/api/v1/callbacks/req-1"
    assert created.body["id"] == "req-1"
    assert created.body["state"] == "dialling_a"
    assert created.body["channel"] == "api"
    assert created.body["created_at"] == "2025-03-01T09:30:00Z"
    assert created.body["message"] == "[fr] dialling_a"
    assert "account_id" not in created.body and "detail" not in created.body
    assert api.engine.triggers == [
        CallbackTrigger(
            channel=Channel.API,
            requester="+33612345678",
            destination="+447700900123",
            callback_number="+33698765432",
            language="fr",
            reference="order-77",
        )
    ]

    fetched = await api.call("GET", "/api/v1/callbacks/req-1")
    assert fetched.status == 200
    assert fetched.body["max_talk_seconds"] == 600
    assert fetched.body["callback_number"] == "+33698765432"
    assert fetched.body["legs"] == [
        {
            "leg": "A",
            "attempt": 1,
            "number": "+33698765432",
            "caller_id": "+33100000000",
            "started_at": "2025-03-01T09:30:01Z",
            "answered_at": "2025-03-01T09:30:05.250000Z",
            "bridged_at": None,
            "ended_at": "2025-03-01T09:31:05Z",
            "cause": "normal",
            "billed_seconds": 60,
        }
    ]


@pytest_twisted.ensureDeferred
async def test_x_api_key_header_and_a_second_key_are_accepted(api: Api) -> None:
    response = await api.client.post(
        api.base + "/api/v1/callbacks", json=GOOD, headers={"X-API-Key": OPS_KEY}
    )
    assert response.code == 201
    assert (await response.json())["state"] == "dialling_a"


@pytest_twisted.ensureDeferred
async def test_a_refusal_is_a_recorded_outcome_answered_200(api: Api) -> None:
    response = await api.submit({**GOOD, "destination": "+19005551234"})
    assert response.status == 200
    assert response.header("location") is None
    assert response.body["state"] == "refused"
    assert response.body["reason"] == "blocked_destination"
    assert response.body["message"] == "[en] refused blocked_destination"
    assert response.body["destination"] == "+19005551234"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**GOOD, "destination": "call my mum"}, "destination"),
        ({**GOOD, "callback_number": "nope"}, "callback_number"),
    ],
)
@pytest_twisted.ensureDeferred
async def test_a_number_the_core_cannot_read_is_400_naming_the_field(api: Api, body, field) -> None:
    response = await api.submit(body)
    assert response.status == 400
    assert response.body == {
        "error": {"code": "invalid_number", "field": field, "message": "[en] refused invalid_number"}
    }


@pytest.mark.parametrize(
    ("key", "headers"),
    [(None, {}), ("wrong-key", {}), (None, {"Authorization": ["Basic dXNlcjpwYXNz"]})],
)
@pytest_twisted.ensureDeferred
async def test_missing_or_wrong_key_is_401(api: Api, key, headers) -> None:
    for method, path in [("POST", "/api/v1/callbacks"), ("GET", "/api/v1/callbacks/req-1")]:
        all_headers = {**headers, **({"Authorization": [f"Bearer {key}"]} if key else {})}
        response = await api.client.request(
            method, api.base + path, data=json.dumps(GOOD).encode(), headers=all_headers
        )
        assert response.code == 401
        assert response.headers.getRawHeaders("www-authenticate") == ["Bearer"]
        assert (await response.json())["error"]["code"] == "unauthorized"
    assert api.engine.triggers == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"destination": "+447700900123"}, "requester"),
        ({"requester": "+33612345678"}, "destination"),
        ({**GOOD, "requester": 33612345678}, "requester"),
        ({**GOOD, "destination": "   "}, "destination"),
        ({**GOOD, "destination": "+44\n7700"}, "destination"),
        ({**GOOD, "callback_number": ["+33698765432"]}, "callback_number"),
        ({**GOOD, "callback_number": "+3" * 30}, "callback_number"),
        ({**GOOD, "language": "x" * 17}, "language"),
        ({**GOOD, "reference": "r" * 101}, "reference"),
        ({**GOOD, "reference": 7}, "reference"),
        ({**GOOD, "amount": 5}, "amount"),
    ],
)
@pytest_twisted.ensureDeferred
async def test_bad_fields_are_400_naming_the_field(api: Api, body, field) -> None:
    response = await api.submit(body)
    assert response.status == 400
    assert response.body["error"]["code"] == "invalid_request"
    assert response.body["error"]["field"] == field
    assert field in response.body["error"]["message"]
    assert api.engine.triggers == []


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"\xff\xfe{}", b""])
@pytest_twisted.ensureDeferred
async def test_a_body_that_is_not_a_json_object_is_400(api: Api, raw: bytes) -> None:
    response = await api.submit(raw=raw)
    assert response.status == 400
    assert response.body["error"]["code"] == "invalid_request"
    assert "field" not in response.body["error"]


@pytest_twisted.ensureDeferred
async def test_optional_fields_may_be_null_or_blank_and_reference_may_be_100_chars(api: Api) -> None:
    response = await api.submit({**GOOD, "callback_number": "", "language": None, "reference": "r" * 100})
    assert response.status == 201
    trigger = api.engine.triggers[-1]
    assert (trigger.callback_number, trigger.language, trigger.reference) == (None, None, "r" * 100)


@pytest_twisted.ensureDeferred
async def test_a_body_over_8_kib_is_413(api: Api) -> None:
    padded = json.dumps(GOOD).encode().ljust(MAX_BODY_BYTES + 1)
    response = await api.submit(raw=padded)
    assert response.status == 413
    assert response.body["error"]["code"] == "invalid_request"
    exactly_full = json.dumps(GOOD).encode().ljust(MAX_BODY_BYTES)
    assert (await api.submit(raw=exactly_full)).status == 201


@pytest_twisted.ensureDeferred
async def test_unknown_request_and_unknown_paths_are_json_404(api: Api) -> None:
    for path in [
        "/api/v1/callbacks/req-404",
        "/api/v1/callbacks/req-1/legs",
        "/api/v1/callbacks/",
        "/api/v1",
        "/",
        "/api/v2/callbacks",
        "/api/v1/callbacks/" + "x" * 101,
    ]:
        response = await api.call("GET", path)
        assert response.status == 404, path
        assert response.body["error"]["code"] == "not_found"


@pytest_twisted.ensureDeferred
async def test_other_methods_are_405_with_allow(api: Api) -> None:
    for method, path, allow in [
        ("GET", "/api/v1/callbacks", "POST"),
        ("DELETE", "/api/v1/callbacks", "POST"),
        ("PUT", "/api/v1/callbacks/req-1", "GET"),
        ("POST", "/api/v1/callbacks/req-1", "GET"),
    ]:
        response = await api.call(method, path, GOOD)
        assert response.status == 405, (method, path)
        assert response.header("allow") == allow
        assert response.body["error"]["code"] == "method_not_allowed"


@pytest_twisted.ensureDeferred
async def test_an_engine_failure_is_500_without_internals_and_logged(api: Api, logged) -> None:
    response = await api.submit({**GOOD, "destination": "+999"})
    assert response.status == 500
    assert response.body == {
        "error": {"code": "internal_error", "message": "the request could not be processed"}
    }
    failures = [e for e in logged if "log_failure" in e]
    assert len(failures) == 1 and failures[0]["log_failure"].check(RuntimeError)


def _everything_logged(events: list[dict]) -> str:
    texts = []
    for event in events:
        texts.append(formatEvent(event))
        texts.append(repr(event))
        if "log_failure" in event:
            texts.append(event["log_failure"].getTraceback())
    return "\n".join(texts)


@pytest_twisted.ensureDeferred
async def test_api_keys_never_reach_the_logs(api: Api, logged) -> None:
    await api.submit(GOOD)
    await api.submit({**GOOD, "destination": "+999"})
    await api.submit(GOOD, key=KEY + "x")
    await api.call("GET", "/api/v1/callbacks/req-1")
    await api.client.get(api.base + "/api/v1/callbacks/req-1", headers={"X-API-Key": OPS_KEY})
    text = _everything_logged(logged)
    assert "partner-portal" in text, "the capture works: the client's key name is logged"
    assert "RuntimeError" in text
    for secret in (KEY, OPS_KEY, KEY[8:24]):
        assert secret not in text


def test_a_hash_that_is_not_a_sha256_digest_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValueError, match="'portal'") as raised:
        build_api_site(EngineDouble(), {KEY: "portal"})
    assert KEY not in str(raised.value)
