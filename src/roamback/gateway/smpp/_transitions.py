"""Which SMPP state follows which input, and which requests each role may exchange in each state.

Kept as data (h2's ``_transitions``): a pair missing from ``TRANSITIONS`` is a protocol error, so the rules can
be read and tested in one place (SMPP 3.4 section 2.3, table 2-1).
"""

from __future__ import annotations

from enum import Enum, auto

from .events import Role, State
from .pdus import CommandId


class Input(Enum):
    BIND_SENT = auto()
    BIND_RECEIVED = auto()
    ACCEPTED_TX = auto()
    ACCEPTED_RX = auto()
    ACCEPTED_TRX = auto()
    BIND_REJECTED = auto()
    BIND_TIMED_OUT = auto()
    UNBIND_SENT = auto()
    UNBIND_RECEIVED = auto()
    UNBIND_ANSWERED = auto()
    LINK_DIED = auto()
    CONNECTION_LOST = auto()


BOUND = (State.BOUND_TX, State.BOUND_RX, State.BOUND_TRX)
TRANSITIONS: dict[tuple[State, Input], State] = {
    (State.OPEN, Input.BIND_SENT): State.BINDING,
    (State.OPEN, Input.BIND_RECEIVED): State.BINDING,
    (State.OPEN, Input.BIND_TIMED_OUT): State.CLOSED,
    (State.BINDING, Input.ACCEPTED_TX): State.BOUND_TX,
    (State.BINDING, Input.ACCEPTED_RX): State.BOUND_RX,
    (State.BINDING, Input.ACCEPTED_TRX): State.BOUND_TRX,
    (State.BINDING, Input.BIND_REJECTED): State.CLOSED,
    (State.BINDING, Input.BIND_TIMED_OUT): State.CLOSED,
    **{(bound, Input.UNBIND_SENT): State.UNBINDING for bound in BOUND},
    **{(bound, Input.UNBIND_RECEIVED): State.CLOSED for bound in BOUND},
    **{(bound, Input.LINK_DIED): State.CLOSED for bound in BOUND},
    (State.UNBINDING, Input.UNBIND_RECEIVED): State.CLOSED,
    (State.UNBINDING, Input.UNBIND_ANSWERED): State.CLOSED,
    (State.UNBINDING, Input.LINK_DIED): State.CLOSED,
    **{(state, Input.CONNECTION_LOST): State.CLOSED for state in State},
}
ACCEPTED = {
    CommandId.BIND_TRANSMITTER: Input.ACCEPTED_TX,
    CommandId.BIND_RECEIVER: Input.ACCEPTED_RX,
    CommandId.BIND_TRANSCEIVER: Input.ACCEPTED_TRX,
}
MT = frozenset({CommandId.SUBMIT_SM, CommandId.DATA_SM})
MO = frozenset({CommandId.DELIVER_SM, CommandId.DATA_SM})
MAY_SEND = {
    (Role.ESME, State.BOUND_TX): MT,
    (Role.ESME, State.BOUND_TRX): MT,
    (Role.SMSC, State.BOUND_RX): MO,
    (Role.SMSC, State.BOUND_TRX): MO,
}
MAY_RECEIVE = {
    (Role.ESME, State.BOUND_RX): MO,
    (Role.ESME, State.BOUND_TRX): MO,
    (Role.SMSC, State.BOUND_TX): MT,
    (Role.SMSC, State.BOUND_TRX): MT,
}
