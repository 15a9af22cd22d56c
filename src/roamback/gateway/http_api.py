"""The HTTP front door: partners and the operator's own portals submit and follow callbacks here.

It only translates: HTTP and JSON in, a ``CallbackTrigger`` to the engine, the engine's decision back
out. Every business rule (who may call whom, how long) stays in the core, so this door refuses exactly
what the USSD and SMS doors refuse. A refusal is a recorded outcome, not a client error, and is answered
200 with the request; only a malformed call (or a number the core could not read, which the client can
fix) is a 4xx.

API keys are stored as sha256 digests only, so a leaked configuration file does not leak the keys;
presented keys are compared in constant time and never written to any log.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site

from ..core.model import CallbackRequest, CallbackTrigger
from ..core.reasons import RefusalReason
from ..core.states import RequestState
from ._callback_json import InvalidInput, parse_trigger, request_json

log = Logger()

MAX_BODY_BYTES = 8 * 1024
_MAX_ID_LENGTH = 100
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_COLLECTION_PATH = "/api/v1/callbacks"


class CallbackEngine(Protocol):
    """The part of the core engine a front door uses."""

    async def submit(self, trigger: CallbackTrigger) -> CallbackRequest: ...

    async def get(self, request_id: str) -> CallbackRequest | None: ...

    def describe(self, request: CallbackRequest) -> str: ...


def build_api_site(engine: CallbackEngine, api_key_hashes: Mapping[str, str]) -> Site:
    """The API as a Site; ``api_key_hashes`` maps the sha256 hex digest of each key to the key's name."""
    keys = _ApiKeys(api_key_hashes)
    root = _JsonResource()
    api = _JsonResource()
    v1 = _JsonResource()
    root.putChild(b"api", api)
    api.putChild(b"v1", v1)
    v1.putChild(b"callbacks", _Callbacks(engine, keys))
    site = Site(root)
    site.displayTracebacks = False
    return site


@dataclass(frozen=True, slots=True)
class _Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class _Problem(Exception):
    """A response other than success, raised from anywhere in a handler."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        error: dict[str, Any] = {"code": code, "message": message}
        if field is not None:
            error["field"] = field
        self.reply = _Reply(status, {"error": error}, dict(headers or {}))


_NOT_FOUND = _Reply(404, {"error": {"code": "not_found", "message": "no such resource"}})


class _ApiKeys:
    def __init__(self, hashes: Mapping[str, str]) -> None:
        entries = []
        for digest, name in hashes.items():
            normalised = digest.strip().lower()
            if not _SHA256_HEX.fullmatch(normalised):
                # Name the key, never echo the value: it might be a raw key pasted by mistake.
                raise ValueError(f"API key {name!r}: expected the sha256 hex digest of the key")
            entries.append((normalised, name))
        self._entries = tuple(entries)

    def identify(self, request: Request) -> str:
        """The name of the presented key; raise 401 if none or unknown."""
        key = _presented_key(request)
        name = None
        if key is not None:
            digest = hashlib.sha256(key).hexdigest()
            for known, known_name in self._entries:  # no early exit: timing must not tell which matched
                if hmac.compare_digest(digest, known):
                    name = known_name
        if name is None:
            raise _Problem(
                401, "unauthorized", "a valid API key is required", headers={"WWW-Authenticate": "Bearer"}
            )
        return name


def _presented_key(request: Request) -> bytes | None:
    authorization = request.getHeader(b"authorization")
    if authorization is not None:
        scheme, _, token = authorization.partition(b" ")
        if scheme.lower() == b"bearer" and token.strip():
            return token.strip()
    key = request.getHeader(b"x-api-key")
    return key.strip() if key and key.strip() else None


Handler = Callable[[Request], Awaitable[_Reply]]


class _JsonResource(Resource):
    """A node of the API tree: JSON 404 for unknown children, JSON 405 for unsupported methods."""

    def handlers(self) -> dict[bytes, Handler]:
        return {}

    def getChild(self, path: bytes, request: Request) -> Resource:
        return _Fixed(_NOT_FOUND)

    def render(self, request: Request) -> bytes | int:
        handlers = self.handlers()
        handler = handlers.get(request.method)
        if handler is None:
            if not handlers:
                return _write(request, _NOT_FOUND)
            allow = ", ".join(sorted(m.decode() for m in handlers))
            problem = _Problem(405, "method_not_allowed", f"use {allow}", headers={"Allow": allow})
            return _write(request, problem.reply)
        lost: list[Failure] = []
        request.notifyFinish().addErrback(lost.append)
        Deferred.fromCoroutine(_serve(request, handler, lost))
        return NOT_DONE_YET


class _Fixed(Resource):
    isLeaf = True

    def __init__(self, reply: _Reply) -> None:
        super().__init__()
        self._reply = reply

    def render(self, request: Request) -> bytes:
        return _write(request, self._reply)


async def _serve(request: Request, handler: Handler, lost: list[Failure]) -> None:
    try:
        reply = await handler(request)
    except _Problem as problem:
        reply = problem.reply
    except Exception:
        # The client learns nothing of the internals; the operator gets the traceback.
        log.failure(
            "API {method} {path} failed",
            method=request.method.decode("ascii", "replace"),
            path=request.path.decode("utf-8", "replace"),
        )
        reply = _Problem(500, "internal_error", "the request could not be processed").reply
    if lost:
        log.info("API client went away before the {status} reply", status=reply.status)
        return
    request.write(_write(request, reply))
    request.finish()


def _write(request: Request, reply: _Reply) -> bytes:
    """Set status and headers; return the body for the caller to write (Twisted renders it that way)."""
    request.setResponseCode(reply.status)
    request.setHeader(b"content-type", b"application/json; charset=utf-8")
    request.setHeader(b"cache-control", b"no-store")
    request.setHeader(b"x-content-type-options", b"nosniff")
    for name, value in reply.headers.items():
        request.setHeader(name.encode(), value.encode())
    return json.dumps(reply.body, ensure_ascii=False).encode("utf-8")


class _Callbacks(_JsonResource):
    """``/api/v1/callbacks``: POST submits a request; its children are the requests."""

    def __init__(self, engine: CallbackEngine, keys: _ApiKeys) -> None:
        super().__init__()
        self._engine = engine
        self._keys = keys

    def handlers(self) -> dict[bytes, Handler]:
        return {b"POST": self._submit}

    def getChild(self, path: bytes, request: Request) -> Resource:
        try:
            request_id = path.decode("utf-8")
        except UnicodeDecodeError:
            request_id = ""
        if not request_id or len(request_id) > _MAX_ID_LENGTH or not request_id.isprintable():
            return _Fixed(_NOT_FOUND)
        return _OneCallback(self._engine, self._keys, request_id)

    async def _submit(self, request: Request) -> _Reply:
        client = self._keys.identify(request)
        body = request.content.read(MAX_BODY_BYTES + 1)
        if len(body) > MAX_BODY_BYTES:
            raise _Problem(413, "invalid_request", f"the body must be at most {MAX_BODY_BYTES} bytes")
        try:
            trigger = parse_trigger(body)
        except InvalidInput as invalid:
            raise _Problem(400, "invalid_request", invalid.message, invalid.field) from None
        created = await self._engine.submit(trigger)
        message = self._engine.describe(created)
        log.info(
            "API client {client} submitted callback {request_id}: {state}",
            client=client,
            request_id=created.id,
            state=created.state.value,
        )
        if created.state is RequestState.REFUSED:
            if created.reason == RefusalReason.INVALID_NUMBER:
                # The client can fix this one: point at the field the core could not read.
                raise _Problem(400, "invalid_number", message, created.detail)
            return _Reply(200, request_json(created, message))
        location = f"{_COLLECTION_PATH}/{quote(created.id, safe='')}"
        return _Reply(201, request_json(created, message), {"Location": location})


class _OneCallback(_JsonResource):
    """``/api/v1/callbacks/{id}``: the request with its legs, as the service recorded them."""

    def __init__(self, engine: CallbackEngine, keys: _ApiKeys, request_id: str) -> None:
        super().__init__()
        self._engine = engine
        self._keys = keys
        self._request_id = request_id

    def handlers(self) -> dict[bytes, Handler]:
        return {b"GET": self._get}

    async def _get(self, request: Request) -> _Reply:
        self._keys.identify(request)
        found = await self._engine.get(self._request_id)
        if found is None:
            return _NOT_FOUND
        return _Reply(200, request_json(found, self._engine.describe(found)))
