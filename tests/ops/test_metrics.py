"""/metrics, /healthz and /readyz on a real loopback port, after real call-backs through the engine."""

from __future__ import annotations

import json
from typing import Any

import pytest_twisted
import treq
from prometheus_client.parser import text_string_to_metric_families
from twisted.internet import reactor

from roamback.core.model import Channel
from roamback.core.reasons import FailureReason, RefusalReason
from roamback.ops.figures import OpsFigures
from roamback.ops.http import build_ops_site
from roamback.ops.metrics import Metrics

from ..core.harness import DEST_B_BUSY, DEST_OK, make_harness, roamer


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def _get(port: Any, path: str) -> tuple[int, bytes, str]:
    response = await treq.get(f"http://127.0.0.1:{port.getHost().port}{path}")
    body = await response.content()
    return response.code, body, response.headers.getRawHeaders("content-type", [""])[0]


@pytest_twisted.ensureDeferred
async def test_metrics_after_real_callbacks(sqlite_database) -> None:
    h = await make_harness(sqlite_database)
    figures = OpsFigures(clock=lambda: h.runtime.now().timestamp())
    h.engine.add_listener(figures.on_transition)
    metrics = Metrics(figures, db=sqlite_database, thread_pool=reactor.getThreadPool())
    port = reactor.listenTCP(0, build_ops_site(metrics), interface="127.0.0.1")
    try:
        await h.add_roamer(roamer(), credit_minor=1000)
        done = await h.finished(await h.submit(DEST_OK, channel=Channel.USSD))
        busy = await h.finished(await h.submit(DEST_B_BUSY, channel=Channel.SMS))
        refused = await h.submit("+881612345678", channel=Channel.SMS)  # blocked prefix
        code, body, content_type = await _get(port, "/metrics")
    finally:
        await port.stopListening()
    assert (done.state.value, busy.reason, refused.reason) == ("completed", "b_busy", "blocked_destination")
    assert code == 200 and content_type.startswith("text/plain")
    s = _samples(body.decode())
    assert s[("roamback_requests_triggers_total", (("channel", "ussd"),))] == 1
    assert s[("roamback_requests_triggers_total", (("channel", "sms"),))] == 2
    assert s[("roamback_requests_triggers_total", (("channel", "web"),))] == 0  # every channel, zeros too
    assert s[("roamback_requests_accepted_total", ())] == 2
    assert s[("roamback_requests_refused_total", (("reason", "blocked_destination"),))] == 1
    assert s[("roamback_requests_refused_total", (("reason", RefusalReason.NO_CREDIT.value),))] == 0
    assert s[("roamback_calls_completed_total", ())] == 1
    assert s[("roamback_calls_failed_total", (("reason", FailureReason.B_BUSY.value),))] == 1
    assert s[("roamback_calls_active", ())] == 0 and s[("roamback_calls_bridged", ())] == 0
    assert s[("roamback_calls_asr_ratio", ())] == 0.5  # one of two dialled call-backs was bridged
    assert 15 <= s[("roamback_calls_acd_seconds", ())] <= 25  # the simulated switch talks 20 s
    assert s[("roamback_requests_refusal_ratio", ())] == 1 / 3
    assert s[("roamback_requests_dialling_latency_seconds_count", ())] == 2
    assert s[("roamback_calls_bridged_duration_seconds_count", ())] == 1
    assert s[("roamback_db_write_batches_total", ())] >= 1
    assert s[("roamback_db_write_units_total", ())] >= s[("roamback_db_write_batches_total", ())]
    assert s[("roamback_db_write_queue_depth", ())] >= 0
    assert s[("roamback_threadpool_workers", ())] >= 0
    assert ("roamback_reactor_lag_seconds", ()) in s


@pytest_twisted.ensureDeferred
async def test_readiness_follows_the_required_links() -> None:
    figures = OpsFigures(clock=lambda: 0.0)
    state = {"bind": True, "peer": True}
    figures.register_link_state("smpp", "smsc-1", lambda: state["bind"])
    figures.register_link_state("diameter", "ocs-1", lambda: state["peer"])
    figures.register_link_state("smpp", "spare", lambda: False, required=False)
    port = reactor.listenTCP(0, build_ops_site(Metrics(figures)), interface="127.0.0.1")
    try:
        ready = await _get(port, "/readyz")
        state["peer"] = False
        not_ready = await _get(port, "/readyz")
        health = await _get(port, "/healthz")
        metrics = await _get(port, "/metrics")
    finally:
        await port.stopListening()
    assert ready[0] == 200
    assert json.loads(ready[1])["links"] == {
        "smpp/smsc-1": {"up": True, "required": True},
        "diameter/ocs-1": {"up": True, "required": True},
        "smpp/spare": {"up": False, "required": False},  # down, but not required: still ready
    }
    assert not_ready[0] == 503
    body = json.loads(not_ready[1])
    assert body["status"] == "not ready" and body["links"]["diameter/ocs-1"]["up"] is False
    assert health[0] == 200 and json.loads(health[1]) == {"status": "alive"}
    s = _samples(metrics[1].decode())
    assert s[("roamback_link_up", (("kind", "diameter"), ("name", "ocs-1")))] == 0
    assert s[("roamback_link_up", (("kind", "smpp"), ("name", "smsc-1")))] == 1


def test_a_provider_that_raises_counts_as_down() -> None:
    figures = OpsFigures(clock=lambda: 0.0)

    def broken() -> bool:
        raise RuntimeError("bind state unknown")

    figures.register_link_state("smpp", "smsc-1", broken)
    assert figures.ready() == (False, {"smpp/smsc-1": False})


def test_two_registries_do_not_collide() -> None:
    first, second = (Metrics(OpsFigures(clock=lambda: 0.0)) for _ in range(2))
    first.reactor_lag.set(0.25)
    assert b"roamback_reactor_lag_seconds 0.25" in first.render()
    assert b"roamback_reactor_lag_seconds 0.0" in second.render()
