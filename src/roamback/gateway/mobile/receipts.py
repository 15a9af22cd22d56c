"""Delivery receipts: which message a deliver_sm reports on, and whether it reached the handset.

SMSCs say it twice and not always consistently: in TLVs (receipted_message_id, message_state) and in the
text form of SMPP 3.4 appendix B (``id:... sub:... dlvrd:... submit date:... done date:... stat:DELIVRD
err:...``). The TLVs win when present. Ids are matched in every spelling the SMSC may have switched to
(hex in submit_sm_resp, decimal in the receipt, or the reverse), because a receipt that matches nothing
leaves the notice forever "sent".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import smpp34

RECEIPT_MASK = 0x3C  # esm_class bits 2-5: the message type
RECEIPT_TYPE = 0x04  # SMSC delivery receipt

# message_state TLV values (SMPP 3.4 5.2.28) in the words of the text form.
_STATES = {1: "ENROUTE", 2: "DELIVRD", 3: "EXPIRED", 4: "DELETED", 5: "UNDELIV", 6: "ACCEPTD", 7: "UNKNOWN",
           8: "REJECTD"}
_TEXT_FIELD = re.compile(r"(id|stat|err):(\S*)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Receipt:
    message_id: str
    state: str  # DELIVRD, UNDELIV, EXPIRED, ... as the SMSC spells it (upper case)
    error: str | None = None

    @property
    def delivered(self) -> bool:
        return self.state == "DELIVRD"

    @property
    def final(self) -> bool:
        return self.state not in ("ENROUTE", "ACCEPTD")

    def id_spellings(self) -> tuple[str, ...]:
        """The id as sent, and its decimal/hex twin when it reads as a number."""
        spellings = [self.message_id]
        text = self.message_id
        if text.isdigit():
            spellings.append(format(int(text), "x"))
        if re.fullmatch(r"[0-9a-fA-F]+", text):
            value = int(text, 16)
            spellings += [str(value), format(value, "x"), format(value, "X")]
        return tuple(dict.fromkeys(spellings))


def is_receipt(esm_class: int) -> bool:
    return esm_class & RECEIPT_MASK == RECEIPT_TYPE


def parse_receipt(text: str, tlvs: Mapping[int, bytes]) -> Receipt | None:
    """The receipt carried by a deliver_sm, or None when it names no message."""
    fields = {key.lower(): value for key, value in _TEXT_FIELD.findall(text)}
    raw_id = tlvs.get(smpp34.TLV_RECEIPTED_MESSAGE_ID)
    message_id = raw_id.rstrip(b"\x00").decode("ascii", "replace") if raw_id else fields.get("id", "")
    raw_state = tlvs.get(smpp34.TLV_MESSAGE_STATE)
    state = _STATES.get(raw_state[0], "UNKNOWN") if raw_state else fields.get("stat", "UNKNOWN").upper()
    if not message_id:
        return None
    return Receipt(message_id, state, fields.get("err"))
