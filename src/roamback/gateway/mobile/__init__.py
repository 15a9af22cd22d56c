"""The mobile front doors over SMPP: subscribers' SMS commands, USSD dialogues, receipts, and SMS notices.

``build_messaging`` turns the ``smpp``/``sms``/``ussd`` configuration into a ``Messaging`` service (links
plus handlers); ``MoHandler`` answers deliver_sm, ``SmsCommands`` runs commands against the core,
``UssdTransport`` keeps dialogues and ``SmppNotifier`` sends the outbox's notices.
"""

from .mo_handler import Inbound, MoHandler
from .receipts import Receipt, is_receipt, parse_receipt
from .smpp_notifier import PermanentSendError, SmppNotifier, SmsSender, TemporarySendError
from .sms_commands import Outcome, RegistrationSettings, SmsCommands
from .ussd_transport import OneShotApplication, Screen, UssdApplication, UssdTransport
from .wiring import Messaging, build_messaging, link_config

__all__ = [
    "Inbound",
    "Messaging",
    "MoHandler",
    "OneShotApplication",
    "Outcome",
    "PermanentSendError",
    "Receipt",
    "RegistrationSettings",
    "Screen",
    "SmppNotifier",
    "SmsCommands",
    "SmsSender",
    "TemporarySendError",
    "UssdApplication",
    "UssdTransport",
    "build_messaging",
    "is_receipt",
    "link_config",
    "parse_receipt",
]
