"""simnet: the operator's network, simulated, so the service can be shown and tested without one.

``roamback simnet`` is an SMSC and a USSD centre behind one SMPP listener (our own ``SmscFactory``, so the
service's ESME links bind to it exactly as they would to the operator's): it checks credentials, stores MT
SMS in handset inboxes and sends delivery receipts, runs USSD dialogues in any configured dialect, and
offers MO SMS to the service until it takes them. Handsets are driven through a small control API (JSON
lines over TCP, see ``control``); ``roamback phone`` is one interactive handset on top of it.

Calls are not simulated here: the service still places call-backs on its own in-process simulated switch
(``switch.simulated``), so a ``roamback phone`` does not ring when leg A is dialled. The switch adapters
work may move that simulation out of the service and into this network.
"""

from .config import SimnetConfig, SimnetConfigError, load_config, parse_config
from .control import ControlFactory, ControlProtocol
from .network import SimNetwork
from .phone import Phone
from .runner import RunningSimnet, run_phone, run_simnet, start_simnet

__all__ = [
    "ControlFactory",
    "ControlProtocol",
    "Phone",
    "RunningSimnet",
    "SimNetwork",
    "SimnetConfig",
    "SimnetConfigError",
    "load_config",
    "parse_config",
    "run_phone",
    "run_simnet",
    "start_simnet",
]
