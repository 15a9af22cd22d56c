"""The simulator's own configuration: one small YAML file, every key checked, defaults that need none.

It is not a section of the service's configuration because simnet stands in for the operator's network:
it runs as its own process and an operator's file for the service must never grow simulator keys. The
defaults match a service started on its embedded defaults pointed at ``tcp:host=127.0.0.1:port=2775`` with
system_id ``roamback`` and password ``simnet``.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..gateway.ussd import UssdDialect
from .ocs.settings import OcsSettings

DEFAULT_SMPP_ENDPOINT = "tcp:2775:interface=127.0.0.1"
DEFAULT_CONTROL_ENDPOINT = "tcp:2776:interface=127.0.0.1"
DEFAULT_SYSTEM_ID = "roamback"
DEFAULT_PASSWORD = "simnet"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SmppConfig(_Section):
    listen: str = Field(DEFAULT_SMPP_ENDPOINT, description="Twisted server endpoint the SMSC/USSDC listens on.")
    system_id: str = Field("simnet", max_length=15, description="What we call ourselves in bind_resp.")
    accounts: dict[str, str] = Field({DEFAULT_SYSTEM_ID: DEFAULT_PASSWORD}, min_length=1,
                                     description="ESME system_id -> password; any other pair is refused.")

    @field_validator("accounts")
    @classmethod
    def _smpp_lengths(cls, accounts: dict[str, str]) -> dict[str, str]:
        for system_id, password in accounts.items():
            if not 0 < len(system_id) <= 15 or len(password) > 8:
                raise ValueError(f"{system_id!r}: SMPP 3.4 allows system_id 1-15 and password 0-8 characters")
        return accounts


class Outcome(StrEnum):
    DELIVERED = "delivered"
    UNDELIVERABLE = "undeliverable"
    EXPIRED = "expired"
    REJECT = "reject"  # refused at submit_sm with ``status``; no receipt


class SmsRule(_Section):
    """What happens to an MT SMS whose destination matches ``match`` (a regular expression, searched)."""

    match: str
    outcome: Outcome
    status: int = Field(0x58, ge=1, le=0xFFFFFFFF, description="submit_sm_resp status for 'reject' "
                        "(0x58 ESME_RTHROTTLED, 0x0B ESME_RINVDSTADR...).")
    error: int = Field(1, ge=0, le=999, description="err: field of a failure receipt.")

    @field_validator("match")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return pattern


class RetryConfig(_Section):
    initial_seconds: float = Field(1.0, gt=0)
    max_seconds: float = Field(60.0, gt=0)
    attempts: int = Field(8, ge=1, description="Deliveries tried before the message is dropped.")


class SmsConfig(_Section):
    deliver_to: str = Field(DEFAULT_SYSTEM_ID, description="ESME system_id that receives MO SMS.")
    receipt_delay_seconds: float = Field(1.0, ge=0, description="Time from submit_sm to its delivery receipt.")
    rules: tuple[SmsRule, ...] = Field((), description="First match wins; unmatched numbers are delivered.")
    max_submits_per_second: float | None = Field(None, gt=0, description="Above this, submit_sm is answered "
                                                 "ESME_RTHROTTLED (for load tests); none means no cap.")
    retry: RetryConfig = Field(default_factory=RetryConfig, description="Redelivery of MO SMS and receipts the "
                               "service answered with a temporary error (0x64, 0x58, 0x14) or could not take.")
    inbox_limit: int = Field(200, ge=1, description="Messages kept per handset, oldest dropped first.")


class UssdConfig(_Section):
    deliver_to: str = Field(DEFAULT_SYSTEM_ID, description="ESME system_id that receives USSD dialogues.")
    dialect: UssdDialect = Field(default_factory=UssdDialect, description="The dialect the service is configured "
                                 "with ('smpp34', 'tata', '6d', 'mica' or a mapping); simnet speaks its other side.")
    screen_timeout_seconds: float = Field(30.0, gt=0, description="A menu left unanswered this long is aborted.")
    dialogue_timeout_seconds: float = Field(180.0, gt=0, description="Longest a whole dialogue may last.")


class ControlConfig(_Section):
    listen: str = Field(DEFAULT_CONTROL_ENDPOINT, description="Twisted server endpoint of the handset control "
                        "API (no authentication: keep it on loopback).")


class SimnetConfig(_Section):
    smpp: SmppConfig = Field(default_factory=SmppConfig)
    sms: SmsConfig = Field(default_factory=SmsConfig)
    ussd: UssdConfig = Field(default_factory=UssdConfig)
    control: ControlConfig = Field(default_factory=ControlConfig)
    ocs: OcsSettings = Field(default_factory=OcsSettings, description="The Diameter Ro OCS (off by default).")


class SimnetConfigError(Exception):
    """The file cannot be used; ``errors`` holds one line per bad key, naming it."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = tuple(errors)


def parse_config(data: Any) -> SimnetConfig:
    """Validate already-parsed YAML; raises SimnetConfigError."""
    try:
        return SimnetConfig.model_validate(data if data is not None else {})
    except ValidationError as exc:
        lines = []
        for error in exc.errors(include_url=False, include_input=False):
            path = ".".join(str(part) for part in error["loc"]) or "(top level)"
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown key"
            lines.append(f"{path}: {message}")
        raise SimnetConfigError(lines) from None


def load_config(path: str | None) -> SimnetConfig:
    """The file's configuration, or the defaults without a file; raises SimnetConfigError."""
    if path is None:
        return SimnetConfig()
    try:
        with open(path, encoding="utf-8") as stream:
            data = yaml.safe_load(stream)
    except (OSError, yaml.YAMLError) as exc:
        raise SimnetConfigError([f"{path}: {exc}"]) from None
    return parse_config(data)
