"""``core.ports.SwitchAdapter`` over a RabbitMQ bus: commands out, leg events in, nothing lost.

Commands are persistent messages on a durable queue, published with publisher confirms: ``originate``
returns once the broker has taken responsibility for the command, retrying over reconnections until
``publish_timeout`` (a resend after an unconfirmed publish may duplicate it: the switch dedupes on
``command_id``). Events are consumed with manual acks, each acked only after every listener has seen
it, so a connection or broker lost mid-stream gets them redelivered; ``event_id`` makes that harmless.
The connection is a pika ``TwistedProtocolConnection`` kept up by a ``ClientService``.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import pika
from pika.adapters.twisted_connection import TwistedChannel, TwistedProtocolConnection
from pika.exceptions import AMQPError, NackError, UnroutableError
from twisted.application.internet import ClientService, backoffPolicy
from twisted.application.service import Service
from twisted.internet.defer import Deferred, TimeoutError, succeed
from twisted.internet.endpoints import HostnameEndpoint
from twisted.internet.protocol import Factory
from twisted.logger import Logger

from ...core.model import CallPlan, LegEvent, LegEventKind
from ...core.ports import PortUnavailable, Runtime
from ...runtime import TwistedRuntime
from ._messages import BadMessage, decode_event, hangup_command, originate_command, set_limits_command
from ._settings import AmqpBusSettings

log = Logger()

_REMEMBER_EVENTS = 100_000  # event ids kept to drop redeliveries of events already handed on


class _Connection(TwistedProtocolConnection):
    bus: AmqpSwitchBus

    def connectionReady(self) -> Any:
        result = super().connectionReady()
        self.bus._opened(self)
        return result

    def connectionLost(self, reason: Any = None) -> None:
        super().connectionLost(reason)
        self.bus._lost(self)


class _ConnectionFactory(Factory):
    def __init__(self, bus: AmqpSwitchBus, parameters: pika.ConnectionParameters) -> None:
        self.bus = bus
        self.parameters = parameters

    def buildProtocol(self, addr: Any) -> _Connection:
        connection = _Connection(self.parameters)
        connection.bus = self.bus
        connection.factory = self
        return connection


class AmqpSwitchBus(Service):
    """Build with ``AmqpSwitchBus(reactor, settings)``; start it (or add it to the service tree)."""

    def __init__(self, reactor: Any, settings: AmqpBusSettings, runtime: Runtime | None = None) -> None:
        self._reactor = reactor
        self._settings = settings
        self._runtime = runtime or TwistedRuntime(reactor)
        parameters = pika.ConnectionParameters(
            host=settings.host, port=settings.port, virtual_host=settings.virtual_host,
            credentials=pika.PlainCredentials(settings.username, settings.password.get_secret_value()),
            heartbeat=settings.heartbeat,
        )
        self._client = ClientService(
            HostnameEndpoint(reactor, settings.host, settings.port), _ConnectionFactory(self, parameters),
            retryPolicy=backoffPolicy(initialDelay=0.1, maxDelay=settings.reconnect_max_seconds), clock=reactor,
        )
        self._connection: _Connection | None = None
        self._channel: TwistedChannel | None = None
        self._channel_waiters: list[Deferred[TwistedChannel]] = []
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._live: set[str] = set()
        self._listeners: list[Callable[[LegEvent], None]] = []

    # -- service ----------------------------------------------------------------------------------------

    def startService(self) -> None:
        super().startService()
        self._client.startService()

    def stopService(self) -> Deferred[None]:
        super().stopService()
        return Deferred.fromCoroutine(self._stop())

    async def _stop(self) -> None:
        connection, self._channel = self._connection, None
        if connection is not None and connection.is_open:
            closed = connection.close()
            if closed is not None:
                await closed
        await self._client.stopService()

    # -- SwitchAdapter ----------------------------------------------------------------------------------

    def subscribe(self, listener: Callable[[LegEvent], None]) -> None:
        self._listeners.append(listener)

    async def originate(self, plan: CallPlan) -> None:
        if plan.call_id in self._live:
            raise ValueError(f"call {plan.call_id} is already live")
        await self._publish(originate_command(plan, self._runtime.now()))
        self._live.add(plan.call_id)

    async def hangup(self, call_id: str) -> None:
        await self._publish(hangup_command(call_id, self._runtime.now()))

    async def set_limits(self, call_id: str, leg_a_limit: int, leg_b_limit: int) -> None:
        await self._publish(set_limits_command(call_id, leg_a_limit, leg_b_limit, self._runtime.now()))

    async def live_calls(self) -> set[str]:
        """Calls commanded or reported by the switch and not yet ended, as far as this process saw."""
        return set(self._live)

    # -- publishing -------------------------------------------------------------------------------------

    async def _publish(self, message: dict[str, Any]) -> None:
        """Publish until the broker confirms; a lost connection means try again on the next one."""
        body = json.dumps(message).encode()
        properties = pika.BasicProperties(content_type="application/json", delivery_mode=2,
                                          message_id=message["command_id"], type=message["type"])
        deadline = self._reactor.seconds() + self._settings.publish_timeout
        while (remaining := deadline - self._reactor.seconds()) > 0:
            channel: TwistedChannel | None = None
            try:
                channel = await self._with_timeout(self._wait_channel(), remaining)
                confirmed = channel.basic_publish(exchange="", routing_key=self._settings.command_queue, body=body,
                                                  properties=properties, mandatory=True)
                await self._with_timeout(confirmed, deadline - self._reactor.seconds())
                return
            except (NackError, UnroutableError) as exc:
                raise PortUnavailable(f"broker refused the {message['type']} command: {exc!r}") from exc
            except AMQPError as exc:
                log.info("Command publish interrupted ({error}); retrying on the next connection", error=exc)
                self._drop_channel(channel)
            except TimeoutError:
                break
        raise PortUnavailable(f"{message['type']} command not confirmed within {self._settings.publish_timeout} s")

    def _with_timeout(self, deferred: Deferred[Any], seconds: float) -> Deferred[Any]:
        return deferred.addTimeout(max(seconds, 0.001), self._reactor)

    def _wait_channel(self) -> Deferred[TwistedChannel]:
        if self._channel is not None:
            return succeed(self._channel)
        waiter: Deferred[TwistedChannel] = Deferred()
        self._channel_waiters.append(waiter)
        return waiter

    # -- connection life --------------------------------------------------------------------------------

    def _opened(self, connection: _Connection) -> None:
        self._connection = connection
        Deferred.fromCoroutine(self._session(connection)).addErrback(self._session_failed, connection)

    def _session_failed(self, failure: Any, connection: _Connection) -> None:
        log.failure("AMQP session set-up failed; reconnecting", failure)
        if connection.transport is not None:
            connection.transport.loseConnection()

    def _lost(self, connection: _Connection) -> None:
        if self._connection is connection:
            self._connection = self._channel = None
            if self.running:
                log.warn("AMQP connection lost; reconnecting")

    async def _session(self, connection: _Connection) -> None:
        """Declare the topology, start consuming events, then serve publishers until the channel closes."""
        channel: TwistedChannel = await connection.channel()
        await channel.confirm_delivery()
        for queue in (self._settings.command_queue, self._settings.event_queue):
            await channel.queue_declare(queue=queue, durable=True)
        await channel.basic_qos(prefetch_count=self._settings.prefetch)
        events, _tag = await channel.basic_consume(queue=self._settings.event_queue, auto_ack=False)
        self._channel = channel
        waiters, self._channel_waiters = self._channel_waiters, []
        for waiter in waiters:
            if not waiter.called:
                waiter.callback(channel)
        try:
            while True:
                _ch, method, _properties, body = await events.get()
                self._on_message(channel, method.delivery_tag, body)
        except AMQPError:
            pass  # channel closed or consumer cancelled: the next connection starts a new session
        finally:
            self._drop_channel(channel)

    def _drop_channel(self, channel: TwistedChannel | None) -> None:
        """A dead channel on a live connection would neither consume nor publish: drop the connection so
        the ClientService reconnects, and make publishers wait for the new channel instead of spinning."""
        if channel is None or self._channel is not channel:
            return
        self._channel = None
        connection = self._connection
        if connection is not None and connection.transport is not None:
            connection.transport.loseConnection()

    def _on_message(self, channel: TwistedChannel, tag: int, body: bytes) -> None:
        try:
            event_id, event = decode_event(body)
        except BadMessage as exc:
            # Requeueing would loop it forever; rejected, it goes to the queue's dead-letter exchange if any.
            log.error("Rejected a malformed leg event: {error}", error=exc)
            channel.basic_reject(delivery_tag=tag, requeue=False)
            return
        if event_id not in self._seen:
            self._remember(event_id)
            self._deliver(event)
        channel.basic_ack(delivery_tag=tag)

    def _remember(self, event_id: str) -> None:
        self._seen[event_id] = None
        while len(self._seen) > _REMEMBER_EVENTS:
            self._seen.popitem(last=False)

    def _deliver(self, event: LegEvent) -> None:
        if event.kind is LegEventKind.CALL_ENDED:
            self._live.discard(event.call_id)
        else:
            self._live.add(event.call_id)
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                log.failure("Leg event listener failed on {event}", event=event)
