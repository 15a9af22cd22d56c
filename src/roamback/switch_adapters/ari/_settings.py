"""Settings of the Asterisk ARI adapter, as one typed model the service's config section can embed.

Kept in the adapter's package (not in ``config/``) so the adapter can be built and tested on its own;
the service config only has to nest ``AriSettings`` under ``switch.ari``.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, HttpUrl, SecretStr, model_validator


def _prefix(value: str) -> str:
    # "" is the catch-all route; anything else is '+' and digits, like every number the core hands us.
    if value and not re.fullmatch(r"\+\d{1,15}", value):
        raise ValueError(f"{value!r} must be '' or '+' then digits, e.g. '+44'")
    return value


def _template(value: str) -> str:
    tech, _, resource = value.partition("/")
    if not tech or "{number}" not in resource:
        raise ValueError(f"{value!r} must look like 'PJSIP/{{number}}@trunk' or 'Local/{{number}}@ctx'")
    return value


def _sound(value: str) -> str:
    # A sound name travels in a comma-separated query parameter (a comma would split it in two) and gets
    # its "sound:" scheme from the adapter (a scheme of its own would make it another kind of media).
    if not value or "," in value or ":" in value:
        raise ValueError(f"{value!r} is not a usable sound name")
    return value


Sound = Annotated[str, AfterValidator(_sound)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Route(_Model):
    """Numbers starting with ``prefix`` are dialled on ``endpoint`` (``{number}`` is the E.164 number
    without '+'); the longest matching prefix wins, so '' is the default route."""

    prefix: Annotated[str, AfterValidator(_prefix)] = Field(description="'+' and digits, or '' for any.")
    endpoint: Annotated[str, AfterValidator(_template)] = Field(description="ARI endpoint template.")


class PromptSounds(_Model):
    """Sound file names (without extension) the prompt is built from; ``lang`` picks their language."""

    balance_intro: Sound = Field("roamback/your-balance-is", description="Said before the balance.")
    currency: dict[str, Sound] = Field(
        default_factory=dict,
        description="Sound naming each currency code, e.g. {EUR: roamback/euros}; absent: the code is spelt.")
    minor_units: Sound = Field("roamback/cents", description="Said after the minor part of the balance.")
    max_time_intro: Sound = Field("roamback/you-can-talk-for", description="Said before the maximum time.")
    minutes: Sound = Field("minutes", description="Said after the number of minutes.")
    connecting: Sound = Field("roamback/connecting-your-call", description="Said last, before ringback.")
    warning: Sound = Field("beep", description="Played into the bridge shortly before the limit.")


def _no_credentials(url: HttpUrl) -> HttpUrl:
    if url.username or url.password:
        raise ValueError("must not carry user:password (use username and password)")
    return url


class AriSettings(_Model):
    base_url: Annotated[HttpUrl, AfterValidator(_no_credentials)] = Field(
        HttpUrl("http://127.0.0.1:8088/"),
        description="Asterisk HTTP server; REST is under /ari/, events at /ari/events. No user:password in "
        "it: the URL is displayed and logged, the password field is not.")
    username: str = Field("roamback", min_length=1, description="ARI user (ari.conf).")
    password: SecretStr = Field(SecretStr(""), description="ARI user's password.")
    app: str = Field("roamback", pattern=r"^[A-Za-z0-9_.-]+$", description="Stasis application name.")
    id_prefix: str = Field(
        "roamback-", pattern=r"^[A-Za-z0-9_.-]+$",
        description="Prefix of every channel, bridge and playback id the adapter creates, so that after a "
        "restart it recognises its own objects among everything else on the switch.")
    routes: list[Route] = Field(
        default_factory=lambda: [Route(prefix="", endpoint="PJSIP/{number}@trunk")],
        description="Outbound endpoint per leg, chosen by the longest matching number prefix.")
    sounds: PromptSounds = Field(default_factory=PromptSounds, description="Prompt and warning sounds.")
    backstop_seconds: float = Field(
        5.0, gt=0, le=300,
        description="TIMEOUT(absolute) on each leg fires this long after the adapter's own timer would have "
        "cut it: the switch still ends the call if the service dies.")
    warning_seconds: float = Field(30.0, ge=0, description="Warning tone this long before a leg's limit; 0: none.")
    request_timeout: float = Field(10.0, gt=0, description="Seconds to wait for one REST answer.")
    reconnect_max_seconds: float = Field(10.0, gt=0, description="Longest wait between WebSocket reconnects.")

    @model_validator(mode="after")
    def _has_default_route(self) -> AriSettings:
        if not any(route.prefix == "" for route in self.routes):
            raise ValueError("routes: add a default route with prefix '' so every number can be dialled")
        return self

    def endpoint_for(self, number: str) -> str:
        """The ARI endpoint that dials ``number`` (E.164 with '+')."""
        route = max((r for r in self.routes if number.startswith(r.prefix)), key=lambda r: len(r.prefix))
        return route.endpoint.format(number=number.removeprefix("+"))
