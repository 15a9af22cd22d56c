"""How one USSD centre speaks USSD over SMPP: op codes, how a dialogue is closed, what identifies it.

SMPP 3.4 only suggests the ussd_service_op values; real centres pick their own (vumi's Tata, 6D and Mica
processors are the public record), so the dialect is configuration, never code. The same goes for
network-initiated USSD (USSN): SMPP 3.4 gives it op 3, but whether a centre takes a push outside any
dialogue is the centre's choice, so only the ``smpp34`` preset assumes it does. An operator names a preset
and overrides the fields their centre does differently::

    dialect: {preset: 6d, data_coding: auto}

Every key is checked (``extra="forbid"``) and every error carries the name of the field to fix.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator, model_validator

OpCode = Annotated[int, Field(ge=0, le=255)]


class CloseStrategy(StrEnum):
    OP_CODE = "op_code"  # the close op code ends the dialogue (the end bit is set too when echoed)
    END_BIT = "end_bit"  # only the end bit of its_session_info ends it; the op code may equal continue_op


class DialogueKey(StrEnum):
    ITS_SESSION_INFO = "its_session_info"
    USER_MESSAGE_REFERENCE = "user_message_reference"
    MSISDN = "msisdn"


class ReplySequence(StrEnum):
    ECHO = "echo"  # send back the sequence number received (what vumi's processors do)
    INCREMENT = "increment"  # the spec says the ESME assigns it: some centres expect it to move on


def _as_tuple(value: Any) -> Any:
    """One op code is the common case in YAML (``begin_ops: 1``); several are a list."""
    return (value,) if isinstance(value, int) else value


InboundOps = Annotated[tuple[OpCode, ...], BeforeValidator(_as_tuple)]

# Differences from the SMPP 3.4 defaults, as seen in vumi's processors (its op codes are hex strings).
_PRESETS: dict[str, dict[str, Any]] = {
    "smpp34": {},
    # vumi default processor ("some of this stuff might be specific to Tata's setup"): 0x11 from the centre
    # ends the dialogue; replies are always USSR requests, the end bit closes.
    "tata": {
        "continue_ops": (0x02, 0x12),
        "abort_ops": (0x11,),
        "close_op": 0x02,
        "close_strategy": CloseStrategy.END_BIT,
        "ussn_op": None,
    },
    "6d": {"begin_ops": (0x01,), "continue_ops": (0x12,), "abort_ops": (0x81,), "continue_op": 0x02, "close_op": 0x17,
           "ussn_op": None},
    # vumi's Mica processor: 6D's op codes, the dialogue named by user_message_reference; 0x17 from the
    # centre also ends the dialogue.
    "mica": {
        "begin_ops": (0x01,),
        "continue_ops": (0x12,),
        "abort_ops": (0x81, 0x17),
        "continue_op": 0x02,
        "close_op": 0x17,
        "dialogue_key": DialogueKey.USER_MESSAGE_REFERENCE,
        "ussn_op": None,
    },
}
PresetName = Literal["smpp34", "tata", "6d", "mica"]


class UssdDialect(BaseModel):
    """The defaults are plain SMPP 3.4 (the ``smpp34`` preset)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    preset: PresetName = Field("smpp34", description="Built-in dialect the other fields start from.")
    begin_ops: InboundOps = Field((0x01,), min_length=1, description="ussd_service_op values that open a "
                                  "dialogue (PSSR indication).")
    continue_ops: InboundOps = Field((0x12,), min_length=1, description="Values carrying the subscriber's "
                                     "answer in an open dialogue (USSR confirm).")
    abort_ops: InboundOps = Field((), description="Values by which the centre or the subscriber ends a "
                                  "dialogue (may be empty).")
    continue_op: OpCode = Field(0x02, description="Op code of a reply that keeps the dialogue open (USSR request).")
    close_strategy: CloseStrategy = Field(CloseStrategy.OP_CODE, description="How the centre tells a closing "
                                          "reply: by its op code, or only by the end bit of its_session_info.")
    close_op: OpCode = Field(0x11, description="Op code of a reply that ends the dialogue (PSSR response).")
    ussn_op: OpCode | None = Field(0x03, description="Op code of a network-initiated notification (USSN "
                                   "request) the centre shows outside any dialogue; null when it takes none.")
    dialogue_key: DialogueKey = Field(DialogueKey.ITS_SESSION_INFO, description="What tells dialogues of one "
                                      "subscriber apart; always combined with the MSISDN.")
    inbound_end_bit_aborts: bool = Field(True, description="An inbound its_session_info with the end bit set "
                                         "means the centre ended the dialogue, whatever the op code.")
    reply_sequence: ReplySequence = Field(ReplySequence.ECHO, description="Sequence number put in replies' "
                                          "its_session_info.")
    data_coding: OpCode | Literal["auto"] = Field(0x0F, description="data_coding of replies; 'auto' means "
                                                 "0x00 (GSM 7-bit) when the text fits, else 0x08 (UCS2).")
    service_type: str = Field("USSD", max_length=5, description="service_type of replies (C-string, 6 octets).")

    @model_validator(mode="before")
    @classmethod
    def _start_from_preset(cls, data: Any) -> Any:
        """A bare name picks a preset; in a mapping, the named preset fills what the operator left out.

        An unknown name passes through untouched so that the ``preset`` field itself reports it.
        """
        if isinstance(data, str):
            data = {"preset": data}
        if isinstance(data, dict) and data.get("preset") in _PRESETS:
            return {**_PRESETS[data["preset"]], **data}
        return data

    @field_validator("continue_ops", "abort_ops")
    @classmethod
    def _disjoint(cls, ops: tuple[int, ...], info: ValidationInfo) -> tuple[int, ...]:
        for earlier in ("begin_ops", "continue_ops"):
            if earlier == info.field_name:
                break
            shared = sorted(set(ops) & set(info.data.get(earlier, ())))
            if shared:
                raise ValueError(f"op code(s) {shared} also in {earlier}: an indication must mean one thing")
        return ops

    @field_validator("close_op")
    @classmethod
    def _close_distinct(cls, close_op: int, info: ValidationInfo) -> int:
        if info.data.get("close_strategy") is CloseStrategy.OP_CODE and close_op == info.data.get("continue_op"):
            raise ValueError("equals continue_op, so the centre could not tell a close from a continue; "
                             "use close_strategy 'end_bit' if the end bit is what closes")
        return close_op

    @field_validator("ussn_op")
    @classmethod
    def _ussn_distinct(cls, ussn_op: int | None, info: ValidationInfo) -> int | None:
        if ussn_op is not None and ussn_op in (info.data.get("continue_op"), info.data.get("close_op")):
            raise ValueError("equals a reply op code, so the centre could not tell a push from a reply")
        return ussn_op

    @property
    def needs_session_info(self) -> bool:
        """Indications without its_session_info cannot be keyed or closed under this dialect."""
        return self.dialogue_key is DialogueKey.ITS_SESSION_INFO or self.close_strategy is CloseStrategy.END_BIT


PRESETS: dict[str, UssdDialect] = {name: UssdDialect(preset=name) for name in _PRESETS}


def dialect(preset: str = "smpp34", **overrides: Any) -> UssdDialect:
    """A preset with some fields changed; raises pydantic.ValidationError naming the bad field."""
    return UssdDialect.model_validate({"preset": preset, **overrides})
