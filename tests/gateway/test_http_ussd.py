"""The HTTP USSD door on a real loopback port, driven with treq, in front of the real menu engine."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
import pytest_twisted
import treq
from twisted.internet import reactor
from twisted.web.server import Site

from roamback.gateway.http_ussd import HttpUssdSettings, UssdFrontDoor

from ..ussd_menus.fakes import ALICE, make_engine

SECRET = "aggregator-shared-secret-9f2c"
HEADERS = {"X-Ussd-Secret": SECRET}
FORM = {"Content-Type": "application/x-www-form-urlencoded", **HEADERS}
JSON = {"Content-Type": "application/json", **HEADERS}


@pytest.fixture
def door() -> Iterator[tuple[str, Any]]:
    engine, actions, _ = make_engine()
    actions.add()
    actions.add("+254711000111", language="fr")
    settings = HttpUssdSettings(secret_sha256=hashlib.sha256(SECRET.encode()).hexdigest(),
                                allow_from=("127.0.0.0/8",))
    port = reactor.listenTCP(0, Site(UssdFrontDoor(engine, settings)), interface="127.0.0.1")
    yield f"http://127.0.0.1:{port.getHost().port}/ussd", actions
    port.stopListening()


async def post(url: str, headers: dict[str, str], **kw: Any) -> tuple[int, str]:
    response = await treq.post(url, headers={k: [v] for k, v in headers.items()}, **kw)
    return response.code, (await response.content()).decode("utf-8")


async def at_step(url: str, text: str, session: str = "ATUid_1", phone: str = ALICE) -> tuple[int, str]:
    form = {"sessionId": session, "serviceCode": "*123#", "phoneNumber": phone, "text": text}
    return await post(url, FORM, data=form)


@pytest_twisted.ensureDeferred
async def test_africas_talking_dialogue_with_cumulative_text(door) -> None:
    url, actions = door
    code, body = await at_step(url, "")
    assert code == 200 and body.startswith("CON Call-back\n1 Call back a number")
    assert (await at_step(url, "2"))[1].startswith("CON Phone book")
    assert (await at_step(url, "2"))[1].startswith("CON Phone book")  # a resend: same page, not answered twice
    assert (await at_step(url, "2*2"))[1] == "CON Name of the entry:\n0 Back"
    assert (await at_step(url, "2*2*Mum*+4915112345678"))[1] == "END Saved as entry 1."
    assert actions.books[ALICE] == {1: ("Mum", "+4915112345678")}


@pytest_twisted.ensureDeferred
async def test_africas_talking_one_shot_and_stale_session(door) -> None:
    url, actions = door
    assert (await at_step(url, "4915112345678", session="s2"))[1].startswith("END Call-back accepted")
    assert actions.callbacks[-1][1] == "4915112345678"  # as typed: the core normalises or refuses
    code, body = await at_step(url, "1*2*3", session="gone")
    assert (code, body) == (200, "END Your session has ended. Please dial again.")


@pytest_twisted.ensureDeferred
async def test_json_variant_in_the_subscribers_language(door) -> None:
    url, _ = door
    first = {"sessionId": "h-1", "msisdn": "254711000111", "serviceCode": "*123#", "text": "*123#", "new": True}
    code, body = await post(url, JSON, data=json.dumps(first).encode())
    reply = json.loads(body)
    assert code == 200 and reply["continue"] is True and reply["text"].startswith("Rappel\n1 Appeler un numéro")
    step = {**first, "text": "4", "new": False}
    reply = json.loads((await post(url, JSON, data=json.dumps(step).encode()))[1])
    assert reply == {"text": "Votre solde est de 12,50 EUR.", "continue": False}


@pytest_twisted.ensureDeferred
async def test_access_is_refused_without_the_secret(door) -> None:
    url, _ = door
    form = {"sessionId": "x", "serviceCode": "*123#", "phoneNumber": ALICE, "text": ""}
    assert (await post(url, {"Content-Type": "application/x-www-form-urlencoded"}, data=form))[0] == 401
    wrong = {"Content-Type": "application/x-www-form-urlencoded", "X-Ussd-Secret": "guess"}
    code, body = await post(url, wrong, data=form)
    assert code == 401 and "guess" not in body


@pytest_twisted.ensureDeferred
async def test_ip_allow_list_and_unconfigured_door() -> None:
    engine, _, _ = make_engine()
    for settings, status in ((HttpUssdSettings(allow_from=("10.0.0.0/8",)), 403), (HttpUssdSettings(), 403)):
        port = reactor.listenTCP(0, Site(UssdFrontDoor(engine, settings)), interface="127.0.0.1")
        try:
            url = f"http://127.0.0.1:{port.getHost().port}/"
            code, _ = await post(url, {"Content-Type": "application/json"}, data=b"{}")
            assert code == status
        finally:
            await port.stopListening()


@pytest.mark.parametrize(("headers", "body", "message"), [
    (FORM, {"serviceCode": "*123#", "phoneNumber": ALICE, "text": ""}, "field 'sessionId' is missing"),
    (FORM, {"sessionId": "a", "serviceCode": "*123#", "phoneNumber": "abc", "text": ""}, "6 to 15 digits"),
    (FORM, {"sessionId": "a", "serviceCode": "#1", "phoneNumber": ALICE, "text": ""}, "is not a USSD service code"),
    (JSON, b"[1]", "must be a JSON object"),
    (JSON, b"{nope", "not JSON"),
    (JSON, json.dumps({"sessionId": "a", "msisdn": ALICE, "serviceCode": "123", "text": "1", "new": "yes"}).encode(),
     "field 'new' must be true or false"),
    (JSON, b"{" + b" " * 5000 + b"}", "larger than 4096"),
])
@pytest_twisted.ensureDeferred
async def test_bad_input_is_a_400_saying_what_is_wrong(door, headers, body, message) -> None:
    url, _ = door
    code, text = await post(url, headers, data=body)
    assert code == 400 and message in text


@pytest_twisted.ensureDeferred
async def test_wrong_method_and_content_type(door) -> None:
    url, _ = door
    assert (await treq.get(url)).code == 405
    assert (await post(url, {"Content-Type": "text/plain", **HEADERS}, data=b"hi"))[0] == 415


@pytest_twisted.ensureDeferred
async def test_a_late_answer_or_a_resent_one_shot_never_places_a_call() -> None:
    engine, actions, clock = make_engine()
    actions.add()
    settings = HttpUssdSettings(secret_sha256=hashlib.sha256(SECRET.encode()).hexdigest())
    port = reactor.listenTCP(0, Site(UssdFrontDoor(engine, settings)), interface="127.0.0.1")
    url = f"http://127.0.0.1:{port.getHost().port}/ussd"
    try:
        assert (await at_step(url, "", session="late"))[1].startswith("CON ")
        clock.advance(engine.settings.dialogue_timeout + 1)
        await engine.expire()
        assert (await at_step(url, "2", session="late")) == (200, "END Your session has ended. Please dial again.")
        assert (await at_step(url, "4915112345678", session="once"))[1].startswith("END Call-back accepted")
        assert (await at_step(url, "4915112345678", session="once")) == (
            200, "END Your session has ended. Please dial again.")
        assert len(actions.callbacks) == 1
    finally:
        await port.stopListening()
