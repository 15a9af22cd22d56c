"""The event socket connection: a Twisted protocol over ``EslParser``, kept up by a ``ClientService``.

On connect it answers ``auth/request`` with the password, subscribes to the JSON events the call flow
needs and only then reports itself connected, so a command is never sent on a socket that is not yet
authenticated. Replies are matched to commands by order (ESL has no correlation ids for them); a command
that gets no reply in time means the stream can no longer be trusted, so the connection is dropped and
the ``ClientService`` reconnects with backoff. Background jobs carry our own Job-UUID instead.
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any, Protocol

from twisted.application.internet import ClientService, backoffPolicy
from twisted.internet import defer, error
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import HostnameEndpoint
from twisted.internet.protocol import Factory
from twisted.internet.protocol import Protocol as TwistedProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from ._settings import EslSettings
from ._wire import EslMessage, EslParser, EslProtocolError, encode_command

log = Logger()

EVENTS = ("CHANNEL_ANSWER", "CHANNEL_BRIDGE", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_EXECUTE_COMPLETE",
          "BACKGROUND_JOB")


_NO_LINK = "-ERR no connection"


class EslError(Exception):
    """FreeSWITCH refused a command (``reply`` holds its -ERR text) or the connection could not carry it."""

    def __init__(self, command: str, reply: str) -> None:
        super().__init__(f"{command}: {reply}")
        self.reply = reply

    @property
    def disconnected(self) -> bool:
        """The command never got an answer: it may or may not have run; a re-sync will tell."""
        return self.reply == _NO_LINK

    @property
    def no_such_channel(self) -> bool:
        return "no such channel" in self.reply.lower() or "invalid session id" in self.reply.lower()


class EventSink(Protocol):
    def connected(self, client: EslClient) -> None: ...

    def disconnected(self) -> None: ...

    def event(self, event: dict[str, Any]) -> None: ...


class EslClient(TwistedProtocol):
    """One authenticated connection; ``api``/``bgapi``/``sendmsg`` return once FreeSWITCH replied."""

    factory: _EslFactory

    def __init__(self) -> None:
        self._parser = EslParser()
        self._waiting: deque[tuple[str, Deferred[EslMessage]]] = deque()
        self._ready = False

    # -- commands --------------------------------------------------------------------------------------

    async def api(self, command: str) -> str:
        """``api <command>``: its text, or EslError if it starts with -ERR / -USAGE."""
        reply = await self._send(f"api {command}")
        if not reply.ok:
            raise EslError(command.split(" ", 1)[0], reply.reply_text)
        return reply.body.decode("utf-8", "replace")

    async def bgapi(self, command: str, job_uuid: str) -> None:
        """``bgapi`` with our own Job-UUID; the result arrives later as a BACKGROUND_JOB event."""
        await self._checked(f"bgapi {command}", {"Job-UUID": job_uuid})

    async def execute(self, uuid: str, app: str, arg: str, event_uuid: str) -> None:
        """Queue ``app(arg)`` on a channel; CHANNEL_EXECUTE_COMPLETE carries ``event_uuid`` as Application-UUID.

        event-lock keeps queued applications strictly one after another on the channel.
        """
        headers = {"call-command": "execute", "execute-app-name": app, "execute-app-arg": arg,
                   "event-lock": "true", "Event-UUID": event_uuid}
        await self._checked(f"sendmsg {uuid}", headers)

    async def _checked(self, line: str, headers: dict[str, str]) -> None:
        reply = await self._send(line, headers)
        if not reply.ok:
            raise EslError(line.split(" ", 1)[0], reply.reply_text)

    def _send(self, line: str, headers: dict[str, str] | None = None) -> Deferred[EslMessage]:
        done: Deferred[EslMessage] = Deferred()
        if not self._ready:
            done.errback(EslError(line.split(" ", 1)[0], _NO_LINK))
            return done
        self._waiting.append((line, done))
        self.transport.write(encode_command(line, headers))
        done.addTimeout(self.factory.settings.request_timeout, self.factory.clock)
        done.addErrback(self._timed_out, line)
        return done

    def _timed_out(self, failure: Failure, line: str) -> Failure:
        if not failure.check(defer.TimeoutError):
            return failure
        # A reply that did not come would be taken as the next command's: nothing on this socket can be
        # matched any more. Drop it; the other pending commands fail too and the service reconnects.
        log.warn("FreeSWITCH did not reply to {command} in time; reconnecting", command=line.split(" ", 1)[0])
        self._abort()
        raise EslError(line.split(" ", 1)[0], _NO_LINK)

    # -- wire ------------------------------------------------------------------------------------------

    def dataReceived(self, data: bytes) -> None:
        try:
            messages = self._parser.receive_data(data)
        except EslProtocolError as exc:
            log.error("FreeSWITCH sent malformed ESL ({error}); reconnecting", error=exc)
            self._abort()
            return
        for message in messages:
            self._message(message)

    def _message(self, message: EslMessage) -> None:
        kind = message.content_type
        if kind == "auth/request":
            password = self.factory.settings.password.get_secret_value()
            self.transport.write(encode_command(f"auth {password}"))
        elif kind in ("command/reply", "api/response"):
            if not self._ready:
                self._handshake(message)
            elif self._waiting:
                _line, done = self._waiting.popleft()
                if not done.called:  # not timed out meanwhile
                    done.callback(message)
            else:
                log.warn("FreeSWITCH sent a reply nobody asked for; ignored")
        elif kind == "text/event-json":
            try:
                event = json.loads(message.body)
            except ValueError:
                log.warn("FreeSWITCH sent an event that is not JSON; ignored")
                return
            if isinstance(event, dict):
                self.factory.sink.event(event)
        # text/disconnect-notice: the close follows; anything else is not for us.

    def _handshake(self, reply: EslMessage) -> None:
        """Two replies before the connection is usable: to ``auth``, then to ``event json``."""
        if not reply.ok:
            # Never log the password; say only that it was refused (FreeSWITCH closes the socket anyway).
            log.error("FreeSWITCH refused the event socket login: {reply}", reply=reply.reply_text)
            self._abort()
        elif reply.reply_text == "+OK accepted":
            self.transport.write(encode_command("event json " + " ".join(EVENTS)))
        else:
            self._ready = True
            self.factory.sink.connected(self)

    def _abort(self) -> None:
        self.transport.abortConnection()

    def connectionLost(self, reason: Failure = error.ConnectionDone) -> None:  # type: ignore[assignment]
        # Not ready first: a failed command's caller may send the next one at once, and it must fail too
        # rather than wait on a dead socket for its timeout.
        was_ready, self._ready = self._ready, False
        if was_ready:
            self.factory.sink.disconnected()
        waiting, self._waiting = self._waiting, deque()
        for line, done in waiting:
            if not done.called:
                done.errback(EslError(line.split(" ", 1)[0], _NO_LINK))


class _EslFactory(Factory):
    protocol = EslClient

    def __init__(self, sink: EventSink, settings: EslSettings, clock: Any) -> None:
        self.sink = sink
        self.settings = settings
        self.clock = clock


def esl_service(reactor: Any, settings: EslSettings, sink: EventSink) -> ClientService:
    """A service that keeps one authenticated, subscribed connection, reconnecting with backoff."""
    factory = _EslFactory(sink, settings, reactor)
    endpoint = HostnameEndpoint(reactor, settings.host, settings.port)
    policy = backoffPolicy(initialDelay=0.1, maxDelay=settings.reconnect_max_seconds)
    return ClientService(endpoint, factory, retryPolicy=policy, clock=reactor)

