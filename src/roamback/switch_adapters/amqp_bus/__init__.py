"""Switch bus over AMQP (RabbitMQ): originate/hangup/set_limits commands out, leg events in, as JSON (see schemas/).

``AmqpSwitchBus`` is imported on first use: pika's Twisted adapter imports the default reactor, and reading
the configuration (``roamback config check``) must not install one before the asyncio reactor is.
"""

from typing import Any

from ._messages import BadMessage, decode_event, encode_event, schema
from ._settings import AmqpBusSettings

__all__ = ["AmqpBusSettings", "AmqpSwitchBus", "BadMessage", "decode_event", "encode_event", "schema"]


def __getattr__(name: str) -> Any:
    if name == "AmqpSwitchBus":
        from ._bus import AmqpSwitchBus

        return AmqpSwitchBus
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
