"""The ESL adapter's pure parts: framing, settings, routes, prompt applications and cause mapping."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from roamback.core.model import Prompt
from roamback.core.reasons import HangupCause as C
from roamback.switch_adapters.esl import EslPromptSounds, EslRoute, EslSettings
from roamback.switch_adapters.esl._causes import leg_cause
from roamback.switch_adapters.esl._prompt import prompt_apps
from roamback.switch_adapters.esl._wire import EslParser, EslProtocolError, encode_command

STREAM = (b"Content-Type: auth/request\n\n"
          b"Content-Type: api/response\nContent-Length: 4\n\n+OK\n"
          b"\nContent-Length: 22\nContent-Type: text/event-json\n\n{\"Event-Name\": \"HEARTBEAT\"}"[:-6] + b"\"}")


def test_frames_come_out_whole_whether_fed_at_once_or_byte_by_byte() -> None:
    whole = EslParser().receive_data(STREAM + b"Content-Type: command/")
    parser = EslParser()
    split = [m for i in range(len(STREAM)) for m in parser.receive_data(STREAM[i:i + 1])]
    assert whole == split
    assert [m.content_type for m in whole] == ["auth/request", "api/response", "text/event-json"]
    assert whole[1].body == b"+OK\n" and whole[1].ok and whole[1].reply_text == "+OK"
    assert len(whole[2].body) == 22


@pytest.mark.parametrize("data", [b"no colon here\n\n", b"Content-Length: lots\n\n"])
def test_garbage_is_a_protocol_error(data: bytes) -> None:
    with pytest.raises(EslProtocolError):
        EslParser().receive_data(data)


def test_a_command_cannot_smuggle_a_second_one_and_the_error_never_quotes_it() -> None:
    assert encode_command("sendmsg x", {"call-command": "execute"}) == b"sendmsg x\ncall-command: execute\n\n"
    with pytest.raises(ValueError) as refused:
        encode_command("auth hunter2\n\napi shutdown")
    assert "hunter2" not in str(refused.value)


def test_longest_prefix_picks_the_dial_string() -> None:
    settings = EslSettings(routes=[EslRoute(prefix="", dial_string="sofia/gateway/default/{number}"),
                                   EslRoute(prefix="+44", dial_string="sofia/gateway/uk/{number}"),
                                   EslRoute(prefix="+447", dial_string="sofia/gateway/uk-mobile/{number}")])
    assert settings.dial_string_for("+33612345678") == "sofia/gateway/default/33612345678"
    assert settings.dial_string_for("+442079460000") == "sofia/gateway/uk/442079460000"
    assert settings.dial_string_for("+447700900123") == "sofia/gateway/uk-mobile/447700900123"


@pytest.mark.parametrize("options", [
    {"routes": [{"prefix": "+44", "dial_string": "sofia/gateway/uk/{number}"}]},  # no default route
    {"routes": [{"prefix": "", "dial_string": "sofia/gateway/trunk"}]},  # number never substituted
    {"routes": [{"prefix": "", "dial_string": "sofia/gateway/a,b/{number}"}]},  # breaks the variable block
    {"sound_prefixes": {"fr": "/sounds/fr ca"}},
    {"sounds": {"minutes": "two words.wav"}},
    {"pasword": "x"},
])
def test_bad_settings_fail_at_start_up(options: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        EslSettings.model_validate(options)


def test_password_is_never_shown() -> None:
    settings = EslSettings(password="hunter2")
    assert "hunter2" not in repr(settings) and "hunter2" not in settings.model_dump_json()


def test_prompt_says_balance_and_whole_minutes_in_the_prompt_language() -> None:
    sounds = EslPromptSounds(currency={"EUR": "roamback/euros.wav"})
    apps = prompt_apps(Prompt(language="es", max_seconds=179, balance_minor=305, currency="EUR"), sounds)
    assert apps == [("playback", "roamback/your-balance-is.wav"), ("say", "es number pronounced 3"),
                    ("playback", "roamback/euros.wav"), ("say", "es number pronounced 5"),
                    ("playback", "roamback/cents.wav"), ("playback", "roamback/you-can-talk-for.wav"),
                    ("say", "es number pronounced 2"), ("playback", "roamback/minutes.wav"),
                    ("playback", "roamback/connecting-your-call.wav")]
    yen = prompt_apps(Prompt(language="ja", max_seconds=60, balance_minor=500, currency="JPY"), sounds)
    assert yen[1:3] == [("say", "ja number pronounced 500"), ("say", "ja name_spelled iterated JPY")]
    odd = prompt_apps(Prompt(language="en us", max_seconds=120), sounds)
    assert odd[0] == ("playback", "roamback/you-can-talk-for.wav") and odd[1] == ("say", "en number pronounced 2")


@pytest.mark.parametrize(("name", "answered", "expected"), [
    ("NORMAL_CLEARING", True, C.NORMAL), ("NORMAL_CLEARING", False, C.NO_ANSWER), ("USER_BUSY", False, C.BUSY),
    ("NO_ANSWER", False, C.NO_ANSWER), ("NO_USER_RESPONSE", False, C.NO_ANSWER),
    ("UNALLOCATED_NUMBER", False, C.UNALLOCATED), ("CALL_REJECTED", False, C.REJECTED),
    ("ORIGINATOR_CANCEL", False, C.CANCELLED), ("NORMAL_TEMPORARY_FAILURE", False, C.CONGESTION),
    ("ALLOTTED_TIMEOUT", True, C.TIME_LIMIT), ("GATEWAY_DOWN", False, C.UNREACHABLE),
    ("SOMETHING_NEW", False, C.SWITCH_ERROR), ("SOMETHING_NEW", True, C.NORMAL), (None, False, C.SWITCH_ERROR),
])
def test_hangup_causes(name: str | None, answered: bool, expected: C) -> None:
    assert leg_cause(name, answered=answered) is expected
