"""The media list leg A hears on answer: balance, maximum time, "connecting", in its own language.

Asterisk says numbers itself (``number:``) in the channel's language, so only the fixed phrases are
sound files, named in ``PromptSounds`` so an operator can record them for each language it serves.
"""

from __future__ import annotations

from ...core.messages import minor_exponent
from ...core.model import Prompt
from ._settings import PromptSounds


def prompt_media(prompt: Prompt, sounds: PromptSounds) -> list[str]:
    """Media URIs for ``POST /channels/{id}/play``; the minutes are rounded down, never promised up."""
    media: list[str] = []
    if prompt.balance_minor is not None and prompt.currency:
        exponent = minor_exponent(prompt.currency)
        major, minor = divmod(prompt.balance_minor, 10**exponent) if exponent else (prompt.balance_minor, 0)
        media += [f"sound:{sounds.balance_intro}", f"number:{major}"]
        code = prompt.currency.upper()
        media.append(f"sound:{sounds.currency[code]}" if code in sounds.currency else f"characters:{code}")
        if minor:
            media += [f"number:{minor}", f"sound:{sounds.minor_units}"]
    media += [f"sound:{sounds.max_time_intro}", f"number:{prompt.max_seconds // 60}", f"sound:{sounds.minutes}",
              f"sound:{sounds.connecting}"]
    return media
