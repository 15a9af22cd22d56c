"""USSD over SMPP bookkeeping: dialects, its_session_info, dialogue table with timeouts, dialled strings.

Pure code between the SMPP glue (which decodes PDUs into ``UssdIndication`` and sends ``UssdReply``) and the
menu engine (which owns each ``Dialogue.state``). No I/O and no clock: time is passed in.
"""

from .dialect import PRESETS, CloseStrategy, DialogueKey, ReplySequence, UssdDialect, dialect
from .dialogues import Dialogue, DialogueCounts, DialogueTable, Expired, NoDialogue, Opened, Timeout
from .messages import (
    Abort,
    Begin,
    Continue,
    Malformed,
    UnknownOp,
    UssdEvent,
    UssdIndication,
    UssdReply,
    build_reply,
    classify,
    dialogue_key,
)
from .oneshot import (
    CallbackDial,
    DialResult,
    MenuDial,
    NotRecognised,
    NotRecognisedReason,
    normalise_service_code,
    parse_dial,
)
from .session_info import SessionInfo
from .settings import MAX_GSM_CHARS, MAX_UCS2_CHARS, UssdSettings

__all__ = [
    "MAX_GSM_CHARS",
    "MAX_UCS2_CHARS",
    "PRESETS",
    "Abort",
    "Begin",
    "CallbackDial",
    "CloseStrategy",
    "Continue",
    "DialResult",
    "Dialogue",
    "DialogueCounts",
    "DialogueKey",
    "DialogueTable",
    "Expired",
    "Malformed",
    "MenuDial",
    "NoDialogue",
    "NotRecognised",
    "NotRecognisedReason",
    "Opened",
    "ReplySequence",
    "SessionInfo",
    "Timeout",
    "UnknownOp",
    "UssdDialect",
    "UssdEvent",
    "UssdIndication",
    "UssdReply",
    "UssdSettings",
    "build_reply",
    "classify",
    "dialect",
    "dialogue_key",
    "normalise_service_code",
    "parse_dial",
]
