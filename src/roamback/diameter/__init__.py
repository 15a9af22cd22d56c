"""Diameter: a Twisted client peer (codec, dictionary, peer state machine, routing) and the Ro charging backend.

Build the backend with ``RoCharging.from_settings(RoSettings(...), reactor)``, add ``backend.service`` to
the service tree, and give the engine's hang-up hook to ``backend.set_listener``.
"""

from .ro import RoCharging, RoSessionListener
from .settings import DiameterPeerSettings, LegChargingSettings, RoSettings
from .twisted_peer import DiameterNode, RequestNotAnswered

__all__ = [
    "DiameterNode",
    "DiameterPeerSettings",
    "LegChargingSettings",
    "RequestNotAnswered",
    "RoCharging",
    "RoSessionListener",
    "RoSettings",
]
