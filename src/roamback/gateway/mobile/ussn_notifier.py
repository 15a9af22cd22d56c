"""Call-back outcomes pushed to the handset as network-initiated USSD (USSN), with SMS as the fallback.

Why: an outcome such as "Number busy, we will retry in 1 min" matters while the roamer still holds the
phone, and a USSN is on the screen at once, costs no SMS and leaves nothing in the inbox. But USSD is not
stored and forwarded: a handset that is off or already in a USSD dialogue, or a centre that refuses the
push, loses it. So a push the centre does not take goes to the SMS notifier straight away, in the same
``send``; the outbox keeps retrying only what the SMS notifier raises. A timed-out push may still have
been shown, and then the SMS repeats it: a repeated outcome beats a lost one.

Only notices of a call-back request are pushed. Replies to SMS commands (no request) stay SMS: the
subscriber typed a text and reads the answer in the same thread. A text longer than one USSD page goes
by SMS from the start, since USSD cannot concatenate and an outcome must not arrive cut short.
"""

from __future__ import annotations

import smpp34
from twisted.logger import Logger

from ...core.model import Notice
from ...core.ports import Notifier
from ..smpp import SmppRequestError
from ..sms import GSM_DEFAULT, UCS2, cost, fits_gsm
from ..sms.encoding import encode_as
from ..ussd import UssdSettings
from .smpp_notifier import Submit

log = Logger()

ID_PREFIX = "ussn:"
"""Marks a push's message id in the outbox: the USSD centre's ids may collide with the SMSC's, and no
delivery receipt ever comes for a USSN."""


class UssnNotifier:
    """A ``Notifier`` that tries a USSN on ``submit`` (the USSD links) before ``sms``."""

    def __init__(self, sms: Notifier, submit: Submit, *, op: int, settings: UssdSettings, source_addr: str) -> None:
        self._sms = sms
        self._submit = submit
        self._op = op
        self._settings = settings
        self._source_addr = source_addr
        self.pushed = 0
        self.fell_back = 0

    async def send(self, notice: Notice) -> str:
        pdu = self._pdu(notice) if notice.request_id is not None else None
        if pdu is not None:
            try:
                response = await self._submit(pdu)
            except SmppRequestError as exc:
                self.fell_back += 1
                log.info("USSN to {msisdn} not taken ({error}); sending notice {key} by SMS",
                         msisdn=notice.msisdn, error=str(exc), key=notice.key)
            else:
                self.pushed += 1
                return (ID_PREFIX + response.message_id)[:64]
        return await self._sms.send(notice)

    def _pdu(self, notice: Notice) -> smpp34.SubmitSm | None:
        """The USSN carrying ``notice``, or None when its text needs more than one USSD page."""
        text = notice.text
        dialect = self._settings.dialect
        if fits_gsm(text):
            if cost(text, GSM_DEFAULT) > self._settings.max_page_chars_gsm:
                return None
            payload = encode_as(text, GSM_DEFAULT)
            data_coding = GSM_DEFAULT if dialect.data_coding == "auto" else dialect.data_coding
        else:
            if len(text.encode("utf-16-le")) // 2 > self._settings.max_page_chars_ucs2:
                return None
            payload, data_coding = encode_as(text, UCS2), UCS2
        # A push names no dialogue (no its_session_info, no user_message_reference): it opens its own.
        return smpp34.SubmitSm(
            self._source_addr, notice.msisdn.removeprefix("+"), payload, service_type=dialect.service_type,
            dest_addr_ton=1 if notice.msisdn.startswith("+") else 0, dest_addr_npi=1, data_coding=data_coding,
            tlvs=[smpp34.Tlv(smpp34.TLV_USSD_SERVICE_OP, bytes([self._op]))],
        )
