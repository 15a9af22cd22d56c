from __future__ import annotations

import io
import json
import logging

import pytest
from twisted.logger import Logger, LogLevel, globalLogBeginner, globalLogPublisher

from roamback.ops import logging as rlog
from roamback.ops.logging import is_secret, make_observer, mask_msisdn

MSISDN = "+447400123456"
OTHER = "0033612345678"
PIN = "482913"
API_KEY = "rb_live_9f8e7d6c5b4a"


def _emit(fmt: str, mask: bool = True, level: str = "info") -> str:
    stream = io.StringIO()
    log = Logger(namespace="roamback.test", observer=make_observer(fmt, level, mask, stream))
    log.info("callback for {msisdn} to " + OTHER + " with pin {pin}", msisdn=MSISDN, pin=PIN,
             api_key=API_KEY, request_id="rq-abc", headers={"Authorization": f"Bearer {API_KEY}"})
    try:
        raise ValueError(f"cannot dial {MSISDN}")
    except ValueError:
        log.failure("dial failed for {who}", who=MSISDN)
    log.debug("debug text for {msisdn}", msisdn=MSISDN)
    return stream.getvalue()


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_no_msisdn_pin_or_key_reaches_the_output(fmt: str) -> None:
    output = _emit(fmt)
    for secret in (MSISDN, MSISDN[1:], OTHER, PIN, API_KEY):
        assert secret not in output, secret
    assert "+4474****56" in output
    assert "0033****78" in output
    assert "debug text" not in output  # below the configured level


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_without_masking_numbers_show_but_secrets_never_do(fmt: str) -> None:
    output = _emit(fmt, mask=False)
    assert MSISDN in output and OTHER in output
    assert PIN not in output and API_KEY not in output


def test_json_is_one_object_per_event_with_its_fields() -> None:
    lines = _emit("json").splitlines()
    assert len(lines) == 2
    first, failure = (json.loads(line) for line in lines)
    assert first["level"] == "info"
    assert first["namespace"] == "roamback.test"
    assert first["request_id"] == "rq-abc"
    assert first["pin"] == "***"
    assert first["headers"] == {"Authorization": "***"}
    assert first["text"] == "callback for +4474****56 to 0033****78 with pin ***"
    assert first["time"].endswith("Z")
    assert failure["level"] == "critical"
    assert "ValueError: cannot dial +4474****56" in failure["traceback"]


def test_text_format_is_one_readable_line_per_event() -> None:
    first = _emit("text").splitlines()[0]
    assert first.endswith("info [roamback.test] callback for +4474****56 to 0033****78 with pin ***")


def test_objects_are_rendered_as_masked_text() -> None:
    class Request:
        def __str__(self) -> str:
            return f"Request(requester={MSISDN})"

    stream = io.StringIO()
    Logger(observer=make_observer("json", "debug", True, stream)).debug("got {r}", r=Request())
    record = json.loads(stream.getvalue())
    assert record["r"] == "Request(requester=+4474****56)"
    assert record["text"] == "got Request(requester=+4474****56)"


@pytest.mark.parametrize(("text", "masked"), [
    ("+33612345678", "+3361****78"),
    ("call 1234567 now", "call 1234****67 now"),
    ("short 123456 stays", "short 123456 stays"),
    ("a+33612345678,0612345678", "a+3361****78,0612****78"),
])
def test_mask_msisdn(text: str, masked: str) -> None:
    assert mask_msisdn(text) == masked


@pytest.mark.parametrize(("name", "secret"), [
    ("password", True), ("db_password", True), ("pin", True), ("api_key", True), ("apiKey", True),
    ("X-Auth-Token", True), ("client_secret", True), ("key", True), ("shipping", False),
    ("mapping", False), ("msisdn", False), ("request_id", False), ("monkey", False),
])
def test_is_secret(name: str, secret: bool) -> None:
    assert is_secret(name) is secret


def test_configure_logging_routes_stdlib_logging_through_redaction(monkeypatch: pytest.MonkeyPatch) -> None:
    begun: list[list] = []
    monkeypatch.setattr(globalLogBeginner, "beginLoggingTo", lambda observers, **kw: begun.append(observers))
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    try:
        observer = rlog.configure_logging("json", "warn", True, stream)
        assert begun == [[observer]]
        events: list[dict] = []
        globalLogPublisher.addObserver(events.append)
        try:
            logging.getLogger("sqlalchemy.engine").warning("slow query for %s", MSISDN)
        finally:
            globalLogPublisher.removeObserver(events.append)
        assert events and events[0]["log_level"] is LogLevel.warn
        observer(events[0])
        assert json.loads(stream.getvalue())["text"] == "slow query for +4474****56"
        assert root.level == logging.WARNING
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
