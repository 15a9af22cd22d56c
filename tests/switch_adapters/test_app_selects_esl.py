"""`switch.adapter: esl` in the configuration puts the FreeSWITCH adapter under the whole service: a call-back
asked through the HTTP API is placed on the strict fake FreeSWITCH (tests/switch_adapters/fake_esl.py; no
real FreeSWITCH can run here), bridged, ended by the destination, billed per leg and noticed."""

from __future__ import annotations

from pathlib import Path

import pytest_twisted
import treq
from twisted.internet import reactor
from twisted.internet.task import deferLater

from roamback.app import RoambackService
from roamback.config import Config
from roamback.demo_data import DEMO_SUBSCRIBERS
from roamback.runtime import TwistedRuntime
from roamback.switch_adapters.esl import EslSwitch

from .fake_esl import FakeEslServer, FakeFreeSwitch, Outcome

KEY = "esl-selection-test-key-0001"
DESTINATION = "+4915112345678"


@pytest_twisted.ensureDeferred
async def test_the_configured_esl_adapter_places_and_settles_a_callback(tmp_path: Path) -> None:
    fake = FakeFreeSwitch(TwistedRuntime(reactor), password="s3cret-pass", app_seconds=0.05)
    fake.default_outcome = Outcome(ring_seconds=0.1)
    fake.outcomes[DESTINATION.removeprefix("+")] = Outcome(ring_seconds=0.1, talk_seconds=1.0)  # dialled as digits
    server = FakeEslServer(fake)
    await server.start(reactor)
    config = Config.model_validate({
        "database": {"url": f"sqlite:///{tmp_path / 'esl.sqlite'}"},
        "api": {"listen": "tcp:0:interface=127.0.0.1", "keys": [{"name": "test", "key": KEY}]},
        "metrics": {"enabled": False},
        "policy": {"cooldown_seconds": 0},
        "switch": {"adapter": "esl", "esl": {
            "port": server.port, "password": "s3cret-pass", "backstop_seconds": 3.0,
            "routes": [{"prefix": "", "dial_string": "sofia/gateway/trunk/{number}"}]}},
    })
    service = RoambackService(config, reactor)
    service.startService()
    parts = await service.ready
    try:
        assert isinstance(parts.switch, EslSwitch)
        url = f"http://127.0.0.1:{service.ports[-1].getHost().port}/api/v1/callbacks"
        response = await treq.post(url, json={"requester": DEMO_SUBSCRIBERS["alice"], "destination": DESTINATION},
                                   headers={"X-API-Key": [KEY]})
        assert response.code == 201, await response.text()
        request_id = (await response.json())["id"]
        for _ in range(200):
            request = await parts.engine.get(request_id)
            if request is not None and request.state.value in ("completed", "failed"):
                break
            await deferLater(reactor, 0.05, lambda: None)
        assert request is not None and request.state.value == "completed", request
        legs = await parts.db.read(lambda conn: conn.exec_driver_sql(
            "SELECT leg, dialled, cause, billed_seconds FROM call_legs ORDER BY leg").all())
        assert [(leg, number, cause) for leg, number, cause, _ in legs] == [
            ("A", DEMO_SUBSCRIBERS["alice"], "normal"), ("B", DESTINATION, "normal")]
        assert all(billed > 0 for *_, billed in legs)
        assert fake.violations == []
    finally:
        await service.stopService()
        await server.stop()
