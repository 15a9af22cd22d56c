import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roamback.gateway.sms.encoding import (
    GSM_DEFAULT,
    UCS2,
    SmsDecodeError,
    SmsEncodeError,
    UnsupportedDataCoding,
    choose_data_coding,
    cost,
    decode,
    encode,
    encode_as,
    fits_gsm,
    is_ucs2,
)

EXTENSION = "€[]{}~^|\\"
# One sample per supported language: what the alphabet choice must be, and the text must come back whole.
LANGUAGE_SAMPLES = [
    ("en", "Your balance is 12.50 EUR. Reply CB <number> to call.", GSM_DEFAULT),
    ("fr", "Votre solde: 5 € [appel] {ok} ~ ^ | \\ à é è ù", GSM_DEFAULT),
    ("fr", "Rappel demandé : ça arrive, 10 €", UCS2),
    ("es", "¿Saldo? Ñoño: 3 € ñ ü", GSM_DEFAULT),
    ("es", "Llamada en curso, espere por favor. Código: 1234", UCS2),
    ("pt", "Ligação em curso. Saldo: R$ 5,00", UCS2),
    ("ar", "رصيدك ١٢٫٥ يورو. أرسل اتصل مع الرقم", UCS2),
    ("ru", "Ваш баланс: 12,50 €. Отправьте ЗВОНОК и номер", UCS2),
    ("emoji", "Call me 👍🏽 now 😀 €", UCS2),
]


@pytest.mark.parametrize(("language", "text", "data_coding"), LANGUAGE_SAMPLES)
def test_round_trip_in_every_language(language, text, data_coding):
    encoded = encode(text)
    assert encoded.data_coding == data_coding
    assert decode(encoded.data, encoded.data_coding) == text
    assert encoded.units == cost(text, data_coding)


def test_extension_characters_are_escape_pairs_costing_two_septets():
    encoded = encode(EXTENSION)
    assert encoded.data_coding == GSM_DEFAULT
    assert encoded.data == b"\x1be\x1b<\x1b>\x1b(\x1b)\x1b=\x1b\x14\x1b@\x1b/"
    assert encoded.units == 2 * len(EXTENSION)


def test_default_alphabet_is_one_unpacked_septet_per_octet():
    assert encode("@£$ Hello").data == b"\x00\x01\x02 Hello"


def test_emoji_is_a_surrogate_pair_costing_two_units():
    encoded = encode("👍")
    assert encoded.data == b"\xd8\x3d\xdc\x4d"
    assert (encoded.data_coding, encoded.units) == (UCS2, 2)


def test_the_escape_character_itself_forces_ucs2():
    assert not fits_gsm("a\x1bb")
    assert encode("a\x1bb").data_coding == UCS2


def test_gsm_can_be_refused_for_smscs_that_mangle_it():
    assert choose_data_coding("hello", allow_gsm=False) == UCS2
    assert encode("hello", allow_gsm=False).data == "hello".encode("utf-16-be")


def test_lone_surrogate_cannot_be_sent():
    with pytest.raises(SmsEncodeError):
        encode("a\ud83d")


def test_gsm_cost_of_a_non_gsm_text_is_an_error():
    with pytest.raises(ValueError, match="not in the GSM"):
        cost("ç", GSM_DEFAULT)
    with pytest.raises(ValueError, match="not in the GSM"):
        encode_as("ç", GSM_DEFAULT)


@pytest.mark.parametrize("data_coding", [0x01, 0x03, 0xF4])
def test_we_only_send_gsm_or_ucs2(data_coding):
    with pytest.raises(ValueError, match="only send"):
        cost("a", data_coding)
    with pytest.raises(ValueError, match="only send"):
        encode_as("a", data_coding)


@pytest.mark.parametrize(
    ("data_coding", "octets", "text"),
    [
        (0x00, b"\x00Hi\x1be", "@Hi€"),
        (0x01, b"Hello", "Hello"),
        (0x03, "Olá ç".encode("latin-1"), "Olá ç"),
        (0x06, "Привет".encode("iso8859-5"), "Привет"),
        (0x07, "שלום".encode("iso8859-8"), "שלום"),
        (0x08, "مرحبا 😀".encode("utf-16-be"), "مرحبا 😀"),
        (0x0F, b"*123#", "*123#"),
        (0x10, b"flash", "flash"),
        (0x18, "флеш".encode("utf-16-be"), "флеш"),
        (0xF0, b"class 0", "class 0"),
        (0xF1, b"\x1b<1\x1b>", "[1]"),
        (0xFB, b"x", "x"),
    ],
)
def test_decode_by_data_coding(data_coding, octets, text):
    assert decode(octets, data_coding) == text


@pytest.mark.parametrize("data_coding", [0x02, 0x04, 0x05, 0x09, 0x0E, 0x14, 0x20, 0xC0, 0xF4, 0xF7, 0xFF])
def test_unknown_or_binary_coding_is_a_clear_error(data_coding):
    with pytest.raises(UnsupportedDataCoding) as caught:
        decode(b"abc", data_coding)
    assert caught.value.data_coding == data_coding
    assert f"0x{data_coding:02X}" in str(caught.value)


@pytest.mark.parametrize(
    ("data_coding", "octets", "reason"),
    [
        (0x08, b"\x00a\x00", "odd number of octets (3)"),
        (0x18, b"\x00", "odd number of octets (1)"),
        (0x08, b"\xd8\x3d\x00a", "unpaired surrogate"),
        (0x00, b"ab\x80", "0x80 at 2 is not a septet"),
        (0x00, b"\x1b\xff", "0xFF at 1 is not a septet"),
        (0x01, b"ab\xe9", "0xE9 at 2"),
    ],
)
def test_malformed_text_is_a_decode_error_naming_the_problem(data_coding, octets, reason):
    with pytest.raises(SmsDecodeError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        decode(octets, data_coding)


def test_gsm_escape_oddities_follow_03_38():
    assert decode(b"ab\x1b", GSM_DEFAULT) == "ab"  # a trailing escape carries nothing
    assert decode(b"\x1bA", GSM_DEFAULT) == "A"  # unknown extension: show the base character
    assert decode(b"a\x1b\x1bb", GSM_DEFAULT) == "a b"  # reserved double escape: a space
    assert decode(b"\x1b\x0a", GSM_DEFAULT) == "\x0c"


def test_is_ucs2():
    assert is_ucs2(0x08) and is_ucs2(0x19)
    assert not is_ucs2(0x00) and not is_ucs2(0x0F)


GSM_CHARS = "".join(ch for ch in map(chr, range(0x250)) if fits_gsm(ch)) + "€Ω"
MIXED = st.text(alphabet=st.sampled_from(GSM_CHARS), max_size=60) | st.text(max_size=60)


@settings(max_examples=150, deadline=None)
@given(MIXED)
def test_any_text_round_trips_and_costs_what_it_encodes(text):
    encoded = encode(text)
    assert decode(encoded.data, encoded.data_coding) == text
    octets_per_unit = 2 if encoded.data_coding == UCS2 else 1
    assert encoded.units * octets_per_unit == len(encoded.data)
