"""`roamback demo` as a user runs it: its own process, nothing else running, real SMPP over loopback.

The demo stops the reactor when it ends, so it cannot share the test's reactor: it runs as a subprocess,
in an empty working directory and without any ROAMBACK_* variable from the test environment.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path


def run_demo(cwd: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ROAMBACK_")}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "roamback", "demo", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    return done, time.monotonic() - started


OUTCOMES = ("ok  completed   completed", "ok  no credit   refused (no_credit)", "ok  B busy      failed (b_busy)",
            "ok  missed call completed")


def test_demo_places_four_callbacks_from_the_handsets(tmp_path: Path) -> None:
    done, took = run_demo(tmp_path)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert took < 20
    assert re.search(r"simnet SMSC \+ USSD centre on 127\.0\.0\.1:\d+ \(SMPP, roamback bound as transceiver\)", out)
    # alice's one-shot USSD: the centre showed her the service's closing text
    assert "alice's phone  | dials *123*4915112345678#" in out
    assert "alice's phone  | USSD screen: Call-back accepted. We will call you shortly" in out
    assert "(dialogue closed)" in out
    # bruno's and carla's SMS were taken by the service (deliver_sm_resp OK) at the first attempt
    assert "bruno's phone  | SMS ref 1 taken by the service (attempt 1)" in out
    assert "carla's phone  | SMS ref 2 taken by the service (attempt 1)" in out
    for line in OUTCOMES:
        assert line in out
    # dmitri's missed call was rejected busy, unanswered, once the request was stored and before leg A rang
    dmitri = re.findall(r"\] dmitri(?:'s phone \| | {9})(.+)", out)
    busy = dmitri.index("calls +33170000123: busy (missed call, not charged)")
    assert dmitri[0] == "calls +33170000123"
    assert dmitri.index("accepted") < busy < dmitri.index("dialling_a") < dmitri.index("completed")
    # every persisted transition is printed, in order, for the completed call-back
    alice = re.findall(r"\] alice {10}(\w+)", out)
    assert alice == ["received", "accepted", "reserved", "dialling_a", "a_answered", "dialling_b", "bridged",
                     "completed"]
    # one CDR per leg attempt, the busy leg B included
    assert re.search(r"B   \+4915100001111  -         -         \S+  busy", out)
    # the texts as they sit in each handset's simnet inbox, each confirmed by a delivery receipt
    inbox = out.split("What each roamer saw")[1]
    assert re.search(r"alice  USSD     Call-back accepted", inbox)
    assert re.search(r"alice  DELIVRD  Your call to \+4915112345678 has ended\.", inbox)
    assert re.search(r"bruno  DELIVRD  Your balance is too low for a call-back\.", inbox)
    assert re.search(r"carla  DELIVRD  Call-back accepted\.", inbox)
    assert re.search(r"carla  DELIVRD  The number you asked for was busy\.", inbox)
    assert "dmitri CALL     calls +33170000123: busy (missed call, not charged)" in inbox
    assert re.search(r"dmitri DELIVRD  Звонок на \+4915112345678 завершён\.", inbox)
    assert out.rstrip().endswith("demo finished: every call-back ended as expected")


def test_demo_exits_1_when_a_callback_ends_otherwise(tmp_path: Path) -> None:
    config = tmp_path / "busy.yaml"
    config.write_text("switch:\n  simulated:\n    rules:\n      - {match: '5678$', leg: B, outcome: busy}\n")
    done, _ = run_demo(tmp_path, "--config", str(config))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "BAD completed   failed (b_busy)" in done.stdout
    assert "ok  no credit   refused (no_credit)" in done.stdout
    assert done.stdout.rstrip().endswith("demo FAILED")


def test_demo_with_diameter_charging_debits_the_simnet_ocs(tmp_path: Path) -> None:
    done, _ = run_demo(tmp_path, "--charging", "diameter")
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert re.search(r"simnet OCS ocs\.simnet\.test \(Diameter Ro\) on 127\.0\.0\.1:\d+", out)
    for line in OUTCOMES:
        assert line in out
    accounts = dict(re.findall(r"^  (alice|bruno|carla|dmitri) +balance +(\d+)  reserved 0$", out, re.MULTILINE))
    assert int(accounts["alice"]) < 1000  # alice's call was charged by the OCS (CCR-T)
    assert int(accounts["dmitri"]) < 1500  # so was dmitri's call-back; his missed call itself cost nothing
    assert accounts["bruno"] == "20" and accounts["carla"] == "2000"  # refused and failed: nothing charged
