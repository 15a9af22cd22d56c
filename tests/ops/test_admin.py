"""``roamback admin`` through a parser built with ``register``, against a migrated SQLite database on which
the real engine then places call-backs."""

from __future__ import annotations

import argparse
import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_twisted
import sqlalchemy as sa
from twisted.internet import reactor

from roamback.config import Config, load_config
from roamback.gateway.switch_triggers import PersonalDid
from roamback.ops.admin import register
from roamback.storage.engine import make_engine
from roamback.storage.pool import Database
from roamback.storage.schema import audit_log
from roamback.storage.trigger_accounts import default_destination, personal_did

from ..core.harness import ALICE, DEST_B_BUSY, DEST_OK, make_harness

CALLBACK_NUMBER = "+34600123456"


def _admin(config: Config, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="roamback")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["admin", *argv])
    code = args.run(args, config)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def config(sqlite_url: str) -> Config:
    return load_config(None, {"ROAMBACK_DATABASE__URL": sqlite_url})


def test_provisioning_round_trip(config: Config, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    ok = [
        ("subscriber", "add", "06 12 34 56 78", "--visited", "es", "--account", "acct-alice"),
        ("account", "create", "acct-alice"),
        ("account", "top-up", "acct-alice", "1500", "--note", "voucher 42"),
        ("number", "add", ALICE, CALLBACK_NUMBER),
        ("prefix", "block", "+979", "--reason", "premium"),
        ("rates", "export", str(tmp_path / "rates.csv")),
        ("rates", "import", str(tmp_path / "rates.csv")),
        ("subscriber", "block", ALICE, "--reason", "fraud suspicion"),
    ]
    for argv in ok:
        code, _, err = _admin(config, capsys, *argv)
        assert (code, err) == (0, ""), argv
    shown = _admin(config, capsys, "subscriber", "show", ALICE)[1]
    assert "msisdn: +33612345678" in shown and "active: False" in shown and "visited_region: ES" in shown
    assert f"callback number: {CALLBACK_NUMBER} (confirmed)" in shown
    assert "balance: 1500 EUR" in shown
    assert _admin(config, capsys, "prefix", "list")[1] == "+979\tpremium\n"
    assert _admin(config, capsys, "subscriber", "list")[1] == f"{ALICE}\tblocked\tES\tacct-alice\n"
    engine = make_engine(config.database.url)
    with engine.connect() as conn:
        actions = [row.action for row in conn.execute(sa.select(audit_log).order_by(audit_log.c.id))]
    engine.dispose()
    assert actions == ["subscriber.add", "account.create", "account.topup", "number.add", "prefix.block",
                       "rates.import", "subscriber.block"]


def test_operator_mistakes_are_one_line_errors(config: Config, capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("leg,prefix,description,per_minute_minor,connect_fee_minor,initial_seconds,increment_seconds\n"
                   "C,44,UK,12,0,30,6\nB,44,UK,twelve,0,30,6\n")
    assert _admin(config, capsys, "subscriber", "show", "+33600000009")[:2] == (1, "")
    assert _admin(config, capsys, "account", "top-up", "nobody", "10")[0] == 1
    code, _, err = _admin(config, capsys, "rates", "import", str(bad))
    assert code == 1 and err.count("bad.csv:") == 2  # every bad line, by number
    code, _, err = _admin(config, capsys, "prefix", "block", "+88x")
    assert code == 1 and err.startswith("error: blocked prefix must be digits")
    with pytest.raises(SystemExit):
        _admin(config, capsys, "cdr", "--from", "yesterday", "--to", "2024-01-01")


@pytest_twisted.ensureDeferred
async def test_history_cdrs_and_kpis_of_real_callbacks(config: Config, capsys: pytest.CaptureFixture[str],
                                                       tmp_path: Path) -> None:
    for argv in (("subscriber", "add", ALICE, "--visited", "ES", "--account", f"acct{ALICE}"),
                 ("account", "create", f"acct{ALICE}"), ("account", "top-up", f"acct{ALICE}", "5000")):
        assert _admin(config, capsys, *argv)[0] == 0  # the first command also migrates the database
    db = Database(make_engine(config.database.url), reactor)
    db.start()
    try:
        h = await make_harness(db)
        done = await h.finished(await h.submit(DEST_OK))
        busy = await h.finished(await h.submit(DEST_B_BUSY))
    finally:
        await db.stop()
    code, history, _ = _admin(config, capsys, "callbacks", "history", done.id)
    assert code == 0
    assert history.splitlines()[0] == f"call-back {done.id}: completed, api from {ALICE} to {DEST_OK}"
    assert "  - -> received" in history and "bridged -> completed" in history
    assert history.count("  leg ") == 2 and "notice completed to +33612345678: queued" in history
    assert _admin(config, capsys, "callbacks", "live")[1] == ""
    today = datetime.now(UTC).date()
    window = ("--from", str(today - timedelta(days=1)), "--to", str(today + timedelta(days=2)))
    assert _admin(config, capsys, "cdr", *window, "--output", str(tmp_path / "cdr.csv"))[2] == "4 CDRs\n"
    with open(tmp_path / "cdr.csv", newline="") as f:
        cdrs = list(csv.DictReader(f))
    assert [(c["request_id"], c["leg"], c["cause"]) for c in cdrs] == [
        (done.id, "A", "normal"), (done.id, "B", "normal"), (busy.id, "A", "normal"), (busy.id, "B", "busy")]
    assert all(c["requester"] == ALICE and c["started_at"].endswith("+00:00") for c in cdrs)
    kpis = _admin(config, capsys, "kpi", *window)[1].splitlines()
    assert kpis[0] == "prefix\tattempts\tbridged\tasr\tacd_seconds"
    prefix, attempts, bridged, asr, acd = kpis[1].split("\t")
    assert (prefix, attempts, bridged, asr) == ("+49", "2", "1", "0.50") and 15 <= int(acd) <= 25
    assert _admin(config, capsys, "cdr", "--from", "2000-01-01", "--to", "2000-01-02")[1] == ",".join(
        ("request_id", "call_id", "leg", "attempt", "channel", "requester", "dialled", "caller_id", "started_at",
         "answered_at", "bridged_at", "ended_at", "cause", "billed_seconds", "cost_minor")) + "\n"


def test_switch_trigger_destinations_and_personal_dids(config: Config, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (("subscriber", "add", ALICE), ("number", "add", ALICE, CALLBACK_NUMBER),
                 ("subscriber", "destination", ALICE, "0049 151 12345678"),
                 ("did", "add", "01 40 00 00 09", ALICE, "--callback", CALLBACK_NUMBER),
                 ("did", "add", "+33140000010", ALICE, "--destination", "0140000077"),
                 ("did", "add", "+33140000010", ALICE)):  # the same owner may change a DID
        code, _, err = _admin(config, capsys, *argv)
        assert (code, err) == (0, ""), argv
    assert _admin(config, capsys, "did", "list")[1] == (
        f"+33140000009\t{ALICE}\t{CALLBACK_NUMBER}\t-\n+33140000010\t{ALICE}\t-\t-\n")
    engine = make_engine(config.database.url)
    try:
        with engine.connect() as conn:
            assert default_destination(conn, ALICE) == "+4915112345678"
            assert personal_did(conn, "+33140000009") == PersonalDid(
                did="+33140000009", subscriber=ALICE, callback_number=CALLBACK_NUMBER)
        assert _admin(config, capsys, "subscriber", "destination", ALICE, "--clear")[0] == 0
        assert _admin(config, capsys, "did", "remove", "+33140000010")[1] == "DID +33140000010 removed\n"
        with engine.connect() as conn:
            assert default_destination(conn, ALICE) is None
            assert personal_did(conn, "+33140000010") is None
            actions = [row.action for row in conn.execute(sa.select(audit_log).order_by(audit_log.c.id))]
    finally:
        engine.dispose()
    assert actions[2:] == ["subscriber.destination", "did.add", "did.add", "did.add", "subscriber.destination",
                           "did.remove"]


@pytest.mark.parametrize(("argv", "message"), [
    (("subscriber", "destination", "+33600000009", "+4915112345678"), "error: no subscriber +33600000009\n"),
    (("subscriber", "destination", ALICE, "12"), "error: '12' is not a phone number\n"),
    (("did", "add", "+33140000009", "+33600000009"), "error: no subscriber +33600000009\n"),
    (("did", "add", "+33140000009", ALICE, "--destination", "abc"), "error: 'abc' is not a phone number\n"),
    (("did", "add", "+33140000009", ALICE, "--callback", "+34600999999"),
     f"error: +34600999999 is not a confirmed callback number of {ALICE}; add it with `roamback admin number add`\n"),
    (("did", "add", "+33140000010", "+33687654321"), f"error: DID +33140000010 belongs to {ALICE}; remove it first\n"),
    (("did", "remove", "+33140000099"), "error: no DID +33140000099\n"),
])
def test_switch_trigger_mistakes_are_one_line_errors(config: Config, capsys: pytest.CaptureFixture[str],
                                                     argv: tuple[str, ...], message: str) -> None:
    for setup in (("subscriber", "add", ALICE), ("subscriber", "add", "+33687654321"),
                  ("did", "add", "+33140000010", ALICE)):
        assert _admin(config, capsys, *setup)[0] == 0
    assert _admin(config, capsys, *argv) == (1, "", message)
    with pytest.raises(SystemExit):  # a number and --clear, or neither: argparse refuses
        _admin(config, capsys, "subscriber", "destination", ALICE, "+4915112345678", "--clear")
