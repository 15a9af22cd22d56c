"""The SNMP agent serving ROAMBACK-MIB and sending its notifications; the MIB file ships beside it."""

from pathlib import Path

from .agent import SnmpAgent

MIB_FILE = Path(__file__).with_name("ROAMBACK-MIB.txt")

__all__ = ["MIB_FILE", "SnmpAgent"]
