"""ROAMBACK-MIB.txt: valid for libsmi, and the same numbering as the agent's layout and the core's enums."""

from __future__ import annotations

import os
import re
import subprocess
from enum import StrEnum

import pytest

from roamback.core.model import Channel
from roamback.core.reasons import FailureReason, RefusalReason
from roamback.ops.figures import AlarmKind
from roamback.ops.snmp import MIB_FILE
from roamback.ops.snmp._mib import NOTIFICATIONS

from .snmp_tools import ietf_mib_dir, tool

TEXT = MIB_FILE.read_text()


def test_smilint_level_3_is_clean() -> None:
    result = subprocess.run([tool("smilint"), "-l", "3", "-s", str(MIB_FILE)], capture_output=True, text=True,
                            env={**os.environ, "SMIPATH": ietf_mib_dir()}, timeout=30)
    assert result.returncode == 0
    assert result.stdout + result.stderr == ""


def _camel(value: str) -> str:
    head, *rest = value.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _enumeration(tc: str) -> list[tuple[str, int]]:
    body = re.search(rf"{tc} ::= TEXTUAL-CONVENTION.*?SYNTAX INTEGER \{{(.*?)\}}", TEXT, re.S)
    assert body is not None, tc
    return [(name, int(number)) for name, number in re.findall(r"(\w+)\((\d+)\)", body[1])]


@pytest.mark.parametrize(
    ("tc", "members"),
    [("RoambackChannel", Channel), ("RoambackRefusalCause", RefusalReason), ("RoambackFailureCause", FailureReason)],
)
def test_enumerations_follow_the_core_enums(tc: str, members: type[StrEnum]) -> None:
    assert _enumeration(tc) == [(_camel(m.value), i) for i, m in enumerate(members, start=1)]


def test_notifications_are_numbered_as_the_agent_sends_them() -> None:
    declared = dict(re.findall(r"^(roamback\w+) NOTIFICATION-TYPE.*?::= \{ roambackNotifications (\d+) \}", TEXT,
                               re.S | re.M))
    assert {name: int(number) for name, number in declared.items()} == {
        f"roamback{kind.value[0].upper()}{kind.value[1:]}": NOTIFICATIONS[kind] for kind in AlarmKind
    }
