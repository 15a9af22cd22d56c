"""The service as `roamback serve` builds it from configuration: the HTTP USSD door drives the real menu
engine into the real core, the operations site reports on the same engine, and SIGHUP's menu reload keeps
the running menu when the edited file is broken. Real ports on loopback, the embedded SQLite and ledger."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_twisted
import treq
from prometheus_client.parser import text_string_to_metric_families
from twisted.internet import reactor
from twisted.internet.task import deferLater

from roamback.app import RoambackService
from roamback.config import Config
from roamback.core.states import RequestState
from roamback.demo_data import DEMO_SUBSCRIBERS
from roamback.ussd_menus import default_menu_path

SECRET = "wiring-test-shared-secret"
ALICE = DEMO_SUBSCRIBERS["alice"]


def _config(tmp_path: Path, menu: Path | None = None) -> Config:
    return Config.model_validate({
        "database": {"url": f"sqlite:///{tmp_path / 'wiring.sqlite'}"},
        "api": {"enabled": False},
        "metrics": {"listen": "tcp:0:interface=127.0.0.1", "poll_seconds": 0.2},
        "ussd_menu": {"file": str(menu) if menu else None},
        "ussd_http": {"enabled": True, "listen": "tcp:0:interface=127.0.0.1", "path": "/ussd/at",
                      "secret_sha256": hashlib.sha256(SECRET.encode()).hexdigest()},
        "switch": {"simulated": {"ring_seconds": 0.1, "prompt_seconds": 0.1, "talk_seconds": 0.5}},
        "policy": {"cooldown_seconds": 0},
        "outbox": {"poll_seconds": 0.1},
    })


@pytest_twisted.async_yield_fixture
async def running(tmp_path: Path) -> AsyncIterator[RoambackService]:
    menu = tmp_path / "menu.yaml"
    menu.write_text(default_menu_path().read_text(encoding="utf-8"), encoding="utf-8")
    for text in (default_menu_path().parent / "texts").iterdir():
        (tmp_path / "texts").mkdir(exist_ok=True)
        (tmp_path / "texts" / text.name).write_text(text.read_text(encoding="utf-8"), encoding="utf-8")
    service = RoambackService(_config(tmp_path, menu), reactor)
    service.startService()
    await service.ready
    yield service
    await service.stopService()


def _url(service: RoambackService, index: int, path: str) -> str:
    return f"http://127.0.0.1:{service.ports[index].getHost().port}{path}"


async def _at(service: RoambackService, text: str, session: str = "S1", secret: str = SECRET) -> tuple[int, str]:
    form = {"sessionId": session, "serviceCode": "*123#", "phoneNumber": ALICE, "text": text}
    response = await treq.post(_url(service, 1, "/ussd/at"), data=form, headers={"X-Ussd-Secret": [secret]})
    return response.code, (await response.content()).decode()


async def _until(predicate: Any, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if await predicate():
            return
        await deferLater(reactor, 0.05, lambda: None)
    raise AssertionError("condition not reached")


@pytest_twisted.ensureDeferred
async def test_http_ussd_menu_places_a_callback_seen_by_metrics_and_readiness(running: RoambackService) -> None:
    assert (await _at(running, "", secret="wrong-secret-of-16-chars"))[0] == 401
    code, body = await _at(running, "")
    assert code == 200 and body.startswith("CON ") and "1 Call back a number" in body
    code, body = await _at(running, "1")
    assert code == 200 and body.startswith("CON ")
    code, body = await _at(running, "1*+4915112345678")
    assert code == 200 and body.startswith("END "), body

    parts = running.components
    assert parts is not None

    async def completed() -> bool:
        rows = await parts.db.read(lambda conn: conn.exec_driver_sql(
            "SELECT state, channel, destination FROM callback_requests").all())
        return [tuple(r) for r in rows] == [(RequestState.COMPLETED.value, "ussd", "+4915112345678")]

    await _until(completed)
    metrics = await (await treq.get(_url(running, 0, "/metrics"))).text()
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(metrics) for s in family.samples}
    assert samples[("roamback_calls_completed_total", ())] == 1.0
    assert samples[("roamback_requests_accepted_total", ())] == 1.0
    ready = await treq.get(_url(running, 0, "/readyz"))
    assert ready.code == 200  # nothing required by this configuration is down


@pytest_twisted.ensureDeferred
async def test_sighup_reload_keeps_the_running_menu_when_the_file_is_broken(running: RoambackService,
                                                                             tmp_path: Path) -> None:
    parts = running.components
    assert parts is not None and parts.menu is not None
    before = parts.menu.menu
    (tmp_path / "menu.yaml").write_text("screens: {start: {goto: nowhere}}\n", encoding="utf-8")
    await running.reload_menu()
    assert parts.menu.menu is before
    assert (await _at(running, ""))[1].startswith("CON ")  # still serving the old menu

    (tmp_path / "menu.yaml").write_text(default_menu_path().read_text(encoding="utf-8"), encoding="utf-8")
    await running.reload_menu()
    assert parts.menu.menu is not before


@pytest_twisted.ensureDeferred
async def test_readiness_follows_the_configured_smpp_link(tmp_path: Path) -> None:
    from roamback.demo_network import simnet_config, smpp_link
    from roamback.simnet import start_simnet

    base = _config(tmp_path)
    simnet = await start_simnet(simnet_config(base, "rdy-pass"), reactor)
    config = base.model_copy(update={"smpp": type(base.smpp)(links=[smpp_link(simnet.smpp_port.getHost().port,
                                                                               "rdy-pass")])})
    service = RoambackService(config, reactor)
    service.startService()
    await service.ready
    ready_url = _url(service, 0, "/readyz")

    async def readiness() -> tuple[int, dict[str, Any]]:
        response = await treq.get(ready_url)
        return response.code, await response.json()

    try:
        assert service.messaging is not None
        link = service.messaging.links["simnet"]

        async def bound() -> bool:
            return bool(link.bound)

        await _until(bound)
        code, body = await readiness()
        assert code == 200 and body["links"]["smpp/simnet"] == {"up": True, "required": True}
        await simnet.stop()  # the SMSC goes away: the bind is lost and readiness must say so

        async def not_ready() -> bool:
            return (await readiness())[0] == 503

        await _until(not_ready)
        code, body = await readiness()
        assert body["status"] == "not ready" and body["links"]["smpp/simnet"]["up"] is False
        assert (await treq.get(_url(service, 0, "/healthz"))).code == 200  # alive all the same
    finally:
        await service.stopService()
