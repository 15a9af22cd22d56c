"""SMS as text: alphabets and costs, long messages cut and put back together, and the command language.

Pure code, no I/O: the SMPP adapter feeds it short_messages and the time, and sends what it returns.
"""

from .commands import (
    Balance,
    Callback,
    Command,
    Conference,
    Confirm,
    Help,
    Language,
    Register,
    Unrecognised,
    Unregister,
    parse_command,
)
from .encoding import (
    GSM_DEFAULT,
    UCS2,
    Encoded,
    SmsDecodeError,
    SmsEncodeError,
    UnsupportedDataCoding,
    choose_data_coding,
    cost,
    decode,
    encode,
    fits_gsm,
)
from .keywords import DEFAULT_KEYWORDS, CommandKind, KeywordError, KeywordTable, Match
from .reassembly import Reassembler, ReassemblyStats, split_concat
from .segmenting import ConcatMode, MessageTooLong, Part, segment
from .udh import ConcatInfo, UdhError, UserDataHeader, split_udh

__all__ = [
    "DEFAULT_KEYWORDS",
    "GSM_DEFAULT",
    "UCS2",
    "Balance",
    "Callback",
    "Command",
    "CommandKind",
    "ConcatInfo",
    "ConcatMode",
    "Conference",
    "Confirm",
    "Encoded",
    "Help",
    "KeywordError",
    "KeywordTable",
    "Language",
    "Match",
    "MessageTooLong",
    "Part",
    "Reassembler",
    "ReassemblyStats",
    "Register",
    "SmsDecodeError",
    "SmsEncodeError",
    "UdhError",
    "Unrecognised",
    "Unregister",
    "UnsupportedDataCoding",
    "UserDataHeader",
    "choose_data_coding",
    "cost",
    "decode",
    "encode",
    "fits_gsm",
    "parse_command",
    "segment",
    "split_concat",
    "split_udh",
]
