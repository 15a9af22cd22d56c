"""Configuration of the Diameter Ro charging backend, one typed model the config loader can embed."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .dictionary import FailureHandling


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DiameterPeerSettings(_Strict):
    name: str = Field(description="Our label for the peer, used in logs and metrics")
    host: str = Field(description="IP address or host name to connect to")
    port: int = Field(3868, ge=1, le=65535, description="Diameter port of the peer (3868 unless agreed)")
    realm: str = Field(description="Realm reached through this peer ('*': every realm, for a relay)")
    priority: int = Field(1, ge=1, description="1 is preferred; equal priorities share the load")
    relay: bool = Field(False, description="A DRA/relay: it routes on Destination-Host to OCS hosts behind it")
    connect_timeout_seconds: int = Field(5, ge=1, description="Give up one connection attempt after this")


class LegChargingSettings(_Strict):
    rating_group: int = Field(ge=0, description="Rating-Group of this leg's Multiple-Services-Credit-Control")
    service_identifier: int = Field(ge=0, description="Service-Identifier of this leg")


class RoSettings(_Strict):
    """Everything the operator's OCS team agrees with us, plus the RFC 6733/4006 timers."""

    origin_host: str = Field(
        max_length=40, description="Our Diameter identity; the OCS/DRA must list it as a known peer "
        "(at most 40 characters: it starts every Session-Id, which is stored as the 64-character reservation id)",
    )
    origin_realm: str = Field(description="Our Diameter realm (Origin-Realm)")
    destination_realm: str = Field(description="The OCS realm credit-control requests are routed to")
    host_ip_addresses: list[str] = Field(default_factory=lambda: ["127.0.0.1"], min_length=1,
                                         description="Host-IP-Address values sent in CER")
    vendor_id: int = Field(0, ge=0, description="Our Vendor-Id in CER (0: none assigned)")
    product_name: str = Field("roamback", description="Product-Name sent in CER")
    peers: list[DiameterPeerSettings] = Field(min_length=1, description="OCS or relay peers, by priority")
    tx_seconds: float = Field(10.0, gt=0, description="Tx: wait for a credit-control answer (RFC 4006 13)")
    tw_seconds: float = Field(30.0, ge=6, description="Tw: watchdog interval (RFC 3539, at least 6 s)")
    tc_seconds: float = Field(30.0, gt=0, description="Tc: wait before reconnecting a lost peer")
    failure_handling: Literal["terminate", "continue", "retry_and_terminate"] = Field(
        "terminate", description="Credit-Control-Failure-Handling until an answer says otherwise (RFC 4006 8.14)"
    )
    service_context_id: str = Field("32260@3gpp.org", description="Service-Context-Id of every CCR")
    leg_a: LegChargingSettings = Field(LegChargingSettings(rating_group=100, service_identifier=1),
                                       description="Rating keys of the roamer's leg (leg A)")
    leg_b: LegChargingSettings = Field(LegChargingSettings(rating_group=200, service_identifier=2),
                                       description="Rating keys of the destination leg (leg B)")
    update_margin_seconds: int = Field(
        2, ge=0, description="Ask for more this long (plus Tx) before a quota or Validity-Time runs out"
    )
    trace_messages: bool = Field(True, description="One log line per request and answer (numbers masked)")

    @model_validator(mode="after")
    def _distinct(self) -> RoSettings:
        names = [peer.name for peer in self.peers]
        if len(set(names)) != len(names):
            raise ValueError("peer names must be unique")
        if (self.leg_a.rating_group, self.leg_a.service_identifier) == (
            self.leg_b.rating_group, self.leg_b.service_identifier
        ):
            raise ValueError("leg_a and leg_b need different rating group or service identifier")
        return self

    @property
    def failure_handling_code(self) -> FailureHandling:
        return FailureHandling[self.failure_handling.upper()]
