"""The ``ussd`` configuration section: which centre dialect, which service codes, which timeouts."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from .dialect import UssdDialect
from .oneshot import normalise_service_code

MAX_GSM_CHARS = 182  # 160 octets of packed 7-bit
MAX_UCS2_CHARS = 80  # 160 octets of UCS2


class UssdSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    dialect: UssdDialect = Field(default_factory=UssdDialect, description="The USSD centre's dialect: a preset "
                                 "name ('smpp34', 'tata', '6d', 'mica') or a mapping with 'preset' and overrides.")
    service_codes: tuple[str, ...] = Field(("123",), min_length=1, description="Codes routed to the service, "
                                           "in any usual form ('*123#', '123', '*123*4#'); kept without '*'/'#'.")
    screen_timeout_seconds: float = Field(30, gt=0, description="How long a menu waits for the subscriber's "
                                          "answer; match the centre's own screen timer (often 30 s).")
    dialogue_timeout_seconds: float = Field(180, gt=0, description="Longest a whole dialogue may last "
                                            "(centres cut at 2-3 minutes).")
    max_page_chars_gsm: int = Field(MAX_GSM_CHARS, ge=20, le=MAX_GSM_CHARS, description="Characters per menu "
                                    "page in the GSM alphabet; lower it for centres that cut earlier.")
    max_page_chars_ucs2: int = Field(MAX_UCS2_CHARS, ge=10, le=MAX_UCS2_CHARS, description="Characters per menu "
                                     "page when the text needs UCS2.")

    push_via_ussn: bool = Field(False, description="Send call-back outcome notices as a network-initiated USSD "
                                "(USSN) on a ussd/both link when the dialect has a ussn_op and the text fits one "
                                "page; SMS otherwise, and whenever the centre does not take the push.")

    @field_validator("service_codes")
    @classmethod
    def _normalised(cls, codes: tuple[str, ...]) -> tuple[str, ...]:
        bare = tuple(normalise_service_code(code) for code in codes)
        duplicates = sorted({code for code in bare if bare.count(code) > 1})
        if duplicates:
            raise ValueError(f"listed twice: {', '.join(duplicates)}")
        return bare

    @field_validator("dialogue_timeout_seconds")
    @classmethod
    def _outlasts_screen(cls, seconds: float, info: ValidationInfo) -> float:
        screen = info.data.get("screen_timeout_seconds")
        if screen is not None and seconds < screen:
            raise ValueError("must not be shorter than screen_timeout_seconds")
        return seconds
