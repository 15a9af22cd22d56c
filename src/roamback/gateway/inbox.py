"""The embedded Notifier: a simulated handset inbox standing in for the operator's SMSC.

It is what the demo and load tests deliver notices to when no SMPP link is configured: every text is
kept per MSISDN (bounded) and logged with the number masked, and gets a message id like an SMSC's.
"""

from __future__ import annotations

import itertools
from collections import defaultdict, deque

from twisted.logger import Logger

from ..core.model import Notice

log = Logger()


class HandsetInbox:
    def __init__(self, keep_per_msisdn: int = 20) -> None:
        self._texts: defaultdict[str, deque[str]] = defaultdict(lambda: deque(maxlen=keep_per_msisdn))
        self._ids = itertools.count(1)
        self.delivered = 0

    async def send(self, notice: Notice) -> str:
        self._texts[notice.msisdn].append(notice.text)
        self.delivered += 1
        message_id = f"sim-{next(self._ids)}"
        log.info("SMS {message_id} to {msisdn}: {text}", message_id=message_id, msisdn=notice.msisdn,
                 text=notice.text)
        return message_id

    def texts(self, msisdn: str) -> list[str]:
        return list(self._texts.get(msisdn, ()))
