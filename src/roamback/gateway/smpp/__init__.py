"""SMPP 3.4 link layer: a sans-I/O bind session (``SmppSession``) and its Twisted adapters.

ESME role: ``EsmeLink`` (a service holding the binds of one link) with ``submit``; the peer's deliver_sm and
data_sm go to a ``RequestHandler``. SMSC role: ``SmscFactory`` with an ``Authenticator``, a handler for
submit_sm and ``deliver`` to push MO traffic to a bound ESME.
"""

from .esme import EsmeLink, EsmeProtocol, LinkConfig
from .events import (
    BindFailed,
    BindRequested,
    BindSucceeded,
    Event,
    FailureReason,
    InvalidPduReceived,
    LinkDead,
    LocalProtocolError,
    RemoteProtocolError,
    RequestFailed,
    RequestReceived,
    ResponseReceived,
    Role,
    SendRateChanged,
    State,
    Unbound,
)
from .pdus import Bind, BindResp, CommandId, DataSm, HeaderOnly, MessageResp, Pdu, Status
from .protocol import Answer, RequestHandler, SmppProtocol, SmppRequestError
from .session import SessionConfig, SmppSession
from .smsc import Authenticator, PasswordAuthenticator, SmscFactory, SmscProtocol

__all__ = [
    "Answer",
    "Authenticator",
    "Bind",
    "BindFailed",
    "BindRequested",
    "BindResp",
    "BindSucceeded",
    "CommandId",
    "DataSm",
    "EsmeLink",
    "EsmeProtocol",
    "Event",
    "FailureReason",
    "HeaderOnly",
    "InvalidPduReceived",
    "LinkConfig",
    "LinkDead",
    "LocalProtocolError",
    "MessageResp",
    "PasswordAuthenticator",
    "Pdu",
    "RemoteProtocolError",
    "RequestFailed",
    "RequestHandler",
    "RequestReceived",
    "ResponseReceived",
    "Role",
    "SendRateChanged",
    "SessionConfig",
    "SmppProtocol",
    "SmppRequestError",
    "SmppSession",
    "SmscFactory",
    "SmscProtocol",
    "State",
    "Status",
    "Unbound",
]
