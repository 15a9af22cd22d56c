"""Configuration of the pluggable edges: which charging backend and which switch, and their settings.

The settings models live next to the adapters that use them (``diameter.settings``, ``switch_adapters``);
this module only chooses between them, so that a file naming ``charging.backend: diameter`` without a
``charging.diameter`` section stops start-up naming that key instead of failing later at the first call.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ..diameter.settings import RoSettings
from ..switch_adapters.amqp_bus import AmqpBusSettings
from ..switch_adapters.ari import AriSettings
from ..switch_adapters.esl import EslSettings
from ._sections import LedgerConfig, Section, SimulatedSwitchConfig, at


class ChargingConfig(Section):
    backend: Literal["ledger", "diameter"] = Field(
        "ledger", description="'ledger': the built-in prepaid ledger; 'diameter': online charging against the "
        "operator's OCS over Diameter Ro (settings in charging.diameter).")
    ledger: LedgerConfig = Field(default_factory=LedgerConfig, description="Built-in ledger settings.")
    diameter: RoSettings | None = Field(None, description="Diameter Ro: our identity, the OCS realm, peers, "
                                        "timers, per-leg Rating-Group/Service-Identifier.")

    @model_validator(mode="after")
    def _settings_present(self) -> ChargingConfig:
        if self.backend == "diameter" and self.diameter is None:
            raise at("diameter", "required when charging.backend is 'diameter'")
        return self


class SwitchConfig(Section):
    adapter: Literal["simulated", "ari", "esl", "amqp"] = Field(
        "simulated", description="simulated: the embedded switch; ari: Asterisk ARI; esl: FreeSWITCH event "
        "socket; amqp: a home switch driven through the AMQP switch bus.")
    connect_timeout_seconds: float = Field(15.0, gt=0, description="At start-up, how long to wait for the "
                                           "first connection to the switch before recovering interrupted calls "
                                           "(without it, they end by the switch's own backstop).")
    simulated: SimulatedSwitchConfig = Field(default_factory=SimulatedSwitchConfig,
                                             description="Settings of the simulated switch.")
    ari: AriSettings | None = Field(None, description="Asterisk ARI: URL, user, Stasis app, routes, sounds.")
    esl: EslSettings | None = Field(None, description="FreeSWITCH ESL: host, password, dial-string routes, "
                                    "sounds.")
    amqp: AmqpBusSettings | None = Field(None, description="AMQP switch bus: broker, queues, prefetch.")

    @model_validator(mode="after")
    def _settings_present(self) -> SwitchConfig:
        if self.adapter == "ari" and self.ari is None:
            raise at("ari", "required when switch.adapter is 'ari'")
        if self.adapter == "esl" and self.esl is None:
            raise at("esl", "required when switch.adapter is 'esl'")
        if self.adapter == "amqp" and self.amqp is None:
            raise at("amqp", "required when switch.adapter is 'amqp'")
        return self
