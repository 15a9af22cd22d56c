"""`roamback demo`: the whole service on embedded defaults, showing three call-backs end to end.

It starts the real service (SQLite in a scratch directory, the built-in ledger, the simulated switch,
the HTTP API on a loopback port with a one-off API key), asks for three call-backs over HTTP as an
operator's web portal would, prints every transition as it is persisted, then the CDRs, the SMS notices
and the balances. It exits 0 only if each call-back ended the way the scenario says it must.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any, TextIO

import sqlalchemy as sa

from .app import Components, RoambackService
from .config import ApiKey, Config
from .core.model import CallbackRequest, Transition
from .demo_data import DEMO_SUBSCRIBERS
from .storage.schema import call_legs


@dataclass(frozen=True)
class Scenario:
    label: str
    requester: str
    destination: str
    expect_state: str
    expect_reason: str | None


SCENARIOS = (
    Scenario("completed", DEMO_SUBSCRIBERS["alice"], "+49 151 12345678", "completed", None),
    Scenario("no credit", DEMO_SUBSCRIBERS["bruno"], "+4915112345678", "refused", "no_credit"),
    Scenario("B busy", DEMO_SUBSCRIBERS["carla"], "0049 151 0000 1111", "failed", "b_busy"),
)


def demo_config(config: Config, workdir: str, api_key: str) -> Config:
    """The user's configuration with a scratch database, a loopback API and a faster clock."""
    return config.model_copy(update={
        "database": config.database.model_copy(update={"url": f"sqlite:///{workdir}/demo.sqlite"}),
        "api": config.api.model_copy(update={
            "enabled": True, "listen": "tcp:0:interface=127.0.0.1",
            "keys": [ApiKey(name="demo", sha256=hashlib.sha256(api_key.encode()).hexdigest())],
        }),
        "switch": config.switch.model_copy(update={
            "simulated": config.switch.simulated.model_copy(update={"speed": 10.0}),
        }),
        "outbox": config.outbox.model_copy(update={"poll_seconds": 0.1}),
    })


class Printer:
    def __init__(self, out: TextIO, labels: dict[str, str]) -> None:
        self.out = out
        self.labels = labels
        self.started = time.monotonic()
        self.pending: dict[str, CallbackRequest] = {}

    def __call__(self, request: CallbackRequest, transition: Transition) -> None:
        label = self.labels.get(request.requester, request.requester)
        extra = f" ({transition.reason})" if transition.reason else ""
        if transition.target.value == "reserved":
            extra = f" (max talk {request.max_talk_seconds}s)"
        self.out.write(f"[{time.monotonic() - self.started:6.2f}s] {label:<10} {transition.target.value}{extra}\n")


async def _post(port: int, api_key: str, body: dict[str, str]) -> dict[str, Any]:
    import treq

    response = await treq.post(
        f"http://127.0.0.1:{port}/api/v1/callbacks", json=body,
        headers={"Authorization": f"Bearer {api_key}"},
    )
    return json.loads(await response.text())


async def _wait_until(reactor: Any, condition: Any, timeout: float) -> bool:
    from twisted.internet import task

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await condition():
            return True
        await task.deferLater(reactor, 0.1, lambda: None)
    return False


async def _scenario_run(reactor: Any, parts: Components, port: int, api_key: str, out: TextIO) -> bool:
    out.write(f"roamback demo: HTTP API on 127.0.0.1:{port}, simulated switch at 10x speed\n\n")
    ids = []
    for scenario in SCENARIOS:
        answer = await _post(port, api_key, {"requester": scenario.requester,
                                             "destination": scenario.destination})
        ids.append(answer["id"])
        out.write(f"           {scenario.label:<10} -> HTTP answer: {answer['state']}: {answer['message']}\n")

    async def all_ended() -> bool:
        requests = [await parts.engine.get(i) for i in ids]
        return all(r is not None and r.state.terminal for r in requests)

    finished = await _wait_until(reactor, all_ended, 60)
    sent = await _wait_until(reactor, lambda: _noticed(parts, ids), 10)
    ok = finished and sent
    out.write("\nOutcome:\n")
    for scenario, request_id in zip(SCENARIOS, ids, strict=True):
        request = await parts.engine.get(request_id)
        assert request is not None
        good = request.state.value == scenario.expect_state and request.reason == scenario.expect_reason
        ok = ok and good
        out.write(f"  {'ok ' if good else 'BAD'} {scenario.label:<10} {request.state.value}"
                  f"{' (' + request.reason + ')' if request.reason else ''}\n")
    await _print_cdrs(parts, ids, out)
    _print_texts(parts, out)
    return ok


async def _noticed(parts: Components, ids: list[str]) -> bool:
    return parts.inbox.delivered >= len(ids)


async def _print_cdrs(parts: Components, ids: list[str], out: TextIO) -> None:
    def load(conn: sa.Connection) -> list[Any]:
        query = sa.select(call_legs).where(call_legs.c.request_id.in_(ids)).order_by(call_legs.c.id)
        return list(conn.execute(query))

    out.write("\nCDRs (one per leg attempt, answered or not):\n")
    out.write(f"  {'leg':<3} {'number':<15} {'answered':<9} {'bridged':<9} {'ended':<9} {'cause':<9} billed cost\n")
    for row in await parts.db.read(load):
        def hms(t: Any) -> str:
            return t.strftime("%H:%M:%S") if t else "-"

        out.write(f"  {row.leg:<3} {row.dialled:<15} {hms(row.answered_at):<9} {hms(row.bridged_at):<9} "
                  f"{hms(row.ended_at):<9} {row.cause or '-':<9} {row.billed_seconds:>5}s {row.cost_minor:>4}\n")


def _print_texts(parts: Components, out: TextIO) -> None:
    out.write("\nSMS notices received by the roamers:\n")
    for name, msisdn in DEMO_SUBSCRIBERS.items():
        for text in parts.inbox.texts(msisdn):
            out.write(f"  {name:<6} {text}\n")


def run(config: Config, args: Any, out: TextIO = sys.stdout) -> int:
    from twisted.internet import defer, reactor, task

    api_key = secrets.token_urlsafe(24)
    labels = {msisdn: name for name, msisdn in DEMO_SUBSCRIBERS.items()}
    with tempfile.TemporaryDirectory(prefix="roamback-demo-") as workdir:
        service = RoambackService(demo_config(config, workdir, api_key), reactor)

        async def main(_reactor: Any) -> bool:
            service.startService()
            parts = await service.ready
            parts.engine.add_listener(Printer(out, labels))
            try:
                return await _scenario_run(reactor, parts, service.api_port.getHost().port, api_key, out)
            finally:
                await service.stopService()

        result: list[bool] = []

        async def wrapper(r: Any) -> None:
            result.append(await main(r))

        try:
            task.react(lambda r: defer.Deferred.fromCoroutine(wrapper(r)))
        except SystemExit as exc:  # react() always exits; the outcome is in ``result``
            if exc.code not in (0, None):
                return int(exc.code)
        ok = bool(result and result[0])
    out.write(f"\n{'demo finished: every call-back ended as expected' if ok else 'demo FAILED'}\n")
    return 0 if ok else 1
