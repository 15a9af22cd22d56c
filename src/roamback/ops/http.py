"""The operations HTTP endpoints: ``/metrics``, ``/healthz`` and ``/readyz``.

They are split the way load balancers and Kubernetes use them: ``/healthz`` answers 200 whenever the
process can run a request handler (restart me if not), ``/readyz`` answers 200 only when every required
link or peer is up (send me traffic only then), with the state of each as JSON so the operator sees
which one is missing. The resource can be mounted beside the API (``root.putChild(b"ops", ...)``) or
served alone with ``build_ops_site``; no endpoint takes input or exposes personal data.
"""

from __future__ import annotations

import json

from twisted.web.resource import Resource
from twisted.web.server import Request, Site

from .figures import OpsFigures
from .metrics import CONTENT_TYPE, Metrics


class _Leaf(Resource):
    isLeaf = True


class _MetricsPage(_Leaf):
    def __init__(self, metrics: Metrics) -> None:
        super().__init__()
        self._metrics = metrics

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"content-type", CONTENT_TYPE.encode())
        return self._metrics.render()


def _json(request: Request, status: int, body: dict[str, object]) -> bytes:
    request.setResponseCode(status)
    request.setHeader(b"content-type", b"application/json")
    request.setHeader(b"cache-control", b"no-store")
    return json.dumps(body, sort_keys=True).encode()


class _Health(_Leaf):
    def render_GET(self, request: Request) -> bytes:
        return _json(request, 200, {"status": "alive"})


class _Ready(_Leaf):
    def __init__(self, figures: OpsFigures) -> None:
        super().__init__()
        self._figures = figures

    def render_GET(self, request: Request) -> bytes:
        ready, links = self._figures.ready()
        required = {f"{link.kind}/{link.name}" for link in self._figures.links if link.required}
        body = {
            "status": "ready" if ready else "not ready",
            "links": {name: {"up": up, "required": name in required} for name, up in links.items()},
        }
        return _json(request, 200 if ready else 503, body)


def ops_resource(metrics: Metrics) -> Resource:
    """A resource with ``metrics``, ``healthz`` and ``readyz`` children, to mount wherever fits."""
    root = Resource()
    root.putChild(b"metrics", _MetricsPage(metrics))
    root.putChild(b"healthz", _Health())
    root.putChild(b"readyz", _Ready(metrics.figures))
    return root


def build_ops_site(metrics: Metrics) -> Site:
    """The endpoints at the root of their own Site, for a separate (usually internal-only) port."""
    site = Site(ops_resource(metrics))
    site.displayTracebacks = False
    return site
