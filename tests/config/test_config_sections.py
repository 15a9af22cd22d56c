from __future__ import annotations

import re

import pytest
from pydantic import BaseModel, ValidationError

from roamback.config import ApiKey, Config, SwitchRule
from roamback.config._sections import DEFAULT_SWITCH_RULES


def _section_models(model: type[BaseModel] = Config) -> set[type[BaseModel]]:
    found = {model}
    for field in model.model_fields.values():
        for candidate in (field.annotation, *getattr(field.annotation, "__args__", ())):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                found |= _section_models(candidate)
    return found


def test_every_key_is_documented_and_unknown_keys_are_forbidden() -> None:
    models = _section_models()
    assert len(models) >= 17
    for model in models:
        assert model.model_config.get("extra") == "forbid", model.__name__
        if model is Config:
            continue
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"


def test_default_switch_rules_make_the_demo_deterministic() -> None:
    def outcome(number: str) -> str:
        rule = next((r for r in DEFAULT_SWITCH_RULES if re.search(r.match, number)), None)
        return rule.outcome if rule else "answer"

    assert outcome("+4915100001111") == "busy"
    assert outcome("+4915100002222") == "no_answer"
    assert outcome("+4915100003333") == "unallocated"
    assert outcome("+4915100004444") == "rejected"
    assert outcome("+4915112345678") == "answer"


def test_api_key_needs_exactly_one_of_key_or_digest() -> None:
    with pytest.raises(ValidationError):
        ApiKey(name="x")
    with pytest.raises(ValidationError):
        ApiKey(name="x", key="k" * 16, sha256="0" * 64)
    with pytest.raises(ValidationError):
        ApiKey(name="x", sha256="NOT-HEX")
    assert ApiKey(name="x", sha256="a" * 64).digest() == "a" * 64


def test_switch_rule_rejects_unknown_outcomes() -> None:
    with pytest.raises(ValidationError):
        SwitchRule(match=r"\+1$", outcome="explode")  # type: ignore[arg-type]


@pytest.mark.parametrize("adapter", ["simulated", "ari"])
def test_triggers_are_taken_on_the_switches_that_take_calls_in(adapter: str) -> None:
    switch: dict[str, object] = {"adapter": adapter}
    if adapter == "ari":
        switch["ari"] = {"password": "s3cret-pass"}
    config = Config.model_validate({"switch": switch, "triggers": {"missed_call_numbers": ["+33170000123"]}})
    assert config.triggers.missed_call_numbers == ["+33170000123"]


def test_triggers_on_a_switch_that_takes_no_calls_in_are_refused_naming_triggers() -> None:
    with pytest.raises(ValidationError) as info:
        Config.model_validate({
            "switch": {"adapter": "esl", "esl": {
                "password": "s3cret-pass", "routes": [{"prefix": "", "dial_string": "sofia/gateway/trunk/{number}"}]}},
            "triggers": {"missed_call_numbers": ["+33170000123"]},
        })
    assert "triggers: switch triggers need switch.adapter 'ari' or 'simulated'" in str(info.value)
    assert "not 'esl'" in str(info.value)
