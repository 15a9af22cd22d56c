"""Crash safety of the real service: `roamback serve` killed with SIGKILL mid-call, then started again.

The in-process recovery tests (tests/core/test_recovery.py) feed stored states to the engine; this one
proves the whole path an operator relies on: the HTTP trigger is durable once answered, a SIGKILL
leaves the database consistent (SQLite WAL, synchronous=FULL), and the next start ends the interrupted
call with its settlement, CDRs and notice, and releases the subscriber's slot so they can ask again.
A call lost in a crash is billed to the last moment it was known alive, never to a guess.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from roamback.demo_data import DEMO_SUBSCRIBERS

API_KEY = "crash-test-key-0123456789"
ALICE = DEMO_SUBSCRIBERS["alice"]
DESTINATION = "+4915112345678"
DEADLINE_SECONDS = 30


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "roamback.yaml"
    path.write_text(f"""
database: {{url: "sqlite:///{tmp_path / 'crash.sqlite'}"}}
api:
  listen: "tcp:{port}:interface=127.0.0.1"
  keys: [{{name: crash-test, key: "{API_KEY}"}}]
metrics: {{listen: "tcp:0:interface=127.0.0.1"}}
policy: {{resume_window_seconds: 0, cooldown_seconds: 0}}
switch:
  simulated: {{ring_seconds: 0.2, prompt_seconds: 0.2, talk_seconds: 3600, speed: 1}}
logging: {{level: warn}}
""", encoding="utf-8")
    return path


class Service:
    """One `roamback serve` process and the HTTP calls the test makes to it."""

    def __init__(self, config: Path, port: int, log: Path) -> None:
        self.config, self.port, self.log = config, port, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "roamback", "serve", "--config", str(self.config)],
                stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        self._wait(lambda: self.call("GET", "/api/v1/callbacks/none")[0] == 404, "the API to answer")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=20)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
            headers={"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")
        except (urllib.error.URLError, ConnectionError):
            return 0, {}

    def state(self, request_id: str) -> str | None:
        status, body = self.call("GET", f"/api/v1/callbacks/{request_id}")
        return body.get("state") if status == 200 else None

    def _wait(self, ready: Any, what: str) -> None:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                pytest.fail(f"roamback serve exited ({self.process.returncode}) waiting for {what}:\n"
                            + self.log.read_text(errors="replace"))
            if ready():
                return
            time.sleep(0.1)
        pytest.fail(f"timed out waiting for {what}:\n" + self.log.read_text(errors="replace"))


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    port = _free_port()
    running = Service(_config(tmp_path, port), port, tmp_path / "serve.log")
    yield running
    if running.process is not None and running.process.poll() is None:
        running.process.kill()
        running.process.wait(timeout=10)


def _rows(tmp_path: Path, query: str, **params: Any) -> list[Any]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'crash.sqlite'}")
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text(query), params))
    finally:
        engine.dispose()


def test_a_call_killed_mid_conversation_is_ended_billed_and_notified_after_restart(
    service: Service, tmp_path: Path
) -> None:
    service.start()
    status, accepted = service.call("POST", "/api/v1/callbacks", {"requester": ALICE, "destination": DESTINATION})
    assert status == 201 and accepted["state"] in ("dialling_a", "a_answered", "dialling_b", "bridged"), accepted
    request_id = accepted["id"]
    service._wait(lambda: service.state(request_id) == "bridged", "the call to be bridged")

    service.kill()
    (state,) = _rows(tmp_path, "SELECT state FROM callback_requests WHERE id = :id", id=request_id)[0]
    assert state == "bridged", "SIGKILL must leave the last committed state, not a torn one"

    service.start()
    service._wait(lambda: service.state(request_id) == "completed", "recovery to end the call")
    legs = _rows(tmp_path, "SELECT leg, answered_at, bridged_at, ended_at FROM call_legs "
                           "WHERE request_id = :id ORDER BY leg", id=request_id)
    assert [leg.leg for leg in legs] == ["A", "B"], "a CDR for each leg attempted"
    assert all(leg.answered_at is not None for leg in legs)
    # Billed up to the last moment the call was known alive (its last persisted event), never beyond.
    last_seen = datetime.fromisoformat(legs[1].bridged_at)
    for leg in legs:
        assert timedelta(0) <= datetime.fromisoformat(leg.ended_at) - last_seen < timedelta(seconds=1)
    (reservation_state,) = _rows(tmp_path, "SELECT state FROM reservations WHERE request_id = :id",
                                 id=request_id)[0]
    assert reservation_state == "settled"
    notices = _rows(tmp_path, "SELECT msg_key FROM notice_outbox WHERE request_id = :id", id=request_id)
    assert [notice.msg_key for notice in notices] == ["completed"]
    assert _rows(tmp_path, "SELECT 1 FROM active_callbacks WHERE msisdn = :m", m=ALICE) == []

    status, again = service.call("POST", "/api/v1/callbacks", {"requester": ALICE, "destination": DESTINATION})
    assert status == 201 and again["state"] != "refused", f"the slot must be free again: {again}"
    assert service.stop() == 0
