"""The HTTP USSD front door: aggregators that relay a USSD dialogue as one HTTP request per step.

Two wire forms drive the same menu engine (it only translates, like every door):

- Africa's Talking style: a form POST with ``sessionId``, ``serviceCode``, ``phoneNumber`` and ``text``, the
  subscriber's answers so far joined with ``*`` (``""`` on the first request). The reply body is
  ``CON <page>`` to continue or ``END <text>`` to close. Answers already consumed are counted in the dialogue
  state (``MenuEngine.position``), so a resent request shows the same page instead of answering twice, and
  ``*123*<number>#`` (which arrives as a first ``text``) is the one-shot call-back.
- JSON (Hubtel/Nalo style): ``{"sessionId", "msisdn", "serviceCode", "text", "new"}`` where ``text`` is the
  latest answer only (or the dialled string when ``new``); the reply is ``{"text", "continue"}``.

Access: a shared secret in a header (stored as its sha256 digest, compared in constant time, never logged)
and/or a source IP allow-list. With neither configured every call is refused: a door that places calls is
never open by default. A malformed call is answered 400 with a message saying which field is wrong.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from ..ussd_menus.session import MenuSession, Screen
from .ussd.oneshot import normalise_service_code

log = Logger()

MAX_BODY_BYTES = 4096
_SESSIONS_KEPT = 100_000  # aggregator session ids remembered: far more than live in one dialogue timeout
_MSISDN = re.compile(r"\+?[0-9]{6,15}")
_SESSION_ID = re.compile(r"[\x21-\x7e]{1,100}")


class MenuDoor(Protocol):
    """What the door needs of ``roamback.ussd_menus.MenuEngine``."""

    async def begin(self, session: MenuSession, dialled: str) -> Screen: ...

    async def answer(self, session: MenuSession, text: str) -> Screen: ...

    async def current(self, session: MenuSession) -> Screen: ...

    async def position(self, session_id: str) -> int | None: ...


@dataclass(frozen=True, slots=True)
class HttpUssdSettings:
    secret_sha256: str | None = None  # hex digest of the shared secret the aggregator sends
    secret_header: str = "X-Ussd-Secret"
    allow_from: tuple[str, ...] = ()  # networks (CIDR) allowed to call, e.g. the aggregator's egress range

    def networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(net, strict=False) for net in self.allow_from)


class BadInput(ValueError):
    """The caller's mistake: answered 400 with this message."""


class UssdFrontDoor(Resource):
    isLeaf = True

    def __init__(self, engine: MenuDoor, settings: HttpUssdSettings) -> None:
        super().__init__()
        self._engine = engine
        self._settings = settings
        self._networks = settings.networks()
        self._begun: OrderedDict[str, None] = OrderedDict()  # form sessions this door has opened
        if settings.secret_sha256 is not None and not re.fullmatch(r"[0-9a-f]{64}", settings.secret_sha256):
            raise ValueError("secret_sha256 must be the 64-character lower-case hex sha256 of the secret")

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"allow", b"POST")
        return _plain(request, 405, "use POST")

    def render_POST(self, request: Request) -> bytes | int:
        refusal = self._refusal(request)
        if refusal is not None:
            return _plain(request, *refusal)
        body = request.content.read(MAX_BODY_BYTES + 1) if request.content is not None else b""
        if len(body) > MAX_BODY_BYTES:
            return _plain(request, 400, f"body larger than {MAX_BODY_BYTES} bytes")
        kind = (request.getHeader("content-type") or "").split(";")[0].strip().lower()
        handlers: dict[str, Callable[[bytes], Awaitable[tuple[str, bytes]]]] = {
            "application/x-www-form-urlencoded": self._form, "application/json": self._json}
        handler = handlers.get(kind)
        if handler is None:
            return _plain(request, 415, "send application/x-www-form-urlencoded or application/json")
        Deferred.fromCoroutine(handler(body)).addCallbacks(
            lambda reply: _finish(request, 200, *reply), lambda failure: _failed(request, failure))
        return NOT_DONE_YET

    def _refusal(self, request: Request) -> tuple[int, str] | None:
        settings = self._settings
        if settings.secret_sha256 is None and not self._networks:
            return 403, "this front door has no secret and no allowed network configured"
        if self._networks:
            try:
                address = ipaddress.ip_address(request.getClientAddress().host)
            except (ValueError, AttributeError):
                return 403, "caller address not allowed"
            if not any(address in network for network in self._networks):
                return 403, "caller address not allowed"
        if settings.secret_sha256 is not None:
            presented = request.getHeader(settings.secret_header) or ""
            digest = hashlib.sha256(presented.encode()).hexdigest()
            if not hmac.compare_digest(digest, settings.secret_sha256):
                return 401, f"missing or wrong {settings.secret_header}"
        return None

    # -- Africa's Talking style --------------------------------------------------------------------

    async def _form(self, body: bytes) -> tuple[str, bytes]:
        fields = _form_fields(body)
        session = MenuSession(f"at:{_session_id(fields.get('sessionId'))}", _msisdn(fields.get("phoneNumber")))
        code = _service_code(fields.get("serviceCode"))
        text = _field(fields.get("text"), "text")
        screen = await self._cumulative(session, code, text.split("*") if text else [])
        return "text/plain; charset=utf-8", f"{'END' if screen.close else 'CON'} {screen.text}".encode()

    async def _cumulative(self, session: MenuSession, code: str, parts: list[str]) -> Screen:
        """Feed only the answers not consumed yet; none new means the aggregator resent the last step."""
        seen = await self._engine.position(session.id)
        if seen is None:
            # Answers for a dialogue we no longer have (timed out, or closed and resent): say so. One answer
            # looks like a one-shot dial, so only a session this door never opened may be read as one;
            # otherwise a late "2" would call phone book entry 2, and a resent one-shot would call twice.
            if len(parts) > 1 or session.id in self._begun:
                return await self._engine.answer(session, "")
            self._remember(session.id)
            return await self._engine.begin(session, "*" + "*".join([code, *parts]) + "#")
        new = parts[seen:]
        if not new:
            return await self._engine.current(session)
        for answer in new:
            screen = await self._engine.answer(session, answer)
            if screen.close:
                break
        return screen

    def _remember(self, session_id: str) -> None:
        self._begun[session_id] = None
        if len(self._begun) > _SESSIONS_KEPT:
            self._begun.popitem(last=False)

    # -- JSON --------------------------------------------------------------------------------------

    async def _json(self, body: bytes) -> tuple[str, bytes]:
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadInput(f"body is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise BadInput("body must be a JSON object")
        session = MenuSession(f"json:{_session_id(data.get('sessionId'))}", _msisdn(data.get("msisdn")))
        code = _service_code(data.get("serviceCode"))
        text, new = _field(data.get("text", ""), "text"), data.get("new")
        if not isinstance(new, bool):
            raise BadInput("field 'new' must be true or false")
        if new:
            dialled = text if text.startswith("*") else "*" + "*".join([code, *([text] if text else [])]) + "#"
            screen = await self._engine.begin(session, dialled)
        else:
            screen = await self._engine.answer(session, text)
        reply = {"text": screen.text, "continue": not screen.close}
        return "application/json", json.dumps(reply, ensure_ascii=False).encode()


def _form_fields(body: bytes) -> dict[str, str]:
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadInput(f"form body is not valid: {exc}") from None
    return {name: values[0] for name, values in parsed.items()}


def _field(value: Any, name: str) -> str:
    if value is None:
        raise BadInput(f"field {name!r} is missing")
    if not isinstance(value, str):
        raise BadInput(f"field {name!r} must be a string")
    if len(value) > 500:
        raise BadInput(f"field {name!r} is longer than 500 characters")
    return value


def _session_id(value: Any) -> str:
    text = _field(value, "sessionId")
    if not _SESSION_ID.fullmatch(text):
        raise BadInput("field 'sessionId' must be 1 to 100 printable ASCII characters")
    return text


def _msisdn(value: Any) -> str:
    """The network-asserted number, as ``+digits``; aggregators send it with or without the '+'."""
    text = re.sub(r"[\s-]", "", _field(value, "msisdn/phoneNumber"))
    if not _MSISDN.fullmatch(text):
        raise BadInput("the subscriber number must be 6 to 15 digits, optionally after '+'")
    return text if text.startswith("+") else f"+{text}"


def _service_code(value: Any) -> str:
    try:
        return normalise_service_code(_field(value, "serviceCode"))
    except ValueError as exc:
        raise BadInput(str(exc)) from None


def _plain(request: Request, status: int, message: str) -> bytes:
    request.setResponseCode(status)
    request.setHeader(b"content-type", b"text/plain; charset=utf-8")
    return message.encode() + b"\n"


def _finish(request: Request, status: int, content_type: str, body: bytes) -> None:
    if request._disconnected:  # the aggregator gave up waiting; nothing to write to
        return
    request.setResponseCode(status)
    request.setHeader(b"content-type", content_type.encode())
    request.write(body)
    request.finish()


def _failed(request: Request, failure: Failure) -> None:
    if failure.check(BadInput):
        _finish(request, 400, "text/plain; charset=utf-8", str(failure.value).encode() + b"\n")
        return
    log.failure("USSD HTTP request failed", failure)
    _finish(request, 500, "text/plain; charset=utf-8", b"internal error\n")
