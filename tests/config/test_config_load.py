from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from roamback.config import Config, ConfigError, config_warnings, load_config
from roamback.core.model import CallMode
from roamback.core.reasons import HangupCause


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "roamback.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def _errors(path: str | None, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path, environ or {})
    assert str(info.value) == "\n".join(info.value.errors)
    return list(info.value.errors)


def test_no_file_gives_the_embedded_mode() -> None:
    config = load_config(None, {})
    assert config.database.url == "sqlite:///var/roamback.sqlite"
    assert config.charging.backend == "ledger" and config.charging.ledger.seed_demo_data
    assert config.switch.adapter == "simulated"
    assert config.directory.backend == "table"
    assert config.api.listen == "tcp:8080:interface=127.0.0.1"
    assert config.dialling.mode is CallMode.A_FIRST
    assert config.dialling.a_retry_causes == [HangupCause.BUSY, HangupCause.NO_ANSWER]
    assert config.policy.daily_cap == 5
    assert "+881" in config.policy.blocked_prefixes
    assert config.api.api_key_hashes() == {}


def test_an_empty_file_is_the_embedded_mode(tmp_path: Path) -> None:
    assert load_config(_write(tmp_path, "# nothing yet\n"), {}) == load_config(None, {})


def test_file_values_are_typed_and_numbers_stay_text(tmp_path: Path) -> None:
    path = _write(tmp_path, """
home:
  region: no            # Norway, not false
  service_caller_id: +4721000000
policy:
  banned_visited_regions: [NO, cu]
  blocked_prefixes: [+881, +979]
  daily_cap: 3
dialling:
  mode: simultaneous
  a_retry_delays_seconds: [5, 7.5]
""")
    config = load_config(path, {})
    assert config.home.region == "NO"
    assert config.home.service_caller_id == "+4721000000"
    assert config.policy.banned_visited_regions == ["NO", "CU"]
    assert config.policy.blocked_prefixes == ["+881", "+979"]
    assert config.policy.daily_cap == 3
    assert config.dialling.mode is CallMode.SIMULTANEOUS
    assert config.dialling.a_retry_delays_seconds == [5.0, 7.5]


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "policy:\n  daily_cap: 9\n  cooldown_seconds: 10\n")
    config = load_config(path, {
        "ROAMBACK_POLICY__DAILY_CAP": "3",
        "roamback_policy__blocked_prefixes": '["+881","+882"]',
        "ROAMBACK_SWITCH__SIMULATED__SPEED": "100",
        "ROAMBACK_LOGGING__MASK_MSISDN": "false",
        "ROAMBACK_TEST_PG_URL": "postgresql://not-config",  # no '__': not a configuration variable
        "PATH": "/usr/bin",
    })
    assert config.policy.daily_cap == 3
    assert config.policy.cooldown_seconds == 10
    assert config.policy.blocked_prefixes == ["+881", "+882"]
    assert config.switch.simulated.speed == 100.0
    assert config.logging.mask_msisdn is False


def test_every_bad_key_is_named_at_once(tmp_path: Path) -> None:
    path = _write(tmp_path, """
policy:
  daily_cap: -1
  dayly_cap: 3
  blocked_prefixes: ["+881", "0882"]
dialling:
  a_retry_causes: [busy, unallocated]
  mode: sideways
switch:
  simulated:
    rules:
      - {match: "\\\\+\\\\d+1111$", outcome: busy}
      - {match: "(", outcome: busy}
colour: blue
""")
    errors = _errors(path, {"ROAMBACK_POLICY__COOLDOWN_SECONDS": "soon"})
    assert "policy.daily_cap: must be >= 0" in errors
    assert any(e.startswith("policy.dayly_cap: unknown key") and "'daily_cap'" in e for e in errors)
    assert any(e.startswith("policy.blocked_prefixes[1]:") for e in errors)
    assert any(e.startswith("dialling.a_retry_causes[1]:") and "never retried" in e for e in errors)
    assert any(e.startswith("dialling.mode: must be one of 'a_first'") for e in errors)
    assert any(e.startswith("switch.simulated.rules[1].match: not a valid regular expression")
               for e in errors)
    assert any(e.startswith("colour: unknown key") for e in errors)
    assert "ROAMBACK_POLICY__COOLDOWN_SECONDS (policy.cooldown_seconds): must be a whole number" in errors
    assert len(errors) == 8


def test_environment_errors_name_the_variable() -> None:
    errors = _errors(None, {"ROAMBACK_POLICY__DAYLY_CAP": "3", "ROAMBACK_POLICY_DAILY_CAP": "3"})
    assert any(e.startswith("ROAMBACK_POLICY__DAYLY_CAP (policy.dayly_cap): unknown key") for e in errors)
    assert any(e.startswith("ROAMBACK_POLICY_DAILY_CAP: ") and "double underscore" in e for e in errors)


def test_cross_field_errors_name_the_exact_key() -> None:
    errors = _errors(None, {"ROAMBACK_DIRECTORY__BACKEND": "sql", "ROAMBACK_CHARGING__BACKEND": "diameter",
                            "ROAMBACK_POLICY__MIN_TALK_SECONDS": "4000"})
    assert "directory.sql.url: required when directory.backend is 'sql'" in errors
    assert "charging.diameter: required when charging.backend is 'diameter'" in errors
    assert any(e.startswith("ROAMBACK_POLICY__MIN_TALK_SECONDS (policy.min_talk_seconds): must not exceed")
               for e in errors)


def test_unparseable_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "policy:\n  daily_cap: 3\n  blocked_prefixes: [+881\nhome: {}\n")
    (error,) = _errors(path)
    assert error.startswith(f"{path}:4: not valid YAML")


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "policy:\n  daily_cap: 3\n  daily_cap: 0\n")
    (error,) = _errors(path)
    assert error == f"{path}:3: not valid YAML: duplicate key 'daily_cap'"


def test_missing_file_and_non_mapping_top_level(tmp_path: Path) -> None:
    (missing,) = _errors(str(tmp_path / "absent.yaml"))
    assert missing.startswith(f"{tmp_path / 'absent.yaml'}: cannot read")
    (listed,) = _errors(_write(tmp_path, "- policy\n"))
    assert listed.endswith("the top level must be a mapping of sections")


def test_message_overrides_are_checked_with_the_rest(tmp_path: Path) -> None:
    path = _write(tmp_path, """
home: {default_language: de}
messages:
  overrides:
    fr: {balance: "Solde {solde}", refusal.nope: "x"}
policy: {daily_cap: x}
""")
    errors = _errors(path)
    assert "policy.daily_cap: must be a whole number" in errors
    assert any(e.startswith("messages.overrides.fr.balance: placeholder {solde}") for e in errors)
    assert "messages.overrides.fr.refusal.nope: unknown key" in errors


def test_default_language_must_have_texts(tmp_path: Path) -> None:
    errors = _errors(None, {"ROAMBACK_HOME__DEFAULT_LANGUAGE": "de"})
    assert errors[0].startswith("ROAMBACK_HOME__DEFAULT_LANGUAGE (home.default_language): no texts")
    (tmp_path / "de.yaml").write_text('help: "Rückruf: *123*Nummer# wählen."\n', encoding="utf-8")
    config = load_config(None, {"ROAMBACK_HOME__DEFAULT_LANGUAGE": "de",
                                "ROAMBACK_MESSAGES__DIRECTORY": str(tmp_path)})
    assert config.home.default_language == "de"


def test_secrets_never_show_in_repr_str_or_errors(tmp_path: Path) -> None:
    path = _write(tmp_path, """
database: {url: "postgresql+psycopg://roamback:dbpass-Zq81@db.example/roamback"}
directory:
  backend: sql
  sql: {url: "oracle+oracledb://hlr:hlrpass-Kx2@hlr.example/orcl"}
api:
  keys:
    - {name: portal, key: "portal-key-0123456789abcdef"}
""")
    config = load_config(path, {})
    for text in (repr(config), str(config), str(config.redacted())):
        for secret in ("dbpass-Zq81", "hlrpass-Kx2", "portal-key-0123456789abcdef"):
            assert secret not in text
    assert config.database.url.endswith("@db.example/roamback")  # the code still gets the real URL
    assert config.redacted()["database"]["url"] == "postgresql+psycopg://roamback:***@db.example/roamback"
    errors = _errors(None, {"ROAMBACK_DATABASE__URL": "nosuchdb://u:leak-me@h/d",
                            "ROAMBACK_API__KEYS": "[{name: a, key: leak-me-too}]"})
    assert len(errors) == 2
    assert not any("leak-me" in e for e in errors)


def test_api_keys_are_kept_as_hashes(tmp_path: Path) -> None:
    digest = hashlib.sha256(b"second-key-0123456789").hexdigest()
    keys = f'[{{name: portal, key: "first-key-0123456789"}}, {{name: crm, sha256: {digest}}}]'
    config = load_config(None, {"ROAMBACK_API__KEYS": keys})
    assert config.api.api_key_hashes() == {
        hashlib.sha256(b"first-key-0123456789").hexdigest(): "portal",
        digest: "crm",
    }
    (error,) = _errors(None, {"ROAMBACK_API__KEYS": "[{name: b}]"})
    assert error == "ROAMBACK_API__KEYS (api.keys[0].key): give exactly one of key or sha256"
    first = f"{{name: a, sha256: {digest}}}"
    (error,) = _errors(None, {"ROAMBACK_API__KEYS": f"[{first}, {{name: a, key: x123456789abcdefg}}]"})
    assert error == "ROAMBACK_API__KEYS (api.keys[1].name): duplicate key name 'a'"
    (error,) = _errors(None, {"ROAMBACK_API__KEYS": f"[{first}, {{name: b, sha256: {digest}}}]"})
    assert error == "ROAMBACK_API__KEYS (api.keys[1]): the same key is configured twice"


def test_config_is_immutable() -> None:
    config = load_config(None, {})
    with pytest.raises(ValueError):
        config.policy.daily_cap = 0  # type: ignore[misc]
    assert isinstance(config, Config)


def test_warnings_for_risky_but_valid_settings() -> None:
    assert config_warnings(load_config(None, {})) == [
        "api.keys: no API key configured: the HTTP API refuses every call (401)"]
    risky = load_config(None, {"ROAMBACK_API__LISTEN": "tcp:8080", "ROAMBACK_POLICY__DAILY_CAP": "0",
                               "ROAMBACK_DATABASE__URL": "postgresql+psycopg://db/rb"})
    fields = [w.split(":")[0] for w in config_warnings(risky)]
    assert fields == ["api.keys", "api.listen", "charging.ledger.seed_demo_data", "policy.daily_cap"]


def test_secrets_of_the_edge_sections_never_show(tmp_path: Path) -> None:
    path = _write(tmp_path, """
switch:
  adapter: ari
  ari: {password: "ari-pass-Qw1"}
  amqp: {password: "amqp-pass-Er2"}
ussd_menu: {store: redis, redis: {password: "redis-pass-Ty3"}}
ussd_http: {enabled: true, secret: "ussd-secret-Ui4-0123456789"}
snmp:
  enabled: true
  community: "community-Op5"
  users: [{name: nms, auth_key: "auth-key-As6", priv_key: "priv-key-Df7"}]
""")
    config = load_config(path, {})
    for text in (repr(config), str(config), str(config.redacted())):
        for secret in ("ari-pass-Qw1", "amqp-pass-Er2", "redis-pass-Ty3", "ussd-secret-Ui4-0123456789",
                       "community-Op5", "auth-key-As6", "priv-key-Df7"):
            assert secret not in text, secret
    errors = _errors(None, {"ROAMBACK_SWITCH__ADAPTER": "ari",
                            "ROAMBACK_SWITCH__ARI": '{base_url: "http://u:url-pass-Gh8@pbx.example:8088/"}'})
    assert any("base_url" in e and "must not carry user:password" in e for e in errors), errors
    assert not any("url-pass-Gh8" in e for e in errors)
