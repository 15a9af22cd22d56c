"""Settings of the FreeSWITCH ESL adapter, as one typed model the service's config section can embed.

Kept in the adapter's package (like ``AriSettings``) so the adapter can be built and tested on its own;
the service config only has to nest ``EslSettings`` under ``switch.esl``.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, model_validator

# A command argument must not contain blanks (arguments are blank-separated) or newlines (framing); a
# value inside an originate variable block must not contain commas, braces or brackets either.
_ARGUMENT = re.compile(r"\S+")
_VARIABLE = re.compile(r"[^\s,{}\[\]'\"\\]+")


def _prefix(value: str) -> str:
    # "" is the catch-all route; anything else is '+' and digits, like every number the core hands us.
    if value and not re.fullmatch(r"\+\d{1,15}", value):
        raise ValueError(f"{value!r} must be '' or '+' then digits, e.g. '+44'")
    return value


def _dial_string(value: str) -> str:
    tech, _, resource = value.partition("/")
    if not tech or "{number}" not in resource or not _VARIABLE.fullmatch(value.replace("{number}", "0")):
        raise ValueError(f"{value!r} must look like 'sofia/gateway/trunk/{{number}}' (no blanks or commas)")
    return value


def _sound(value: str) -> str:
    if not _ARGUMENT.fullmatch(value):
        raise ValueError(f"{value!r} must not be empty or contain blanks")
    return value


def _variable(value: str) -> str:
    if not _VARIABLE.fullmatch(value):
        raise ValueError(f"{value!r} must not contain blanks, commas, braces, brackets or quotes")
    return value


Sound = Annotated[str, AfterValidator(_sound)]
Variable = Annotated[str, AfterValidator(_variable)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EslRoute(_Model):
    """Numbers starting with ``prefix`` are dialled with ``dial_string`` (``{number}`` is the E.164 number
    without '+'); the longest matching prefix wins, so '' is the default route."""

    prefix: Annotated[str, AfterValidator(_prefix)] = Field(description="'+' and digits, or '' for any.")
    dial_string: Annotated[str, AfterValidator(_dial_string)] = Field(description="FreeSWITCH dial string.")


class EslPromptSounds(_Model):
    """Sound files the prompt is built from, relative to the leg's ``sound_prefix`` (with extension, as
    FreeSWITCH's playback needs); numbers are said by the ``say`` application in the prompt's language."""

    balance_intro: Sound = Field("roamback/your-balance-is.wav", description="Said before the balance.")
    currency: dict[str, Sound] = Field(
        default_factory=dict,
        description="Sound naming each currency code, e.g. {EUR: roamback/euros.wav}; absent: the code is spelt.")
    minor_units: Sound = Field("roamback/cents.wav", description="Said after the minor part of the balance.")
    max_time_intro: Sound = Field("roamback/you-can-talk-for.wav", description="Said before the maximum time.")
    minutes: Sound = Field("roamback/minutes.wav", description="Said after the number of minutes.")
    connecting: Sound = Field("roamback/connecting-your-call.wav", description="Said last, before ringback.")
    warning: Sound = Field("tone_stream://%(500,0,800)", description="Played to both parties before the limit.")
    ringback: Sound = Field("tone_stream://%(2000,4000,440,480);loops=-1",
                           description="What the first answered leg hears while the other is dialled.")


class EslSettings(_Model):
    host: str = Field("127.0.0.1", min_length=1, description="FreeSWITCH event socket host.")
    port: int = Field(8021, ge=1, le=65535, description="Event socket port (event_socket.conf listen-port).")
    password: SecretStr = Field(SecretStr("ClueCon"), description="Event socket password; never logged.")
    id_prefix: Variable = Field(
        "roamback", description="Namespace of the channel UUIDs the adapter derives from call ids, and value of "
        "the roamback_service channel variable, so a restarted adapter recognises its own channels.")
    routes: list[EslRoute] = Field(
        default_factory=lambda: [EslRoute(prefix="", dial_string="sofia/gateway/trunk/{number}")],
        description="Dial string per leg, chosen by the longest matching number prefix.")
    sounds: EslPromptSounds = Field(default_factory=EslPromptSounds, description="Prompt, warning, ringback.")
    sound_prefixes: dict[str, Variable] = Field(
        default_factory=dict,
        description="sound_prefix per prompt language, e.g. {fr: /usr/share/freeswitch/sounds/fr/ca/june}; "
        "absent: the switch's default.")
    backstop_seconds: float = Field(
        5.0, gt=0, le=300,
        description="sched_hangup on each answered leg fires this long after the adapter's own timer would have "
        "cut it: the switch still ends the call if the service dies.")
    warning_seconds: float = Field(30.0, ge=0, description="Warning tone this long before a leg's limit; 0: none.")
    request_timeout: float = Field(10.0, gt=0, description="Seconds to wait for one command's reply.")
    reconnect_max_seconds: float = Field(10.0, gt=0, description="Longest wait between reconnects.")

    @model_validator(mode="after")
    def _has_default_route(self) -> EslSettings:
        if not any(route.prefix == "" for route in self.routes):
            raise ValueError("routes: add a default route with prefix '' so every number can be dialled")
        return self

    def dial_string_for(self, number: str) -> str:
        """The dial string that reaches ``number`` (E.164 with '+')."""
        route = max((r for r in self.routes if number.startswith(r.prefix)), key=lambda r: len(r.prefix))
        return route.dial_string.format(number=number.removeprefix("+"))
