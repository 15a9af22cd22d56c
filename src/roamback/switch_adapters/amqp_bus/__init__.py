"""Switch bus over AMQP (RabbitMQ): originate/hangup commands out, leg events in, as JSON (see schemas/)."""

from ._bus import AmqpSwitchBus
from ._messages import BadMessage, decode_event, encode_event, schema
from ._settings import AmqpBusSettings

__all__ = ["AmqpBusSettings", "AmqpSwitchBus", "BadMessage", "decode_event", "encode_event", "schema"]
