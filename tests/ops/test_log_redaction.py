"""A whole call-back with JSON logging at debug: no phone number, PIN or secret may reach the output.

The log chain is the production one (``configure_logging``), fed by everything that talks during a
request: the HTTP API with its key, the engine through the transition log, SQLAlchemy echoing every
statement with its parameters and result rows, and a front door checking a PIN as the web and e-mail
channels will. Every number is searched for in each form an operator would recognise.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging

import pytest
import pytest_twisted
import treq
from twisted.internet import reactor
from twisted.logger import Logger, globalLogBeginner, globalLogPublisher

from roamback.gateway import build_api_site
from roamback.ops.logging import configure_logging
from roamback.ops.transition_log import log_transition
from roamback.storage.engine import make_engine
from roamback.storage.pool import Database
from roamback.storage.schema import metadata

from ..core.harness import ALICE, make_harness, roamer

CALLBACK_NUMBER = "+34600123456"
DESTINATION = "+4915112345678"
API_KEY = "rbk-test-0d9c8b7a6f5e4d3c"
PIN = "739164"


def _forms(number: str) -> list[str]:
    """E.164 with and without '+', and with the 00 international prefix."""
    return [number, number[1:], "00" + number[1:]]


@pytest_twisted.ensureDeferred
async def test_a_callback_leaves_no_number_pin_or_secret_in_the_log(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(globalLogBeginner, "beginLoggingTo", lambda observers, **kw: None)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    observer = configure_logging("json", "debug", True, stream)
    sql_log = logging.getLogger("sqlalchemy.engine")
    sql_level = sql_log.level
    sql_log.setLevel(logging.DEBUG)  # an operator chasing a database problem: statements, parameters, rows
    globalLogPublisher.addObserver(observer)
    port = None
    engine = make_engine(sqlite_url)  # after logging is set up: connections decide to echo when opened
    metadata.create_all(engine)
    db = Database(engine, reactor)
    db.start()
    try:
        h = await make_harness(db)
        h.engine.add_listener(log_transition)
        await h.add_roamer(roamer(), credit_minor=1000)
        await h.register(ALICE, CALLBACK_NUMBER)
        site = build_api_site(h.engine, {hashlib.sha256(API_KEY.encode()).hexdigest(): "crm"})
        port = reactor.listenTCP(0, site, interface="127.0.0.1")
        response = await treq.post(
            f"http://127.0.0.1:{port.getHost().port}/api/v1/callbacks",
            json={"requester": ALICE, "destination": "0049 151 12345678", "callback_number": CALLBACK_NUMBER},
            headers={"Authorization": f"Bearer {API_KEY}"},
        )
        created = await response.json()
        await h.until(lambda: "completed" in h.states_of(created["id"]) and not h.engine.is_live(created["id"]))
        Logger(namespace="roamback.gateway.web").info("PIN check for {msisdn}", msisdn=ALICE, pin=PIN)
    finally:
        globalLogPublisher.removeObserver(observer)
        root.handlers[:] = handlers
        root.setLevel(level)
        sql_log.setLevel(sql_level)
        if port is not None:
            await port.stopListening()
        await db.stop()
    assert response.code == 201
    output = stream.getvalue()
    records = [json.loads(line) for line in output.splitlines()]
    namespaces = {record["namespace"] for record in records}
    assert {"roamback.requests", "sqlalchemy.engine.Engine", "roamback.gateway.http_api"} <= namespaces
    assert sum(record["namespace"] == "roamback.requests" for record in records) == 8  # every transition
    for secret in (*_forms(ALICE), *_forms(CALLBACK_NUMBER), *_forms(DESTINATION), PIN, API_KEY):
        assert secret not in output, secret
    assert "+3361****78" in output and "+4915****78" in output  # masked, still tellable apart
    assert any(record.get("pin") == "***" for record in records)
