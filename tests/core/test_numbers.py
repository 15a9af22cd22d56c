from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roamback.core.numbers import InvalidNumber, calling_code, matches_prefix, normalise, region_of

# (typed, home region, E.164): national, international with +, 00 and the home region's own IDD.
VALID = [
    ("06 12 34 56 78", "FR", "+33612345678"),
    ("06.12.34.56.78", "FR", "+33612345678"),
    ("+33 (6) 12-34-56-78", "FR", "+33612345678"),
    ("0033612345678", "FR", "+33612345678"),
    ("01 42 68 53 00", "FR", "+33142685300"),
    ("0151 23456789", "DE", "+4915123456789"),
    ("030 1234567", "DE", "+49301234567"),
    ("+49-151-23456789", "ES", "+4915123456789"),
    ("612 345 678", "ES", "+34612345678"),
    ("91 123 45 67", "ES", "+34911234567"),
    ("07400 123456", "GB", "+447400123456"),
    ("020 7946 0958", "GB", "+442079460958"),
    ("(201) 555-0123", "US", "+12015550123"),
    ("011 33 6 12 34 56 78", "US", "+33612345678"),
    ("00 33 6 12 34 56 78", "US", "+33612345678"),
    ("050 123 4567", "AE", "+971501234567"),
    ("04 234 5678", "AE", "+97142345678"),
    ("8 912 345-67-89", "RU", "+79123456789"),
    ("810 33 612345678", "RU", "+33612345678"),
    ("+7 495 123-45-67", "FR", "+74951234567"),
    ("٠٦١٢٣٤٥٦٧٨", "FR", "+33612345678"),  # Arabic-Indic digits, as typed on an Arabic keyboard
]


@pytest.mark.parametrize(("raw", "region", "expected"), VALID)
def test_normalise_accepts_every_way_a_roamer_types_a_number(raw: str, region: str, expected: str) -> None:
    assert normalise(raw, region) == expected


@pytest.mark.parametrize(("raw", "region", "why"), [
    ("", "FR", "empty"),
    ("  - . ", "FR", "empty"),
    ("1-800-FLOWERS", "US", "not_a_number"),
    ("+33 6 12 34 56 78 ext 9", "FR", "not_a_number"),
    ("*123#", "FR", "not_a_number"),
    ("3+3612345678", "FR", "not_a_number"),
    ("123", "FR", "too_short"),
    ("+33 6 12 34 56 78 90 12", "FR", "too_long"),
    ("+9991234567", "FR", "invalid"),  # no such country code
    ("+44 7700 900123", "GB", "invalid"),  # Ofcom drama range: never allocated, so not valid
    ("+1 201 055 0123", "US", "invalid"),
])
def test_normalise_refuses_with_a_machine_reason(raw: str, region: str, why: str) -> None:
    with pytest.raises(InvalidNumber) as info:
        normalise(raw, region)
    assert info.value.why == why
    assert info.value.raw == raw


def test_the_home_region_decides_how_a_national_number_is_read() -> None:
    assert normalise("0612345678", "FR") == "+33612345678"
    assert normalise("612345678", "ES") == "+34612345678"


@pytest.mark.parametrize(("raw", "region", "expected"), [
    ("4915112345678", "FR", "+4915112345678"),  # *123*4915112345678#: USSD cannot carry a '+'
    ("447911123456", "FR", "+447911123456"),
    ("33612345678", "ES", "+33612345678"),
    ("612345678", "FR", "+33612345678"),  # valid as national: the national reading wins
])
def test_bare_digits_that_are_no_national_number_are_read_as_international(raw: str, region: str,
                                                                          expected: str) -> None:
    assert normalise(raw, region) == expected


def test_a_bare_number_invalid_both_ways_keeps_the_national_reason() -> None:
    with pytest.raises(InvalidNumber) as info:
        normalise("99912345678901", "FR")
    assert info.value.why == "too_long"


def test_calling_code_and_region_of() -> None:
    assert calling_code("FR") == "33"
    assert calling_code("ae") == "971"
    with pytest.raises(ValueError):
        calling_code("XX")
    assert region_of("+447400123456") == "GB"
    assert region_of("+12015550123") == "US"
    assert region_of("+881612345678") is None  # satellite: no country
    assert region_of("not a number") is None


def test_matches_prefix_returns_the_longest_match() -> None:
    prefixes = ["+88", "+881", "+8816", "+979"]
    assert matches_prefix("+881612345678", prefixes) == "+8816"
    assert matches_prefix("+881712345678", prefixes) == "+881"
    assert matches_prefix("+33612345678", prefixes) is None
    assert matches_prefix("+33612345678", []) is None


REGIONS = st.sampled_from(["FR", "DE", "ES", "GB", "US", "AE", "RU"])


@given(st.text(max_size=40), REGIONS)
def test_normalise_only_ever_raises_invalid_number(raw: str, region: str) -> None:
    try:
        result = normalise(raw, region)
    except InvalidNumber as exc:
        assert exc.why in {"empty", "not_a_number", "too_short", "too_long", "invalid", "not_dialable"}
    else:
        assert result.startswith("+") and result[1:].isdigit()


@given(st.text(alphabet="0123456789 +-().", max_size=24), REGIONS, REGIONS)
def test_normalise_is_idempotent_on_its_own_output(raw: str, region: str, other: str) -> None:
    try:
        e164 = normalise(raw, region)
    except InvalidNumber:
        return
    assert normalise(e164, region) == e164
    assert normalise(e164, other) == e164  # E.164 does not depend on where it is read
