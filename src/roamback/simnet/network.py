"""The simulated network as one object: the SMPP listener's handler, the SMSC, the USSD centre, the handsets.

A submit_sm carrying ussd_service_op belongs to a USSD dialogue, any other one is an SMS: one SMPP account
can serve both, as the service's embedded defaults expect, while ``sms.deliver_to`` and
``ussd.deliver_to`` let MO traffic go to different ESMEs when the service binds twice.
"""

from __future__ import annotations

from functools import partial

import smpp34
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime

from ..gateway.smpp import Answer, PasswordAuthenticator, Pdu, SmscFactory, Status
from .config import SimnetConfig
from .delivery import Redelivery
from .handsets import Handsets
from .smsc import SmsCentre
from .ussdc import UssdCentre


class SimNetwork:
    def __init__(self, config: SimnetConfig, clock: IReactorTime) -> None:
        self.config = config
        self.handsets = Handsets(config.sms.inbox_limit)
        self.factory = SmscFactory(
            PasswordAuthenticator(config.smpp.accounts), self, clock, system_id=config.smpp.system_id
        )
        self.factory.noisy = False  # one line per ESME connection is noise in a simulator's console
        self._redelivery = Redelivery(self.factory.deliver, clock, config.sms.retry)
        self.sms = SmsCentre(config.sms, self.handsets, clock, self._redelivery)
        self.ussd = UssdCentre(config.ussd, self.handsets, clock, partial(self.factory.deliver, config.ussd.deliver_to))

    def handle_request(self, pdu: Pdu, origin: str) -> Answer | int:
        """Every request an ESME sends us; data_sm is not simulated (ESME_RINVCMDID)."""
        if not isinstance(pdu, smpp34.SubmitSm):
            return Status.RINVCMDID
        if any(tlv.tag == smpp34.TLV_USSD_SERVICE_OP for tlv in pdu.tlvs):
            return self.ussd.submit(pdu, origin)
        return self.sms.submit(pdu, origin)

    def stop(self) -> Deferred[list[object]]:
        """Cancel every timer (receipts, redeliveries, dialogues) and unbind every ESME."""
        self._redelivery.stop()
        self.sms.stop()
        self.ussd.stop()
        return self.factory.unbind_all()
