"""Configuration models for the operations interfaces: Prometheus/health endpoints and the SNMP agent.

They follow the rules of ``roamback.config``: unknown keys are refused (a misspelt ``comunity`` must not
leave the agent answering on the default), and every secret is a ``SecretStr`` so that neither a repr nor
``config check --show`` can print it. The lead wires them into the ``Config`` tree as ``metrics`` and
``snmp`` sections.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, model_validator

DOCUMENTATION_ENTERPRISE = "1.3.6.1.4.1.32473"  # RFC 5612: reserved for examples and documentation


def _oid(value: str) -> str:
    if not re.fullmatch(r"1\.3\.6\.1(\.\d+)+", value):
        raise ValueError(f"{value!r} is not a dotted OID under 1.3.6.1")
    return value


def _engine_id(value: str) -> str:
    if not re.fullmatch(r"(0x)?([0-9a-fA-F]{2}){5,32}", value):
        raise ValueError("must be 5 to 32 octets in hex, e.g. 0x8000000001020304")
    return value.removeprefix("0x").lower()


Oid = Annotated[str, AfterValidator(_oid)]
EngineId = Annotated[str, AfterValidator(_engine_id)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MetricsSettings(_Section):
    enabled: bool = Field(True, description="Serve /metrics, /healthz and /readyz.")
    listen: str = Field("tcp:9180:interface=127.0.0.1", min_length=1,
                        description="Twisted server endpoint string of the operations HTTP site.")
    window_seconds: float = Field(900.0, gt=0, description="Sliding window of the ASR, ACD and refusal-rate "
                                  "figures (Prometheus gauges and SNMP objects alike).")
    poll_seconds: float = Field(5.0, gt=0, description="How often the outbox depth is counted and link "
                                "states and thresholds are checked.")


class SnmpUser(_Section):
    """An SNMPv3 USM user: authentication SHA-1 (usmHMACSHAAuthProtocol) and privacy AES-128 (CFB)."""

    name: str = Field(min_length=1, max_length=32, description="USM user name.")
    auth_key: SecretStr = Field(min_length=8, description="Authentication pass phrase, 8 characters or more.")
    priv_key: SecretStr = Field(min_length=8, description="Privacy pass phrase, 8 characters or more.")


class SnmpManager(_Section):
    """Where notifications go. A v3 manager names one of ``users``; ``inform`` asks for acknowledgement."""

    host: str = Field(min_length=1, description="Manager address notifications are sent to.")
    port: int = Field(162, ge=1, le=65535, description="Manager UDP port.")
    version: Literal["v2c", "v3"] = Field("v2c", description="SNMP version of the notifications.")
    community: SecretStr | None = Field(None, description="v2c community of the manager; default: the "
                                        "agent's own community.")
    user: str | None = Field(None, description="v3: name of a user in snmp.users.")
    notify: Literal["trap", "inform"] = Field("trap", description="inform: the manager acknowledges.")


class SnmpThresholds(_Section):
    """Alarms on the sliding-window figures; each raises one notification and clears with another."""

    asr_below: float | None = Field(0.3, ge=0, le=1, description="Alarm when ASR falls below this.")
    refusal_rate_above: float | None = Field(0.5, ge=0, le=1,
                                             description="Alarm when refused / (accepted + refused) exceeds this.")
    min_samples: int = Field(20, ge=1, description="No alarm on fewer requests than this in the window: "
                             "three failures at night are not an outage.")


class SnmpSettings(_Section):
    enabled: bool = Field(False, description="Run the SNMP agent.")
    address: str = Field("127.0.0.1", min_length=1, description="UDP address the agent binds.")
    port: int = Field(1161, ge=0, le=65535, description="UDP port (161 needs privileges; 0 picks one).")
    base_oid: Oid = Field(f"{DOCUMENTATION_ENTERPRISE}.1",
                          description="Where ROAMBACK-MIB is rooted; the shipped MIB file uses the default.")
    engine_id: EngineId | None = Field(None, description="SNMPv3 engine id in hex; default: derived by pysnmp "
                                       "at each start (set it so managers' v3 trap users stay valid).")
    community: SecretStr | None = Field(None, description="v2c read-only community; none disables v2c.")
    users: list[SnmpUser] = Field(default_factory=list, description="SNMPv3 users (authPriv only).")
    managers: list[SnmpManager] = Field(default_factory=list, description="Notification receivers.")
    thresholds: SnmpThresholds = Field(default_factory=SnmpThresholds, description="Alarm thresholds.")

    @model_validator(mode="after")
    def _consistent(self) -> SnmpSettings:
        names = [user.name for user in self.users]
        if len(set(names)) != len(names):
            raise ValueError("users: duplicate user name")
        for index, manager in enumerate(self.managers):
            if manager.version == "v3" and manager.user not in names:
                raise ValueError(f"managers[{index}].user: must name one of snmp.users")
            if manager.version == "v2c" and manager.community is None and self.community is None:
                raise ValueError(f"managers[{index}].community: needed when the agent has no community")
        if self.enabled and self.community is None and not self.users:
            raise ValueError("community: give a v2c community or at least one v3 user")
        return self
