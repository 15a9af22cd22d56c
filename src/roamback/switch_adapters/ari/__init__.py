"""Asterisk ARI switch adapter: REST over treq, events over an autobahn WebSocket, both under Twisted."""

from ._settings import AriSettings, PromptSounds, Route
from ._switch import AriSwitch

__all__ = ["AriSettings", "AriSwitch", "PromptSounds", "Route"]
