"""Settings of the AMQP switch bus; the service config nests ``AmqpBusSettings`` under ``switch.amqp``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class AmqpBusSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field("127.0.0.1", min_length=1, description="RabbitMQ host.")
    port: int = Field(5672, ge=1, le=65535, description="AMQP port.")
    virtual_host: str = Field("/", description="RabbitMQ virtual host.")
    username: str = Field("guest", min_length=1, description="AMQP user.")
    password: SecretStr = Field(SecretStr("guest"), description="AMQP password.")
    command_queue: str = Field("roamback.switch.commands", min_length=1, description="Durable queue the switch "
                               "consumes originate/hangup/set_limits commands from (command.schema.json).")
    event_queue: str = Field("roamback.switch.events", min_length=1, description="Durable queue the service "
                             "consumes leg events from (leg_event.schema.json).")
    prefetch: int = Field(256, ge=1, le=65535, description="Unacknowledged events in flight to the service.")
    publish_timeout: float = Field(10.0, gt=0, description="Seconds to get a command confirmed by the broker, "
                                   "reconnections included, before the call is refused.")
    heartbeat: int = Field(30, ge=0, description="AMQP heartbeat seconds (0: off).")
    reconnect_max_seconds: float = Field(10.0, gt=0, description="Longest wait between reconnection attempts.")
