"""USSD menus: operator-edited YAML screens, served page by page within one USSD message each.

``load_menu`` reads and checks a menu file (every problem named by file and line); ``MenuEngine`` runs
dialogues over it, asking the rest of the service through the ``MenuActions`` port (``CoreMenuActions`` is
the real one) and keeping each dialogue's state in a ``StateStore`` (``MemoryStore``, or ``RedisStore`` to
share dialogues between gateway nodes). Front doors: ``SmppMenuApplication`` for the SMPP USSD glue,
``roamback.gateway.http_ussd`` for HTTP aggregators.
"""

from ._yaml import MenuError, MenuProblem
from .actions import Confirmation, Confirmed, MenuActions, PhonebookEntry, Registration
from .core_actions import CoreMenuActions
from .definition import MenuDefinition
from .engine import EndReason, MenuEngine, MenuSettings
from .loader import default_menu_path, load_menu
from .render import PageLimits, fit_text, paginate
from .session import MenuSession, Screen
from .smpp_adapter import SmppMenuApplication, session_id
from .state import DialogueState, MemoryStore, StateStore

__all__ = [
    "Confirmation",
    "Confirmed",
    "CoreMenuActions",
    "DialogueState",
    "EndReason",
    "MemoryStore",
    "MenuActions",
    "MenuDefinition",
    "MenuEngine",
    "MenuError",
    "MenuProblem",
    "MenuSession",
    "MenuSettings",
    "PageLimits",
    "PhonebookEntry",
    "Registration",
    "Screen",
    "SmppMenuApplication",
    "StateStore",
    "default_menu_path",
    "fit_text",
    "load_menu",
    "paginate",
    "session_id",
]
