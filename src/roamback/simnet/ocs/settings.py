"""The ``ocs:`` section of simnet's configuration: where the OCS listens, who it is, accounts and rates.

The defaults are the demo's own subscribers, credit and tariff (``demo_data`` and the ledger's
``DEFAULT_RATES``), so a callback refused or granted by the built-in ledger is refused or granted the same
way, for the same length, when the service charges over Diameter against this OCS instead.
"""

from __future__ import annotations

import ipaddress
from decimal import Decimal

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ...core.model import Leg
from ...demo_data import DEMO_PROFILES, DEMO_SUBSCRIBERS
from ...diameter.settings import LegChargingSettings
from ...ledger.accounts import DEFAULT_RATES
from ...ledger.rating import Rate

DEFAULT_LISTEN = "127.0.0.1:3868"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AccountSettings(_Section):
    balance_minor: int = Field(ge=0, description="Prepaid credit in minor units (cents).")
    visited_region: str | None = Field(None, description="ISO region the subscriber roams in (leg A is rated by "
                                       "its country code, as the ledger does); none: at home, rated by the MSISDN.")

    @field_validator("visited_region")
    @classmethod
    def _known_region(cls, region: str | None) -> str | None:
        if region is not None and phonenumbers.country_code_for_region(region.upper()) == 0:
            raise ValueError(f"unknown region {region!r}")
        return region.upper() if region is not None else None

    def leg_a_digits(self, msisdn: str) -> str:
        """The digits leg A is rated by: where the roamer is, not the home number (the ledger's rule)."""
        if self.visited_region is None:
            return msisdn.lstrip("+")
        return str(phonenumbers.country_code_for_region(self.visited_region))


class RateSettings(_Section):
    """One tariff line, the ledger's ``Rate`` in YAML."""

    prefix: str = Field(description="Leading digits of the rated number ('' is the catch-all).")
    per_minute_minor: Decimal = Field(ge=0)
    connect_fee_minor: int = Field(0, ge=0)
    initial_seconds: int = Field(60, ge=0)
    increment_seconds: int = Field(60, ge=1)

    @field_validator("prefix")
    @classmethod
    def _digits(cls, prefix: str) -> str:
        if prefix and not prefix.isdigit():
            raise ValueError("must be digits (or empty for the catch-all)")
        return prefix

    def rate(self) -> Rate:
        return Rate(self.prefix, self.per_minute_minor, self.connect_fee_minor, self.initial_seconds,
                    self.increment_seconds)


def _demo_accounts() -> dict[str, AccountSettings]:
    return {DEMO_SUBSCRIBERS[name]: AccountSettings(balance_minor=credit, visited_region=visited)
            for name, (_, visited, credit) in DEMO_PROFILES.items()}


def _default_rates(leg: Leg) -> tuple[RateSettings, ...]:
    return tuple(RateSettings(prefix=row.rate.prefix, per_minute_minor=row.rate.per_minute_minor,
                              connect_fee_minor=row.rate.connect_fee_minor, initial_seconds=row.rate.initial_seconds,
                              increment_seconds=row.rate.increment_seconds)
                 for row in DEFAULT_RATES if row.leg is leg)


class OcsSettings(_Section):
    enabled: bool = Field(False, description="Start the OCS with simnet (off: it would take port 3868).")
    listen: str = Field(DEFAULT_LISTEN, description="HOST:PORT to accept Diameter peers on ([::1]:3868 for IPv6; "
                        "port 0 picks a free one).")
    origin_host: str = Field("ocs.simnet.test", description="Our Diameter identity (Origin-Host).")
    origin_realm: str = Field("simnet.test", description="Our realm: the service's destination_realm.")
    vendor_id: int = Field(0, ge=0, description="Vendor-Id in CEA.")
    product_name: str = "roamback-simnet-ocs"
    validity_seconds: int | None = Field(None, ge=1, description="Validity-Time on grants that are not final: "
                                         "the client must come back with a CCR-U within it.")
    currency_code: int = Field(978, ge=0, le=999, description="ISO 4217 numeric code in Cost-Information (978 EUR).")
    currency_digits: int = Field(2, ge=0, le=4, description="Minor-unit digits: the Cost-Information exponent.")
    leg_a: LegChargingSettings = Field(LegChargingSettings(rating_group=100, service_identifier=1),
                                       description="MSCC keys of leg A (the service's ro.leg_a).")
    leg_b: LegChargingSettings = Field(LegChargingSettings(rating_group=200, service_identifier=2),
                                       description="MSCC keys of leg B (the service's ro.leg_b).")
    accounts: dict[str, AccountSettings] = Field(default_factory=_demo_accounts,
                                                 description="E.164 MSISDN -> account; anyone else is 5030.")
    rates_a: tuple[RateSettings, ...] = Field(default_factory=lambda: _default_rates(Leg.A),
                                              description="Leg A tariff, matched on the longest prefix.")
    rates_b: tuple[RateSettings, ...] = Field(default_factory=lambda: _default_rates(Leg.B),
                                              description="Leg B tariff, matched on the called number.")
    cer_timeout_seconds: float = Field(10.0, gt=0, description="Close a connection that sends no CER.")
    dpa_timeout_seconds: float = Field(2.0, gt=0, description="Wait for DPA this long when stopping.")

    @field_validator("listen")
    @classmethod
    def _host_port(cls, listen: str) -> str:
        split_listen(listen)
        return listen

    @field_validator("accounts")
    @classmethod
    def _e164(cls, accounts: dict[str, AccountSettings]) -> dict[str, AccountSettings]:
        for msisdn in accounts:
            if not (msisdn.startswith("+") and msisdn[1:].isdigit()):
                raise ValueError(f"{msisdn!r}: accounts are keyed by E.164 numbers like +33612345678")
        return accounts

    @model_validator(mode="after")
    def _distinct(self) -> OcsSettings:
        if (self.leg_a.rating_group, self.leg_a.service_identifier) == (
            self.leg_b.rating_group, self.leg_b.service_identifier
        ):
            raise ValueError("leg_a and leg_b need different rating group or service identifier")
        for name, rates in (("rates_a", self.rates_a), ("rates_b", self.rates_b)):
            prefixes = [rate.prefix for rate in rates]
            if len(set(prefixes)) != len(prefixes):
                raise ValueError(f"{name}: a prefix is listed twice")
        return self

    @property
    def host(self) -> str:
        return split_listen(self.listen)[0]

    @property
    def port(self) -> int:
        return split_listen(self.listen)[1]


def split_listen(listen: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT``) into its parts; raises ValueError naming what is wrong."""
    host, colon, port = listen.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not colon or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{listen!r} is not HOST:PORT")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{listen!r}: the host must be an IP address") from None
    return host, int(port)
