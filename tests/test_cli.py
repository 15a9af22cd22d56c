from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import yaml

from roamback.cli import main
from roamback.config import Config


@pytest.fixture
def good_file(tmp_path: Path) -> str:
    path = tmp_path / "good.yaml"
    path.write_text("""
database: {url: "postgresql+psycopg://rb:db-secret-77@db/rb"}
api:
  keys: [{name: portal, key: "portal-secret-0123456789"}]
charging: {ledger: {seed_demo_data: false}}
""", encoding="utf-8")
    return str(path)


@pytest.fixture
def bad_file(tmp_path: Path) -> str:
    path = tmp_path / "bad.yaml"
    path.write_text("policy:\n  daily_cap: -1\n  dayly_cap: 2\n", encoding="utf-8")
    return str(path)


def _fake_module(monkeypatch: pytest.MonkeyPatch, name: str, **functions: Any) -> None:
    module = types.ModuleType(name)
    for attr, fn in functions.items():
        setattr(module, attr, fn)
    monkeypatch.setitem(sys.modules, name, module)


def test_config_check_ok_prints_ok(good_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", good_file]) == 0
    assert capsys.readouterr().out == "OK\n"


def test_config_check_prints_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("", encoding="utf-8")
    assert main(["config", "check", str(empty)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == ["OK", "warning: api.keys: no API key configured: the HTTP API refuses every call (401)"]


def test_config_check_lists_every_error_and_exits_2(bad_file: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", bad_file]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert lines[0] == "policy.daily_cap: must be >= 0"
    assert lines[1].startswith("policy.dayly_cap: unknown key")
    assert "Traceback" not in captured.err


def test_config_check_show_hides_secrets(good_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", good_file, "--show"]) == 0
    out = capsys.readouterr().out
    assert "db-secret-77" not in out and "portal-secret-0123456789" not in out
    shown = yaml.safe_load(out.split("\n", 1)[1])
    assert shown["database"]["url"] == "postgresql+psycopg://rb:***@db/rb"
    assert shown["api"]["keys"] == [{"name": "portal", "key": "***", "sha256": None}]


def test_environment_counts_in_config_check(good_file: str, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ROAMBACK_POLICY__DAILY_CAP", "-3")
    assert main(["config", "check", good_file]) == 2
    assert "ROAMBACK_POLICY__DAILY_CAP (policy.daily_cap): must be >= 0" in capsys.readouterr().err


def test_serve_hands_the_config_to_the_app(good_file: str, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Config] = []
    _fake_module(monkeypatch, "roamback.app", serve=lambda config: seen.append(config) or 7)
    assert main(["serve", "--config", good_file]) == 7
    assert list(seen[0].api.api_key_hashes().values()) == ["portal"]


def test_serve_without_file_runs_the_embedded_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Config] = []
    _fake_module(monkeypatch, "roamback.app", serve=lambda config: seen.append(config) or 0)
    assert main(["serve"]) == 0
    assert seen[0].database.url == "sqlite:///var/roamback.sqlite"


def test_serve_with_a_bad_config_never_starts(bad_file: str, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    _fake_module(monkeypatch, "roamback.app", serve=lambda config: pytest.fail("must not start"))
    assert main(["serve", "--config", bad_file]) == 2
    assert "policy.daily_cap: must be >= 0" in capsys.readouterr().err


def test_demo_gets_config_and_arguments(good_file: str, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Config, Any]] = []
    _fake_module(monkeypatch, "roamback.demo", run=lambda config, args: calls.append((config, args)) or 0)
    assert main(["demo", "--config", good_file]) == 0
    config, args = calls[0]
    assert args.command == "demo"
    assert config.charging.ledger.seed_demo_data is False


def test_db_upgrade_migrates_the_configured_database(good_file: str, monkeypatch: pytest.MonkeyPatch) -> None:
    urls: list[str] = []
    _fake_module(monkeypatch, "roamback.storage.migrate", upgrade=urls.append)
    assert main(["db", "upgrade", "--config", good_file]) == 0
    assert urls == ["postgresql+psycopg://rb:db-secret-77@db/rb"]


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_install_reactor_installs_asyncio_and_refuses_another() -> None:
    fresh = _python("from roamback.cli import install_reactor; install_reactor(); install_reactor()\n"
                    "from twisted.internet import reactor; print(type(reactor).__name__)")
    assert fresh.stdout.strip() == "AsyncioSelectorReactor", fresh.stderr
    other = _python("from twisted.internet import selectreactor; selectreactor.install()\n"
                    "from roamback.cli import install_reactor; install_reactor()")
    assert other.returncode != 0
    assert "another reactor (SelectReactor)" in other.stderr


def test_python_dash_m_runs_the_cli(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "roamback", "config", "check", str(tmp_path / "none.yaml")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "none.yaml: cannot read" in result.stderr
    assert "Traceback" not in result.stderr
