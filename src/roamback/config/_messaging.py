"""Configuration of the mobile front doors: SMPP links, SMS commands and USSD.

No link configured means no SMPP at all: notices go to the embedded handset inbox, as in the demo.
Passwords are ``SecretStr`` so neither ``repr`` nor ``redacted()`` can print them.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from ..gateway.sms import KeywordError, KeywordTable
from ..gateway.ussd import UssdSettings
from ._sections import PositiveSeconds, Section, at

_ENDPOINT = re.compile(r"(tcp|tls|unix|ssl):.+")


class SmppLinkConfig(Section):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,32}$", description="Names the link in logs and in stored MO "
                      "messages.")
    endpoint: str = Field(description="Twisted client endpoint: 'tcp:host=smsc.example:port=2775' or "
                          "'tls:smsc.example:3550'.")
    system_id: str = Field(min_length=1, max_length=15, description="bind system_id (SMPP 3.4: 15 characters).")
    password: SecretStr = Field(repr=False, description="bind password (SMPP 3.4: 8 characters); never logged.")
    system_type: str = Field("", max_length=12, description="bind system_type, if the SMSC wants one.")
    binds: list[Literal["transceiver", "transmitter", "receiver"]] = Field(
        default_factory=lambda: ["transceiver"], min_length=1, description="One entry per bind.")
    window: int = Field(64, ge=1, le=10_000, description="Requests in flight per bind.")
    rate: float | None = Field(None, gt=0, description="Contracted submits per second per bind; none for no cap.")
    enquire_link_seconds: PositiveSeconds = Field(30.0, description="Idle time before a keep-alive probe.")
    response_timeout_seconds: PositiveSeconds = Field(10.0, description="Wait for a response before giving up.")
    role: Literal["sms", "ussd", "both"] = Field("both", description="What the link carries: notices go out "
                                                 "on sms/both links; USSD replies go back on the link the "
                                                 "dialogue came in on.")

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        if not _ENDPOINT.fullmatch(value):
            raise ValueError("must be a Twisted client endpoint string such as 'tcp:host=127.0.0.1:port=2775'")
        return value

    @field_validator("password")
    @classmethod
    def _password(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) > 8:
            raise ValueError("SMPP 3.4 passwords have at most 8 characters")
        return value


class SmppConfig(Section):
    links: list[SmppLinkConfig] = Field(default_factory=list, description="SMSC/USSDC links; empty: no SMPP.")

    @model_validator(mode="after")
    def _unique(self) -> SmppConfig:
        names = [link.name for link in self.links]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise at(f"links.{index}.name", f"{name!r} is used by another link")
        return self


class SmsConfig(Section):
    source_addr: str = Field("", max_length=20, description="Our address on outgoing SMS (short code or name); "
                             "empty lets the SMSC fill it in.")
    source_ton: int = Field(0, ge=0, le=6, description="TON of source_addr (3 national, 5 alphanumeric).")
    source_npi: int = Field(0, ge=0, le=18, description="NPI of source_addr.")
    concat: Literal["udh", "sar"] = Field("udh", description="How long SMS parts are numbered.")
    keywords: dict[str, dict[str, list[str]]] = Field(
        default_factory=dict, description="Keyword overrides: {language: {command: [words]}}; commands are "
        "callback, balance, register, unregister, confirm, language, help, conference.")
    duplicate_window_seconds: PositiveSeconds = Field(120.0, description="The same text from the same number "
                                                      "within this window is a resend by the SMSC, run once.")
    reassembly_timeout_seconds: PositiveSeconds = Field(300.0, description="Wait for missing parts of a long SMS.")
    code_ttl_seconds: PositiveSeconds = Field(600.0, description="Validity of a registration code.")
    code_max_attempts: int = Field(3, ge=1, le=10, description="Wrong codes before a registration is withdrawn.")

    @field_validator("keywords")
    @classmethod
    def _keywords(cls, value: dict[str, dict[str, list[str]]]) -> dict[str, dict[str, list[str]]]:
        try:
            KeywordTable.from_config(value)
        except KeywordError as exc:
            raise ValueError(str(exc)) from None
        return value

    def keyword_table(self) -> KeywordTable:
        return KeywordTable.from_config(self.keywords)


class UssdConfig(UssdSettings):
    source_addr: str = Field("", max_length=20, description="Our address on USSD replies sent when no "
                             "indication gives one (time-outs); empty: the first service code.")
