"""One typed model per configuration section, with the defaults that make up the embedded mode.

Every model forbids unknown keys: a misspelt ``dayly_cap`` silently left at its default is how fraud
limits end up switched off in production. Cross-field rules raise ``at(path, message)`` so the error
names the exact key to fix, not just its section.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import phonenumbers
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_core import PydanticCustomError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from ..core.model import CallMode
from ..core.reasons import HangupCause

PATH_ERROR = "roamback_path"
_DB_BACKENDS = ("sqlite", "postgresql", "mysql", "mariadb", "oracle")


def at(path: str, message: str) -> PydanticCustomError:
    """An error for a key below the model being validated (pydantic only knows the model's own path)."""
    return PydanticCustomError(PATH_ERROR, "{path}: {message}", {"path": path, "message": message})


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _region(value: str) -> str:
    region = value.upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"{value!r} is not an ISO 3166 alpha-2 region phone numbers are known for")
    return region


def _e164(value: str) -> str:
    if not re.fullmatch(r"\+[1-9]\d{7,14}", value):
        raise ValueError("must be an E.164 number: '+' then 8 to 15 digits")
    return value


def _prefix(value: str) -> str:
    if not re.fullmatch(r"\+\d{1,15}", value):
        raise ValueError(f"{value!r} must be '+' then digits, e.g. '+881'")
    return value


def _db_url(value: str) -> str:
    """Parse without ever echoing the URL back: it may hold a password."""
    try:
        url = make_url(value)
    except ArgumentError:
        raise ValueError("not a database URL (dialect+driver://user:password@host/database)") from None
    if url.get_backend_name() not in _DB_BACKENDS:
        backend = url.get_backend_name()
        raise ValueError(f"unsupported database {backend!r} (one of {', '.join(_DB_BACKENDS)})")
    return value


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from None
    return value


Region = Annotated[str, AfterValidator(_region)]
E164 = Annotated[str, AfterValidator(_e164)]
Prefix = Annotated[str, AfterValidator(_prefix)]
DbUrl = Annotated[str, AfterValidator(_db_url)]
PositiveSeconds = Annotated[float, Field(gt=0)]


def mask_url(url: str) -> str:
    """A database URL fit for display: the password replaced, the rest kept for diagnosis."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "***"


class NodeConfig(Section):
    name: str = Field("roamback-1", min_length=1, max_length=64,
                      description="This node's name in logs, CDRs and metrics; unique per cluster.")


class DatabaseConfig(Section):
    url: DbUrl = Field("sqlite:///var/roamback.sqlite", repr=False,
                       description="SQLAlchemy URL of the service database (SQLite, PostgreSQL, MariaDB/"
                       "MySQL, Oracle). May hold a password: never shown by repr or `config check --show`.")
    readers: int = Field(4, ge=1, le=32, description="Reader threads; writes always go through one writer.")


class HomeConfig(Section):
    region: Region = Field("FR", description="ISO 3166 alpha-2 region of the home network: national-format "
                           "numbers typed by subscribers are read as numbers of this region.")
    service_caller_id: E164 = Field("+33170000000", description="Caller ID presented for the service "
                                    "itself (leg A, and leg B when dialling.leg_b_caller_id is 'service').")
    default_language: str = Field("en", pattern=r"^[a-z]{2,3}$", description="Language of texts when the "
                                  "subscriber's is unknown or lacks a text; must exist in the catalog.")
    currency: str = Field("EUR", pattern=r"^[A-Z]{3}$", description="ISO 4217 code of the home currency.")


DEFAULT_BLOCKED_PREFIXES = ["+870", "+881", "+882", "+883", "+979", "+3389"]


class PolicyConfig(Section):
    require_roaming: bool = Field(True, description="Refuse subscribers who are not abroad.")
    banned_visited_regions: list[Region] = Field(
        default_factory=list, description="Visited regions where call-back is banned (ITU Resolution 29).")
    one_active_per_subscriber: bool = Field(True, description="At most one live call-back per subscriber.")
    daily_cap: int = Field(5, ge=0, description="Accepted call-backs per subscriber per day; 0 turns it off.")
    cooldown_seconds: int = Field(30, ge=0, description="Minimum gap between two accepted requests.")
    blocked_prefixes: list[Prefix] = Field(
        default_factory=lambda: list(DEFAULT_BLOCKED_PREFIXES),
        description="Destination prefixes never dialled (leg A or B). The default only covers satellite "
        "(+870 Inmarsat, +881 GMSS), international networks (+882, +883), international premium rate "
        "(+979) and French premium rate (+3389): operators must maintain this list from their own fraud "
        "intelligence (IRSF number ranges change every week).")
    leg_a_registered_only: bool = Field(True, description="Call back only the requester's own number, "
                                        "never a number named in the request (stops callback bombing).")
    min_talk_seconds: int = Field(60, ge=0, description="Refuse when credit covers less than this talk time.")
    max_call_seconds: int = Field(3600, ge=60, description="Upper bound of one call-back's talk time.")
    resume_window_seconds: int = Field(120, ge=0, description="After a restart, calls interrupted less than "
                                       "this long ago are recovered; older ones are settled as interrupted.")

    @model_validator(mode="after")
    def _talk_fits_call(self) -> PolicyConfig:
        if self.min_talk_seconds > self.max_call_seconds:
            raise at("min_talk_seconds", "must not exceed max_call_seconds")
        return self


_RETRIABLE = frozenset({HangupCause.BUSY, HangupCause.NO_ANSWER, HangupCause.CONGESTION,
                        HangupCause.UNREACHABLE, HangupCause.SWITCH_ERROR})
_NEVER_RETRIED = {
    HangupCause.UNALLOCATED: "the number does not exist: dialling it again never helps",
    HangupCause.REJECTED: "the subscriber declined the call: calling again is harassment",
}


def _retry_cause(value: HangupCause) -> HangupCause:
    if value in _NEVER_RETRIED:
        raise ValueError(f"{value.value!r} is never retried: {_NEVER_RETRIED[value]}")
    if value not in _RETRIABLE:
        raise ValueError(f"{value.value!r} is not a failed dial attempt "
                         f"(retriable: {', '.join(sorted(c.value for c in _RETRIABLE))})")
    return value


class DiallingConfig(Section):
    mode: CallMode = Field(CallMode.A_FIRST, description="a_first: call the roamer, then the destination; "
                           "simultaneous: both at once; b_first: the destination first.")
    ring_timeout_seconds: int = Field(30, ge=5, le=300, description="How long each leg rings unanswered.")
    setup_allowance_seconds: int = Field(45, ge=0, description="Reserved on top of talk time for ringing "
                                         "and the prompt, so a call never outruns its reservation.")
    a_max_attempts: int = Field(3, ge=1, le=10, description="Tries at leg A, the first one included.")
    a_retry_delays_seconds: list[PositiveSeconds] = Field(
        default_factory=lambda: [20.0, 60.0],
        description="Wait before each leg-A retry; the last value repeats if there are more retries.")
    a_retry_causes: list[Annotated[HangupCause, AfterValidator(_retry_cause)]] = Field(
        default_factory=lambda: [HangupCause.BUSY, HangupCause.NO_ANSWER],
        description="Leg-A outcomes that are retried. unallocated and rejected never are.")
    reauthorise_margin_seconds: int = Field(10, ge=0, description="Ask charging to extend a grant this long "
                                            "before its validity or a leg's limit runs out (grants that say "
                                            "they are final, like the built-in ledger's, are never extended).")
    leg_b_caller_id: Literal["requester", "service"] = Field(
        "requester", description="Caller ID shown to the destination: the roamer's number (what callers "
        "expect) or the service number (where regulation, e.g. Ofcom C6, requires it).")

    @model_validator(mode="after")
    def _delays_for_retries(self) -> DiallingConfig:
        if self.a_max_attempts > 1 and not self.a_retry_delays_seconds:
            raise at("a_retry_delays_seconds", "needs at least one delay when a_max_attempts > 1")
        return self


class SqlDirectoryConfig(Section):
    url: DbUrl | None = Field(None, repr=False, description="SQLAlchemy URL of the operator's subscriber "
                              "database; required when directory.backend is 'sql'. Never displayed.")
    query: str = Field(
        "SELECT msisdn, home_region, language, active, roaming, visited_region, service_allowed, "
        "account_id, imsi FROM subscribers WHERE msisdn = :msisdn",
        description="Query returning one subscriber row (columns named like core.model.Subscriber); "
        "must use the bound parameter :msisdn, never string formatting.")
    timeout_seconds: PositiveSeconds = Field(2.0, description="Beyond this the request is refused as "
                                             "directory_unavailable rather than left waiting.")
    strip_plus: bool = Field(False, description="Pass the MSISDN without its '+' (as many HLR exports "
                             "store it).")

    @model_validator(mode="after")
    def _bound_parameter(self) -> SqlDirectoryConfig:
        if not re.search(r":msisdn\b", self.query):
            raise at("query", "must contain the bound parameter :msisdn")
        return self


class DirectoryConfig(Section):
    backend: Literal["table", "sql"] = Field("table", description="table: subscribers in the service "
                                             "database; sql: a query on the operator's database.")
    sql: SqlDirectoryConfig = Field(default_factory=SqlDirectoryConfig,
                                    description="The query directory, used when backend is 'sql'.")

    @model_validator(mode="after")
    def _sql_needs_url(self) -> DirectoryConfig:
        if self.backend == "sql" and self.sql.url is None:
            raise at("sql.url", "required when directory.backend is 'sql'")
        return self


class LedgerConfig(Section):
    seed_demo_data: bool = Field(True, description="On first start with an empty database, create demo "
                                 "subscribers, accounts and rates. Turn off in production.")


class SwitchRule(Section):
    match: Annotated[str, AfterValidator(_regex)] = Field(
        description="Regular expression searched in the E.164 number (anchor it with $).")
    leg: Literal["A", "B", "any"] = Field("any", description="Which leg the rule applies to.")
    outcome: Literal["answer", "busy", "no_answer", "unallocated", "rejected"] = Field(
        "answer", description="What the simulated network does with the call.")
    talk_seconds: PositiveSeconds | None = Field(None, description="Talk time once bridged, if answered.")


DEFAULT_SWITCH_RULES = [
    SwitchRule(match=r"\+\d+1111$", outcome="busy"),
    SwitchRule(match=r"\+\d+2222$", outcome="no_answer"),
    SwitchRule(match=r"\+\d+3333$", outcome="unallocated"),
    SwitchRule(match=r"\+\d+4444$", outcome="rejected"),
]


class SimulatedSwitchConfig(Section):
    ring_seconds: PositiveSeconds = Field(2.0, description="Ringing before a leg answers (or fails).")
    prompt_seconds: PositiveSeconds = Field(3.0, description="Length of the announcement on leg A.")
    talk_seconds: PositiveSeconds = Field(15.0, description="Talk time of a bridged call unless a rule says.")
    speed: PositiveSeconds = Field(
        1.0, description="Simulated seconds per real second for the whole service (engine timers and CDR "
        "timestamps too, so billing stays consistent). Keep 1.0 in production; the demo runs at 10.")
    rules: list[SwitchRule] = Field(
        default_factory=lambda: list(DEFAULT_SWITCH_RULES),
        description="First match wins; numbers matching none answer. Defaults make the demo deterministic: "
        "numbers ending 1111 are busy, 2222 do not answer, 3333 are unallocated, 4444 reject.")


class ApiKey(Section):
    """A caller of the HTTP API. Give ``key`` (the secret itself) or ``sha256`` (its hex digest, so the
    file never holds the secret); only digests are kept at run time."""

    name: str = Field(min_length=1, max_length=64, description="Who holds the key; shown in audit logs.")
    key: SecretStr | None = Field(None, min_length=16, description="The key itself, 16 characters or more.")
    sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$",
                               description="Lower-case hex SHA-256 of the key.")

    @model_validator(mode="after")
    def _exactly_one(self) -> ApiKey:
        if (self.key is None) == (self.sha256 is None):
            raise at("key", "give exactly one of key or sha256")
        return self

    def digest(self) -> str:
        if self.sha256 is not None:
            return self.sha256
        assert self.key is not None
        return hashlib.sha256(self.key.get_secret_value().encode()).hexdigest()


class ApiConfig(Section):
    enabled: bool = Field(True, description="Serve the HTTP API.")
    listen: str = Field("tcp:8080:interface=127.0.0.1", min_length=1,
                        description="Twisted server endpoint string, e.g. 'ssl:8443:privateKey=key.pem'.")
    keys: list[ApiKey] = Field(default_factory=list, description="API callers. With none, every call is "
                               "refused (401): there is no anonymous access, even on loopback.")

    @model_validator(mode="after")
    def _distinct(self) -> ApiConfig:
        names: set[str] = set()
        digests: set[str] = set()
        for index, key in enumerate(self.keys):
            if key.name in names:
                raise at(f"keys[{index}].name", f"duplicate key name {key.name!r}")
            if key.digest() in digests:
                raise at(f"keys[{index}]", "the same key is configured twice")
            names.add(key.name)
            digests.add(key.digest())
        return self

    def api_key_hashes(self) -> dict[str, str]:
        """``{sha256 hex: name}``: requests are authenticated by hashing the presented key."""
        return {key.digest(): key.name for key in self.keys}


class MessagesConfig(Section):
    directory: Path | None = Field(None, description="Directory of <lang>.yaml files replacing packaged "
                                   "texts (same format as the package's); may add languages.")
    overrides: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="{language: {key: text}} applied last; placeholders must exist "
        "in the default text.")


class LoggingConfig(Section):
    format: Literal["text", "json"] = Field("text", description="json: one object per line for collectors.")
    level: Literal["debug", "info", "warn", "error"] = Field("info", description="Least severe level logged.")
    mask_msisdn: bool = Field(True, description="Mask phone numbers in log lines (GDPR); keys, PINs and "
                              "passwords are always redacted.")


class OutboxConfig(Section):
    poll_seconds: PositiveSeconds = Field(1.0, description="How often queued notices are looked for.")
    retry_delays_seconds: list[PositiveSeconds] = Field(
        default_factory=lambda: [10.0, 60.0, 300.0],
        description="Wait before each new delivery attempt; the last value repeats.")
    max_attempts: int = Field(5, ge=1, description="Attempts before a notice is marked undeliverable.")


# The other sections live in their own modules, which build on Section and the types defined above.
from ..gateway.switch_triggers import TriggerSettings  # noqa: E402
from ..ops.settings import MetricsSettings, SnmpSettings  # noqa: E402
from ._adapters import ChargingConfig, SwitchConfig  # noqa: E402
from ._menus import UssdHttpConfig, UssdMenuConfig  # noqa: E402
from ._messaging import SmppConfig, SmsConfig, UssdConfig  # noqa: E402


class Config(Section):
    """The whole configuration. Its repr never shows secrets; ``redacted()`` is what may be displayed."""

    node: NodeConfig = Field(default_factory=NodeConfig)
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    home: HomeConfig = Field(default_factory=HomeConfig)
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    dialling: DiallingConfig = Field(default_factory=DiallingConfig)
    directory: DirectoryConfig = Field(default_factory=DirectoryConfig)
    charging: ChargingConfig = Field(default_factory=ChargingConfig)
    switch: SwitchConfig = Field(default_factory=SwitchConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    messages: MessagesConfig = Field(default_factory=MessagesConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    outbox: OutboxConfig = Field(default_factory=OutboxConfig)
    smpp: SmppConfig = Field(default_factory=SmppConfig)
    sms: SmsConfig = Field(default_factory=SmsConfig)
    ussd: UssdConfig = Field(default_factory=UssdConfig)
    ussd_menu: UssdMenuConfig = Field(default_factory=UssdMenuConfig)
    ussd_http: UssdHttpConfig = Field(default_factory=UssdHttpConfig)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    snmp: SnmpSettings = Field(default_factory=SnmpSettings)
    triggers: TriggerSettings = Field(default_factory=TriggerSettings, description="Requests from the home "
                                      "switch (missed call, personal DID, PIN login, IVR); needs switch.adapter "
                                      "'ari' (dialplan: route these numbers to Stasis(<switch.ari.app>)) or "
                                      "'simulated' (the demo's calls).")

    @model_validator(mode="after")
    def _triggers_need_inbound_calls(self) -> Config:
        t = self.triggers
        if (t.missed_call_numbers or t.pin_numbers or t.ivr_numbers or t.personal_dids) \
                and self.switch.adapter not in ("ari", "simulated"):
            raise at("triggers", "switch triggers need switch.adapter 'ari' or 'simulated' (the only adapters "
                     f"that take calls in), not {self.switch.adapter!r}")
        return self

    def redacted(self) -> dict[str, Any]:
        """A plain dump for display: URLs without passwords, keys as '***', digests shortened."""
        data = self.model_dump(mode="json")
        data["database"]["url"] = mask_url(self.database.url)
        if self.directory.sql.url is not None:
            data["directory"]["sql"]["url"] = mask_url(self.directory.sql.url)
        for link in data["smpp"]["links"]:
            link["password"] = "***"
        _hide_secrets(data)
        for key in data["api"]["keys"]:
            if key["key"] is not None:
                key["key"] = "***"
            if key["sha256"] is not None:
                key["sha256"] = key["sha256"][:8] + "..."
        return data


def _hide_secrets(data: Any) -> None:
    """Every SecretStr dumps as '**********' already; this also hides what pydantic cannot know is secret."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key in ("password", "community", "auth_key", "priv_key", "secret") and value is not None:
                data[key] = "***"
            else:
                _hide_secrets(value)
    elif isinstance(data, list):
        for item in data:
            _hide_secrets(item)
