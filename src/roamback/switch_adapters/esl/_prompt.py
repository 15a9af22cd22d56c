"""What leg A hears on answer, as FreeSWITCH applications: balance, maximum time, "connecting".

Numbers are said by the ``say`` application in the prompt's language (the mod_say_<lang> module must be
loaded); the fixed phrases are sound files named in ``EslPromptSounds``, found under the leg's
``sound_prefix`` so an operator can record them for each language it serves.
"""

from __future__ import annotations

import re

from ...core.model import Prompt
from ._settings import EslPromptSounds

# ISO 4217 exponents that are not 2; enough for the currencies a home network bills in.
_EXPONENTS = {"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
              "CLP": 0, "ISK": 0, "JPY": 0, "KRW": 0, "PYG": 0, "UGX": 0, "VND": 0, "XAF": 0, "XOF": 0}

App = tuple[str, str]  # (application, argument) for one ``sendmsg ... execute``


def prompt_apps(prompt: Prompt, sounds: EslPromptSounds) -> list[App]:
    """The applications to run in order; the minutes are rounded down, never promised up."""
    # The language is an argument of ``say``: anything but a plain language code would change its meaning.
    lang = prompt.language.lower() if re.fullmatch(r"[A-Za-z]{2,3}", prompt.language) else "en"

    def number(value: int) -> App:
        return ("say", f"{lang} number pronounced {value}")

    apps: list[App] = []
    if prompt.balance_minor is not None and prompt.currency:
        code = prompt.currency.upper()
        exponent = _EXPONENTS.get(code, 2)
        major, minor = divmod(prompt.balance_minor, 10**exponent) if exponent else (prompt.balance_minor, 0)
        apps += [("playback", sounds.balance_intro), number(major)]
        apps.append(("playback", sounds.currency[code]) if code in sounds.currency
                    else ("say", f"{lang} name_spelled iterated {code}"))
        if minor:
            apps += [number(minor), ("playback", sounds.minor_units)]
    apps += [("playback", sounds.max_time_intro), number(prompt.max_seconds // 60), ("playback", sounds.minutes),
             ("playback", sounds.connecting)]
    return apps
