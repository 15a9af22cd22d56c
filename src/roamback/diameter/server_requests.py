"""Requests the OCS sends us: Re-Auth (RAR, RFC 4006 5.5) and Abort-Session (ASR, RFC 6733 8.5).

Each is answered at once, from what we know synchronously; the work it asks for (a CCR-U, a hang-up)
starts on the next reactor turn, so the answer goes out before the CCR-U and the OCS never sees a CCR-U
for a RAR it has not yet had answered.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from ..core.model import Grant, Leg
from .codec import Message, encode, encode_answer
from .dictionary import Command, ResultCode, avp
from .settings import RoSettings

if TYPE_CHECKING:
    from .ro import RoSessionListener

log = Logger()

Reauthorise = Callable[[str, dict[Leg, int] | None], Awaitable[Grant | None]]


class ServerRequests:
    def __init__(
        self, settings: RoSettings, known: Callable[[str], bool], reauthorise: Reauthorise,
        schedule: Callable[[Callable[[], None]], object],
    ) -> None:
        self.listener: RoSessionListener | None = None
        self._known = known
        self._reauthorise = reauthorise
        self._schedule = schedule
        self._origin = (encode(avp("Origin-Host"), settings.origin_host),
                        encode(avp("Origin-Realm"), settings.origin_realm))

    def handle(self, peer: str, message: Message) -> bytes:
        """The encoded answer to ``message``; follow-up work is scheduled, never run inside."""
        session = message.text(263)
        if message.command == Command.RE_AUTH:
            code = self._on_reauth(session)
        elif message.command == Command.ABORT_SESSION:
            code = self._on_abort(session)
        else:
            return self._answer(message, session, ResultCode.COMMAND_UNSUPPORTED, error=True)
        return self._answer(message, session, code)

    def _on_reauth(self, session: str | None) -> ResultCode:
        if session is None or not self._known(session):
            return ResultCode.UNKNOWN_SESSION_ID
        self._schedule(lambda: self._start_reauth(session))
        return ResultCode.SUCCESS

    def _on_abort(self, session: str | None) -> ResultCode:
        if session is None or not self._known(session):
            return ResultCode.UNKNOWN_SESSION_ID
        listener = self.listener
        if listener is None:
            log.error("ASR for {session} but nothing can hang up the call: answering UNABLE_TO_COMPLY",
                      session=session)
            return ResultCode.UNABLE_TO_COMPLY
        self._schedule(lambda: listener.abort_requested(session))
        return ResultCode.SUCCESS

    def _start_reauth(self, session: str) -> None:
        usage = self.listener.current_usage(session) if self.listener is not None else None
        done = Deferred.fromCoroutine(self._reauth(session, usage))
        done.addErrback(lambda failure: log.failure("CCR-U after RAR for {session}", failure, session=session))

    async def _reauth(self, session: str, usage: dict[Leg, int] | None) -> None:
        grant = await self._reauthorise(session, usage)
        if grant is not None and self.listener is not None:
            self.listener.grant_changed(session, grant)

    def _answer(self, request: Message, session: str | None, code: ResultCode, *, error: bool = False) -> bytes:
        avps = [encode(avp("Session-Id"), session)] if session is not None else []
        avps += (encode(avp("Result-Code"), code), *self._origin)
        return encode_answer(request, avps, error=error)
