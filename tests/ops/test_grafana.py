"""The shipped Grafana dashboard queries only metrics the service exposes, and every one of them."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from twisted.internet import reactor

from roamback.ops.figures import OpsFigures
from roamback.ops.metrics import Metrics

DASHBOARD = Path(__file__).parents[2] / "src" / "roamback" / "ops" / "grafana" / "roamback.json"


class _Db:
    batches = units = 0

    class _queue:
        @staticmethod
        def qsize() -> int:
            return 0


def _exposed_samples() -> set[str]:
    figures = OpsFigures(clock=lambda: 0.0)
    figures.register_link_state("smpp", "smsc-1", lambda: True)
    text = Metrics(figures, db=_Db(), thread_pool=reactor.getThreadPool()).render().decode()
    return {sample.name for family in text_string_to_metric_families(text) for sample in family.samples}


def test_dashboard_queries_exist_and_cover_every_family() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    queried = {name for expr in exprs for name in re.findall(r"\broamback_[a-z_]+", expr)}
    exposed = _exposed_samples()
    assert queried - exposed == set()
    families = {re.sub(r"_(total|bucket|count|sum|created)$", "", name) for name in exposed}
    assert families - {re.sub(r"_(total|bucket)$", "", name) for name in queried} == set()
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
