"""Settings of the switch-side triggers: which dialled numbers do what, the prompts, the DTMF timing.

A pydantic model like ``AriSettings`` so the service config can nest it (``switch.ari.triggers``) and
report every mistake with its path. Numbers are written as the operator publishes them (E.164 with '+');
the dialled number Asterisk reports is compared after normalisation, so ``0140000001``, ``33140000001``
and ``+33140000001`` all match ``+33140000001``.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator


def _e164(value: str) -> str:
    if not re.fullmatch(r"\+\d{4,15}", value):
        raise ValueError(f"{value!r} must be E.164: '+' then digits")
    return value


def _sound(value: str) -> str:
    # Same rule as the ARI adapter's sounds: a comma would split the media list, a colon is a scheme.
    if not value or "," in value or ":" in value:
        raise ValueError(f"{value!r} is not a usable sound name")
    return value


E164 = Annotated[str, AfterValidator(_e164)]
Sound = Annotated[str, AfterValidator(_sound)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PersonalDid(_Model):
    """A number that belongs to one subscriber: a missed call to it from any phone is their request."""

    did: E164 = Field(description="The personal number as published to the subscriber.")
    subscriber: E164 = Field(description="MSISDN of the subscriber it belongs to (the requester).")
    callback_number: E164 | None = Field(
        None, description="Leg A; None: the subscriber's own MSISDN. Must be a number they registered.")
    destination: E164 | None = Field(
        None, description="Leg B; None: the subscriber's default destination.")


class TriggerSounds(_Model):
    """Sound files (without extension) of the answered dialogues; the channel's language picks them."""

    enter_msisdn: Sound = Field("roamback/enter-your-mobile-number", description="PIN login, step 1.")
    enter_pin: Sound = Field("roamback/enter-your-pin", description="PIN login, step 2.")
    wrong_pin: Sound = Field("roamback/pin-incorrect", description="Before asking for the PIN again.")
    enter_callback_number: Sound = Field(
        "roamback/enter-callback-number", description="IVR: where to call you back; '#' alone: this phone.")
    enter_destination: Sound = Field("roamback/enter-destination", description="IVR: the number to call.")
    invalid_number: Sound = Field("roamback/invalid-number", description="Before asking for a number again.")
    accepted: Sound = Field("roamback/we-will-call-you-back", description="The request is stored.")
    refused: Sound = Field("roamback/request-refused", description="Refused; the reason follows by SMS.")
    unavailable: Sound = Field("roamback/service-unavailable", description="The core could not store it.")
    goodbye: Sound = Field("vm-goodbye", description="Said before hanging up on too many failed attempts.")


class TriggerSettings(_Model):
    missed_call_numbers: list[E164] = Field(
        default_factory=list, description="Access numbers: a missed call from a known caller ID is a request.")
    pin_numbers: list[E164] = Field(
        default_factory=list, description="Numbers answered for a PIN login when the caller ID is not known.")
    ivr_numbers: list[E164] = Field(
        default_factory=list, description="Numbers answered to key in callback number and destination.")
    personal_dids: list[PersonalDid] = Field(
        default_factory=list, description="Per-subscriber numbers (the in-memory TriggerAccounts serves them).")
    sounds: TriggerSounds = Field(default_factory=TriggerSounds, description="Prompts of answered dialogues.")
    first_digit_seconds: float = Field(8.0, gt=0, description="Silence after a prompt before the entry is empty.")
    inter_digit_seconds: float = Field(4.0, gt=0, description="Pause that ends an entry without '#'.")
    prompt_max_seconds: float = Field(
        30.0, gt=0, description="A prompt whose PlaybackFinished never came (event socket drop) counts as "
        "played after this long, so a dialogue never waits forever.")
    max_attempts: int = Field(3, ge=1, le=10, description="Wrong PINs or invalid numbers before hanging up.")
    max_number_digits: int = Field(18, ge=8, le=24, description="Longest number entry ('00' + 15 digits + 1).")
    max_pin_digits: int = Field(8, ge=4, le=12, description="Longest PIN entry.")

    @model_validator(mode="after")
    def _numbers_have_one_use(self) -> TriggerSettings:
        seen: dict[str, str] = {}
        uses = [("missed_call_numbers", n) for n in self.missed_call_numbers]
        uses += [("pin_numbers", n) for n in self.pin_numbers] + [("ivr_numbers", n) for n in self.ivr_numbers]
        uses += [("personal_dids", d.did) for d in self.personal_dids]
        for use, number in uses:
            if number in seen:
                raise ValueError(f"{number} is listed in both {seen[number]} and {use}")
            seen[number] = use
        return self
