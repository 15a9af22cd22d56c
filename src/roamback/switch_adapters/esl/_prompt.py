"""What leg A hears on answer, as FreeSWITCH applications: balance, maximum time, "connecting".

Numbers are said by the ``say`` application in the prompt's language (the mod_say_<lang> module must be
loaded); the fixed phrases are sound files named in ``EslPromptSounds``, found under the leg's
``sound_prefix`` so an operator can record them for each language it serves.
"""

from __future__ import annotations

import re

from ...core.messages import minor_exponent
from ...core.model import Prompt
from ._settings import EslPromptSounds

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
        exponent = minor_exponent(code)
        major, minor = divmod(prompt.balance_minor, 10**exponent) if exponent else (prompt.balance_minor, 0)
        apps += [("playback", sounds.balance_intro), number(major)]
        apps.append(("playback", sounds.currency[code]) if code in sounds.currency
                    else ("say", f"{lang} name_spelled iterated {code}"))
        if minor:
            apps += [number(minor), ("playback", sounds.minor_units)]
    apps += [("playback", sounds.max_time_intro), number(prompt.max_seconds // 60), ("playback", sounds.minutes),
             ("playback", sounds.connecting)]
    return apps
