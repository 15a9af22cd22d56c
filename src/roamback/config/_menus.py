"""Configuration of the USSD menu engine and of the HTTP USSD front door for aggregators.

The menu is checked here, at start-up, not at the first ``*123#``: an operator who breaks the YAML finds out
from ``roamback config check`` with the file and line, while the running service keeps its old menu.
"""

from __future__ import annotations

import hashlib
import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from ._sections import PositiveSeconds, Section, at


class RedisConfig(Section):
    host: str = Field("127.0.0.1", min_length=1, description="Redis host shared by the gateway nodes.")
    port: int = Field(6379, ge=1, le=65535, description="Redis port.")
    db: int = Field(0, ge=0, le=15, description="Redis database number.")
    password: SecretStr | None = Field(None, repr=False, description="Redis AUTH password; never displayed.")
    prefix: str = Field("roamback:ussd:", min_length=1, description="Key prefix of dialogue state.")
    timeout_seconds: PositiveSeconds = Field(2.0, description="Connect and reply timeout.")


class UssdMenuConfig(Section):
    enabled: bool = Field(True, description="Serve the menu on the bare service code (*123#) and phone book "
                          "positions (*123*<n>#); off: only one-shot *123*<number># call-backs.")
    file: Path | None = Field(None, description="Menu YAML; default: the packaged roaming call-back menu. "
                              "Reloaded on SIGHUP without dropping open dialogues.")
    store: Literal["memory", "redis"] = Field("memory", description="Where dialogue state lives: memory (one "
                                              "node) or redis (several gateway nodes sharing dialogues).")
    redis: RedisConfig = Field(default_factory=RedisConfig, description="Used when store is 'redis'.")
    max_errors: int = Field(3, ge=1, le=10, description="Wrong answers per dialogue before it is closed "
                            "(also bounds PIN guessing).")
    max_phonebook_entries: int = Field(20, ge=1, le=99, description="Entries a subscriber may keep.")
    index_digits: int = Field(2, ge=1, le=2, description="*123*<n># with at most this many digits names a "
                              "phone book position, not a number to call.")
    notify_on_timeout: bool = Field(False, description="Send an SMS when a dialogue times out.")
    confirm: Literal["after_leg_a", "on_decision"] = Field(
        "after_leg_a", description="When a call-back request closes the dialogue: after_leg_a (the text "
        "states the granted time; leg A is already ringing) or on_decision (as soon as the acceptance or "
        "refusal is stored, for centres with a short screen timer).")
    expire_every_seconds: PositiveSeconds = Field(5.0, description="How often abandoned dialogues are freed.")

    @model_validator(mode="after")
    def _menu_loads(self) -> UssdMenuConfig:
        from ..ussd_menus import MenuError, default_menu_path, load_menu

        path = self.file or default_menu_path()
        try:
            load_menu(path)
        except MenuError as exc:
            raise at("file", str(exc)) from None
        except OSError as exc:
            raise at("file", f"cannot read {path}: {exc.strerror}") from None
        return self


class UssdHttpConfig(Section):
    """The CON/END (form) and JSON USSD front door; off unless enabled, and never without credentials."""

    enabled: bool = Field(False, description="Serve the HTTP USSD front door.")
    listen: str = Field("tcp:8090:interface=127.0.0.1", min_length=1, description="Twisted server endpoint.")
    path: str = Field("/ussd", pattern=r"^/[A-Za-z0-9_/-]*$", description="URL path aggregators POST to.")
    secret: SecretStr | None = Field(None, repr=False, min_length=16, description="Shared secret the "
                                     "aggregator sends in secret_header (16 characters or more).")
    secret_sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$", description="Or its SHA-256 hex "
                                      "digest, so the file never holds the secret.")
    secret_header: str = Field("X-Ussd-Secret", min_length=1, description="Header carrying the secret.")
    allow_from: list[str] = Field(default_factory=list, description="Networks (CIDR) allowed to call.")

    @field_validator("allow_from")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for net in value:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise ValueError(f"{net!r} is not an IP network such as 192.0.2.0/24") from None
        return value

    @model_validator(mode="after")
    def _authenticated(self) -> UssdHttpConfig:
        if self.secret is not None and self.secret_sha256 is not None:
            raise at("secret", "give secret or secret_sha256, not both")
        if self.enabled and self.digest() is None and not self.allow_from:
            raise at("secret", "the HTTP USSD front door needs a secret (or secret_sha256) or allow_from")
        return self

    def digest(self) -> str | None:
        if self.secret is not None:
            return hashlib.sha256(self.secret.get_secret_value().encode()).hexdigest()
        return self.secret_sha256
