"""Callback triggers from the home switch: missed calls, personal DIDs, PIN logins and IVR requests.

Sans-I/O parts: ``_digits`` (DTMF entry), ``_dialogues`` (what each number means, over ports); I/O
parts: ``_ari_rest``/``_ari_call`` (one ARI channel), ``_core_door`` (the engine), ``_front_door``;
``_simulated_door`` serves the same dialogues on the embedded simulated switch.
See docs/switch-triggers.md for the product behaviour and the wiring.
"""

from ._accounts import MemoryTriggerAccounts, TriggerAccounts
from ._front_door import SwitchTriggers
from ._settings import PersonalDid, TriggerSettings, TriggerSounds
from ._simulated_door import SimulatedTriggerDoor

__all__ = ["MemoryTriggerAccounts", "PersonalDid", "SimulatedTriggerDoor", "SwitchTriggers", "TriggerAccounts",
           "TriggerSettings", "TriggerSounds"]
