"""A test-side switch on the real RabbitMQ: pika's blocking API in a worker thread, independent of the
adapter's Twisted client. Every message it reads or writes is checked against the shipped JSON Schemas."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from typing import Any

import jsonschema
import pika
import pytest

from roamback.switch_adapters.amqp_bus import schema

PARAMS = pika.ConnectionParameters("127.0.0.1", 5672, "/", pika.PlainCredentials("guest", "guest"),
                                   connection_attempts=1, socket_timeout=2)
COMMAND_SCHEMA = jsonschema.Draft202012Validator(schema("command"), format_checker=jsonschema.FormatChecker())
EVENT_SCHEMA = jsonschema.Draft202012Validator(schema("leg_event"), format_checker=jsonschema.FormatChecker())


def require_broker() -> None:
    try:
        pika.BlockingConnection(PARAMS).close()
    except pika.exceptions.AMQPError as exc:
        message = f"RabbitMQ at 127.0.0.1:5672 unreachable: {exc!r}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


class BlockingSwitch:
    """Consumes commands and publishes leg events; each method opens its own connection (run in a thread)."""

    def __init__(self, command_queue: str, event_queue: str) -> None:
        self.command_queue = command_queue
        self.event_queue = event_queue

    def take_command(self, *, ack: bool = True, timeout: float = 10.0) -> tuple[dict[str, Any], bool]:
        """The next command and whether it was redelivered; without ``ack`` it goes back to the queue
        when this connection closes, as with a switch that crashed before acting on it."""
        connection = pika.BlockingConnection(PARAMS)
        try:
            channel = connection.channel()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                method, _properties, body = channel.basic_get(self.command_queue, auto_ack=False)
                if method is not None:
                    command = json.loads(body)
                    COMMAND_SCHEMA.validate(command)
                    if ack:
                        channel.basic_ack(method.delivery_tag)
                    return command, bool(method.redelivered)
                time.sleep(0.02)
            raise AssertionError("no command arrived")
        finally:
            connection.close()

    def publish(self, *messages: dict[str, Any] | bytes) -> None:
        """Publish persistent events with confirms (raw bytes are sent unchecked, to test rejection)."""
        connection = pika.BlockingConnection(PARAMS)
        try:
            channel = connection.channel()
            channel.confirm_delivery()
            for message in messages:
                if isinstance(message, dict):
                    EVENT_SCHEMA.validate(message)
                    message = json.dumps(message).encode()
                channel.basic_publish("", self.event_queue, message,
                                      pika.BasicProperties(delivery_mode=2, content_type="application/json"),
                                      mandatory=True)
        finally:
            connection.close()

    def depth(self, queue: str) -> int:
        connection = pika.BlockingConnection(PARAMS)
        try:
            return int(connection.channel().queue_declare(queue, passive=True).method.message_count)
        finally:
            connection.close()

    def delete_queues(self) -> None:
        connection = pika.BlockingConnection(PARAMS)
        try:
            channel = connection.channel()
            for queue in (self.command_queue, self.event_queue):
                channel.queue_delete(queue)
        finally:
            connection.close()


def rabbitmqctl(*args: str) -> None:
    """Run rabbitmqctl (stop_app/start_app take about 1.5 s each here); start_app waits until the broker
    accepts connections again, so the caller knows the outage is over."""
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        pytest.fail("rabbitmqctl is needed to restart the broker under test")
    subprocess.run([ctl, *args], check=True, capture_output=True, timeout=60)
    if args[0] != "start_app":
        return
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            pika.BlockingConnection(PARAMS).close()
            return
        except pika.exceptions.AMQPError:
            time.sleep(0.1)
    raise AssertionError("RabbitMQ did not come back within 30 s")
