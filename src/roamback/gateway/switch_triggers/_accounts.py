"""What the switch triggers need to know about subscribers beyond the core's directory, as one port.

The core decides eligibility, numbers and fraud rules; this port only answers the questions a phone call
cannot: who a caller ID stands for, where a one-touch request should go, what a personal DID belongs to,
the PIN hash of an account, and whether wrong PINs have locked it. ``MemoryTriggerAccounts`` serves them
from configuration and memory (no lockout: a prober's attempts are limited per call only);
``storage.trigger_accounts.SqlTriggerAccounts`` reads the same facts from the subscriber tables and keeps
the failure count there, so a lockout outlasts the call and the process.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Protocol

from ._settings import PersonalDid


class TriggerAccounts(Protocol):
    async def caller(self, caller_id: str) -> str | None:
        """The subscriber (E.164 MSISDN) a caller ID stands for: their own number, or one remembered after
        a PIN login. None for anyone else: unknown callers never cause a request."""
        ...

    async def remember_caller(self, caller_id: str, msisdn: str) -> None:
        """After a PIN login, recognise ``caller_id`` as ``msisdn`` next time (no answer, no PIN)."""
        ...

    async def default_destination(self, msisdn: str) -> str | None:
        """The number a one-touch request (missed call, PIN login) connects the subscriber to."""
        ...

    async def personal_did(self, dialled: str) -> PersonalDid | None: ...

    async def pin_hash(self, msisdn: str) -> str | None:
        """The hash ``ussd_menus.pins.hash_pin`` wrote, or None if the subscriber has no PIN."""
        ...

    async def pin_locked(self, msisdn: str) -> bool:
        """True while wrong PINs keep the account from logging in, whichever call they came from."""
        ...

    async def pin_failed(self, msisdn: str) -> datetime | None:
        """Count a wrong PIN; the end of the lockout when this failure started one, else None."""
        ...

    async def pin_succeeded(self, msisdn: str) -> None:
        """A right PIN: failures before it no longer count."""
        ...


class MemoryTriggerAccounts:
    """``TriggerAccounts`` held in memory: DIDs from the settings, the rest handed in (demo, tests)."""

    def __init__(
        self, *, destinations: Mapping[str, str], dids: Iterable[PersonalDid] = (),
        pin_hashes: Mapping[str, str] | None = None,
    ) -> None:
        self._destinations = dict(destinations)
        self._dids = {entry.did: entry for entry in dids}
        self._pins = dict(pin_hashes or {})
        self._remembered: dict[str, str] = {}

    async def caller(self, caller_id: str) -> str | None:
        if caller_id in self._destinations or caller_id in self._pins:
            return caller_id
        return self._remembered.get(caller_id)

    async def remember_caller(self, caller_id: str, msisdn: str) -> None:
        self._remembered[caller_id] = msisdn

    async def default_destination(self, msisdn: str) -> str | None:
        return self._destinations.get(msisdn)

    async def personal_did(self, dialled: str) -> PersonalDid | None:
        return self._dids.get(dialled)

    async def pin_hash(self, msisdn: str) -> str | None:
        return self._pins.get(msisdn)

    async def pin_locked(self, msisdn: str) -> bool:
        return False

    async def pin_failed(self, msisdn: str) -> datetime | None:
        return None

    async def pin_succeeded(self, msisdn: str) -> None:
        return None
