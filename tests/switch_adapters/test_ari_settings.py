"""ARI settings, routes, prompt media and cause mapping: the adapter's pure parts, checked directly."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from roamback.core.model import Prompt
from roamback.core.reasons import HangupCause as C
from roamback.switch_adapters.ari import AriSettings, PromptSounds, Route
from roamback.switch_adapters.ari._causes import unanswered_cause
from roamback.switch_adapters.ari._prompt import prompt_media


def test_longest_prefix_picks_the_endpoint() -> None:
    settings = AriSettings(routes=[Route(prefix="", endpoint="PJSIP/{number}@default"),
                                   Route(prefix="+44", endpoint="PJSIP/{number}@uk"),
                                   Route(prefix="+447", endpoint="Local/{number}@mobile-uk")])
    assert settings.endpoint_for("+33612345678") == "PJSIP/33612345678@default"
    assert settings.endpoint_for("+442079460000") == "PJSIP/442079460000@uk"
    assert settings.endpoint_for("+447700900123") == "Local/447700900123@mobile-uk"


@pytest.mark.parametrize("routes", [
    [{"prefix": "+44", "endpoint": "PJSIP/{number}@uk"}],  # no default route
    [{"prefix": "", "endpoint": "{number}"}],  # no technology
    [{"prefix": "", "endpoint": "PJSIP/trunk"}],  # number never substituted
    [{"prefix": "44", "endpoint": "PJSIP/{number}"}, {"prefix": "", "endpoint": "PJSIP/{number}"}],
])
def test_bad_routes_fail_at_start_up(routes: list[dict[str, str]]) -> None:
    with pytest.raises(ValidationError):
        AriSettings.model_validate({"routes": routes})


def test_password_is_never_shown_and_unknown_keys_are_refused() -> None:
    settings = AriSettings(password="hunter2")
    assert "hunter2" not in repr(settings) and "hunter2" not in settings.model_dump_json()
    with pytest.raises(ValidationError):
        AriSettings.model_validate({"pasword": "x"})
    with pytest.raises(ValidationError):
        PromptSounds(minutes="a,b")  # would split into two media


def test_prompt_says_balance_and_whole_minutes_only() -> None:
    sounds = PromptSounds(currency={"EUR": "roamback/euros"})
    media = prompt_media(Prompt(language="es", max_seconds=179, balance_minor=305, currency="EUR"), sounds)
    assert media == ["sound:roamback/your-balance-is", "number:3", "sound:roamback/euros", "number:5",
                     "sound:roamback/cents", "sound:roamback/you-can-talk-for", "number:2", "sound:minutes",
                     "sound:roamback/connecting-your-call"]
    yen = prompt_media(Prompt(language="ja", max_seconds=60, balance_minor=500, currency="JPY"), sounds)
    assert yen[:3] == ["sound:roamback/your-balance-is", "number:500", "characters:JPY"]
    assert prompt_media(Prompt(language="en", max_seconds=120), sounds)[0] == "sound:roamback/you-can-talk-for"


@pytest.mark.parametrize(("q850", "status", "expected"), [
    (17, "BUSY", C.BUSY), (19, "NOANSWER", C.NO_ANSWER), (1, "CHANUNAVAIL", C.UNALLOCATED), (21, "", C.REJECTED),
    (34, None, C.CONGESTION), (0, "BUSY", C.BUSY), (0, "NOANSWER", C.NO_ANSWER), (0, "CHANUNAVAIL", C.UNREACHABLE),
    (0, "CANCEL", C.CANCELLED), (16, "RINGING", C.NO_ANSWER), (0, None, C.SWITCH_ERROR), (99, "", C.SWITCH_ERROR),
])
def test_unanswered_leg_causes(q850: int, status: str | None, expected: C) -> None:
    assert unanswered_cause(q850, status) is expected
