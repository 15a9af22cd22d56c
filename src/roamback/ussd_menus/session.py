"""What a front door hands the menu engine (who is dialling) and gets back (the next page)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MenuSession:
    """Who is dialling: ``id`` is unique per open dialogue at the door, ``msisdn`` is network-asserted."""

    id: str
    msisdn: str
    language: str | None = None  # a hint for texts shown before the subscriber is known


@dataclass(frozen=True, slots=True)
class Screen:
    """One page to show; ``close`` tells the door to end the dialogue with it."""

    text: str
    close: bool
