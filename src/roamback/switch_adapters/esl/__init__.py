"""FreeSWITCH switch adapter: the event socket (ESL, inbound mode) under Twisted, one connection for
commands and JSON events, kept up by a ``ClientService``."""

from ._settings import EslPromptSounds, EslRoute, EslSettings
from ._switch import EslSwitch

__all__ = ["EslPromptSounds", "EslRoute", "EslSettings", "EslSwitch"]
