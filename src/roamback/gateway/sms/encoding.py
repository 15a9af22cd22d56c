"""Which alphabet an SMS travels in, what it costs, and how to read what an SMSC hands us.

A GSM 03.38 message carries 160 characters where UCS2 carries 70, so the cheaper alphabet is chosen
whenever every character fits it; one ``ç`` or emoji is enough to switch the whole message to UCS2. The
characters of the extension table (``€[]{}~^|\\`` and form feed) travel as an escape pair and cost two
septets, which is why costs are counted per character rather than by ``len(text)``.

Over SMPP, data_coding 0x00 carries one septet per octet, unpacked: the SMSC does the 7-bit packing. The
tables come from the ``gsm0338`` codec; the loops are ours because the codec silently drops a trailing
escape and refuses an escape before a character the extension table lacks, where GSM 03.38 says to show
the base character (and a space for the reserved double escape).
"""

from __future__ import annotations

from dataclasses import dataclass

import gsm0338

GSM_DEFAULT = 0x00
IA5 = 0x01
LATIN1 = 0x03
CYRILLIC = 0x06
HEBREW = 0x07
UCS2 = 0x08
USSD_GSM = 0x0F

_ESCAPE = 0x1B
_ESCAPE_CHAR = "\x1b"

# SMPP data_coding values whose octets a Python codec reads as they are.
_BYTE_CODECS = {IA5: "ascii", LATIN1: "latin-1", CYRILLIC: "iso8859-5", HEBREW: "iso8859-8"}


def _tables() -> tuple[dict[int, str], dict[int, str]]:
    codec = gsm0338.Codec()
    basic = {code: codec.decode(bytes([code]))[0] for code in range(0x80) if code != _ESCAPE}
    extension = {}
    for code in range(0x80):
        try:
            extension[code] = codec.decode(bytes([_ESCAPE, code]))[0]
        except UnicodeDecodeError:
            continue
    return basic, extension


_BASIC, _EXTENSION = _tables()
# The escape character itself is not text: a subscriber cannot type it and a handset would read it as
# the start of a pair, so a text containing it goes out in UCS2.
_TO_GSM: dict[str, bytes] = {char: bytes([code]) for code, char in _BASIC.items()}
_TO_GSM |= {char: bytes([_ESCAPE, code]) for code, char in _EXTENSION.items()}
# Every reply and notice is checked and encoded: done by str.translate and set operations in C, not a
# Python loop per character (the USSD step budget is a few hundred microseconds).
_GSM_CHARS = frozenset(_TO_GSM)
_GSM_TRANSLATION = {ord(char): octets.decode("latin-1") for char, octets in _TO_GSM.items()}


class SmsDecodeError(ValueError):
    """A short_message we cannot turn into text; the peer's fault, never ours. ``data_coding`` is kept
    so the log line says which SMSC setting to look at."""

    def __init__(self, data_coding: int, reason: str) -> None:
        super().__init__(f"data_coding 0x{data_coding:02X}: {reason}")
        self.data_coding = data_coding
        self.reason = reason


class UnsupportedDataCoding(SmsDecodeError):
    """An alphabet we do not read (binary, JIS, Korean, compressed...)."""

    def __init__(self, data_coding: int) -> None:
        super().__init__(data_coding, "alphabet not supported")


class SmsEncodeError(ValueError):
    """A text no handset could display, such as one holding a lone UTF-16 surrogate."""


@dataclass(frozen=True, slots=True)
class Encoded:
    """A whole text ready for one short_message or for splitting; ``units`` is septets for GSM and
    UTF-16 code units for UCS2, the quantity the 160/70 and 153/67 limits count."""

    data: bytes
    data_coding: int
    units: int


def fits_gsm(text: str) -> bool:
    return _GSM_CHARS.issuperset(text)


def choose_data_coding(text: str, *, allow_gsm: bool = True) -> int:
    """GSM_DEFAULT when every character fits, else UCS2. ``allow_gsm=False`` is for SMSCs that mangle the
    default alphabet (some read 0x00 as Latin-1), where UCS2 is the only safe choice."""
    return GSM_DEFAULT if allow_gsm and fits_gsm(text) else UCS2


def cost(text: str, data_coding: int) -> int:
    """Units ``text`` occupies in ``data_coding`` (GSM_DEFAULT or UCS2): an extension-table character
    costs two septets, a character beyond the Basic Multilingual Plane (emoji) two UTF-16 code units."""
    if data_coding == UCS2:
        return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)
    if data_coding == GSM_DEFAULT:
        return len(_gsm_octets(text))
    raise ValueError(f"we only send GSM_DEFAULT or UCS2, not 0x{data_coding:02X}")


def encode_as(text: str, data_coding: int) -> bytes:
    """Octets of ``text`` in ``data_coding`` (GSM_DEFAULT unpacked, or UCS2 big-endian)."""
    if data_coding == UCS2:
        try:
            return text.encode("utf-16-be")
        except UnicodeEncodeError as exc:
            raise SmsEncodeError(f"lone surrogate at index {exc.start}") from None
    if data_coding == GSM_DEFAULT:
        return _gsm_octets(text)
    raise ValueError(f"we only send GSM_DEFAULT or UCS2, not 0x{data_coding:02X}")


def encode(text: str, *, allow_gsm: bool = True) -> Encoded:
    """``text`` in the cheapest alphabet that carries it unchanged."""
    data_coding = choose_data_coding(text, allow_gsm=allow_gsm)
    return Encoded(encode_as(text, data_coding), data_coding, cost(text, data_coding))


def _gsm_octets(text: str) -> bytes:
    if not _GSM_CHARS.issuperset(text):
        char = next(char for char in text if char not in _GSM_CHARS)
        raise ValueError(f"{char!r} is not in the GSM 03.38 alphabet")
    return text.translate(_GSM_TRANSLATION).encode("latin-1")


def decode(short_message: bytes, data_coding: int) -> str:
    """Text of an incoming short_message; raises SmsDecodeError, never anything else.

    Beyond the SMPP 3.4 values (0x00 default alphabet, 0x01 IA5, 0x03 Latin-1, 0x06 Cyrillic, 0x07 Hebrew,
    0x08 UCS2), some centres pass GSM 03.38 data coding schemes through unchanged: 0x0F (USSD, language
    unspecified), 0x10-0x13 and 0xF0-0xF3/0xF8-0xFB (default alphabet with a message class, unpacked over
    SMPP) and 0x18-0x1B (UCS2 with a message class, as flash SMS come). Binary codings are not text.
    """
    if _is_gsm(data_coding):
        return _decode_gsm(short_message, data_coding)
    if is_ucs2(data_coding):
        return _decode_ucs2(short_message, data_coding)
    codec = _BYTE_CODECS.get(data_coding)
    if codec is None:
        raise UnsupportedDataCoding(data_coding)
    try:
        return short_message.decode(codec)
    except UnicodeDecodeError as exc:
        raise SmsDecodeError(data_coding, f"octet 0x{short_message[exc.start]:02X} at {exc.start}") from None


def _is_gsm(data_coding: int) -> bool:
    # 0x10-0x13: GSM 03.38 general group with a message class (class 0 is "flash").
    return data_coding in (GSM_DEFAULT, USSD_GSM) or 0x10 <= data_coding <= 0x13 or (
        data_coding >= 0xF0 and not data_coding & 0x04
    )


def is_ucs2(data_coding: int) -> bool:
    """True for codings whose text comes in 2-octet units, so a part of odd length is already broken."""
    # 0x18-0x1B: GSM 03.38 general group, UCS2 with a message class (flash SMS in UCS2).
    return data_coding == UCS2 or 0x18 <= data_coding <= 0x1B


def _decode_gsm(short_message: bytes, data_coding: int) -> str:
    chars = []
    octets = iter(enumerate(short_message))
    for index, octet in octets:
        if octet > 0x7F:
            raise SmsDecodeError(data_coding, f"octet 0x{octet:02X} at {index} is not a septet")
        if octet != _ESCAPE:
            chars.append(_BASIC[octet])
            continue
        _, following = next(octets, (index, None))
        if following is None:
            break  # a trailing escape carries no character
        if following > 0x7F:
            raise SmsDecodeError(data_coding, f"octet 0x{following:02X} at {index + 1} is not a septet")
        if following == _ESCAPE:
            chars.append(" ")  # reserved for a further extension table; 03.38 says show a space
        else:
            chars.append(_EXTENSION.get(following, _BASIC[following]))
    return "".join(chars)


def _decode_ucs2(short_message: bytes, data_coding: int) -> str:
    if len(short_message) % 2:
        raise SmsDecodeError(data_coding, f"odd number of octets ({len(short_message)}) for UCS2")
    try:
        return short_message.decode("utf-16-be")
    except UnicodeDecodeError as exc:
        raise SmsDecodeError(data_coding, f"unpaired surrogate at octet {exc.start}") from None
