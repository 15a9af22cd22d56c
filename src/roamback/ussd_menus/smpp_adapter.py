"""The menu engine behind the SMPP USSD glue (``gateway.mobile.ussd_transport.UssdApplication``).

The glue keeps the centre's dialogue table (keys, dialects, its own timer) and calls ``begin``/``answer``
with its ``Dialogue``; this adapter names the dialogue for the engine's state store and passes the glue's
language hint. The glue does not tell applications about aborts and timeouts, so the service must run
``MenuEngine.expire`` every few seconds (or the glue must call ``MenuEngine.end``) to free their state.
"""

from __future__ import annotations

from collections.abc import Hashable

from ..gateway.ussd import CallbackDial, Dialogue, MenuDial
from .engine import MenuEngine
from .session import MenuSession, Screen


def session_id(key: Hashable) -> str:
    """``("+447700900123", 7)`` -> ``"smpp:+447700900123:7"``: one id per live dialogue of the centre."""
    parts = key if isinstance(key, tuple) else (key,)
    return "smpp:" + ":".join(str(part) for part in parts)


class SmppMenuApplication:
    def __init__(self, engine: MenuEngine) -> None:
        self.engine = engine

    async def begin(self, dialogue: Dialogue, dial: MenuDial | CallbackDial) -> Screen:
        dialled = f"*{dial.service_code}*{dial.number}#" if isinstance(dial, CallbackDial) else f"*{dial.service_code}#"
        return await self.engine.begin(self._session(dialogue), dialled)

    async def answer(self, dialogue: Dialogue, text: str) -> Screen:
        return await self.engine.answer(self._session(dialogue), text)

    @staticmethod
    def _session(dialogue: Dialogue) -> MenuSession:
        return MenuSession(session_id(dialogue.key), dialogue.msisdn, dialogue.language)
