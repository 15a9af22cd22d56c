"""simnet's configuration and its two commands' argument handling."""

from __future__ import annotations

from pathlib import Path

import pytest

from roamback.cli import main
from roamback.simnet import SimnetConfigError, load_config, parse_config


def test_defaults_match_a_service_on_embedded_defaults() -> None:
    config = load_config(None)
    assert config.smpp.listen == "tcp:2775:interface=127.0.0.1"
    assert config.smpp.accounts == {"roamback": "simnet"}
    assert config.control.listen == "tcp:2776:interface=127.0.0.1"
    assert (config.sms.deliver_to, config.ussd.deliver_to, config.ussd.dialect.preset) == (
        "roamback", "roamback", "smpp34")


def test_every_bad_key_is_named() -> None:
    with pytest.raises(SimnetConfigError) as raised:
        parse_config({"smp": {}, "sms": {"rules": [{"match": "(", "outcome": "lost"}]},
                      "ussd": {"dialect": {"preset": "6d", "colse_op": 1}},
                      "smpp": {"accounts": {"roamback": "far-too-long"}}})
    assert sorted(raised.value.errors) == sorted([
        "smp: unknown key",
        "sms.rules.0.match: not a regular expression: missing ), unterminated subpattern at position 0",
        "sms.rules.0.outcome: Input should be 'delivered', 'undeliverable', 'expired' or 'reject'",
        "ussd.dialect.colse_op: unknown key",
        "smpp.accounts: 'roamback': SMPP 3.4 allows system_id 1-15 and password 0-8 characters",
    ])


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(SimnetConfigError, match="No such file"):
        load_config(str(tmp_path / "missing.yaml"))
    path = tmp_path / "simnet.yaml"
    path.write_text("ussd:\n  dialect: mica\n  screen_timeout_seconds: 5\n", encoding="utf-8")
    config = load_config(str(path))
    assert (config.ussd.dialect.dialogue_key.value, config.ussd.screen_timeout_seconds) == (
        "user_message_reference", 5)


def test_simnet_command_refuses_a_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "simnet.yaml"
    path.write_text("control: {port: 1}\n", encoding="utf-8")
    assert main(["simnet", "--config", str(path)]) == 2
    assert capsys.readouterr().err == "control.port: unknown key\n"


def test_phone_command_checks_the_address(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["phone", "447700900001", "--simnet", "nowhere"]) == 2
    assert capsys.readouterr().err == "--simnet: 'nowhere' is not HOST:PORT\n"
