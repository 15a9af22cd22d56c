"""The Diameter vocabulary roamback speaks: command codes, AVP codes with their types and flags, result codes.

Kept to what the base protocol (RFC 6733), credit control (RFC 4006) and Ro (3GPP TS 32.299) need, as
plain data, so the codec can encode by code alone and the tests can compare every entry with
python-diameter's much larger dictionary. The one deliberate difference from that dictionary is not in
the table but in python-diameter's messages: it sends Origin-Host/Origin-Realm without the M bit, which
RFC 6733 section 6.3/6.4 require; here every AVP gets the flags of its row, always.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

VENDOR_3GPP = 10415
APP_CREDIT_CONTROL = 4
APP_RELAY = 0xFFFFFFFF

HEADER_FLAG_REQUEST = 0x80
HEADER_FLAG_PROXIABLE = 0x40
HEADER_FLAG_ERROR = 0x20
HEADER_FLAG_RETRANSMIT = 0x10

AVP_FLAG_VENDOR = 0x80
AVP_FLAG_MANDATORY = 0x40


class Command(IntEnum):
    CAPABILITIES_EXCHANGE = 257
    RE_AUTH = 258
    ABORT_SESSION = 274
    DEVICE_WATCHDOG = 280
    DISCONNECT_PEER = 282
    CREDIT_CONTROL = 272


class AvpType(IntEnum):
    """The RFC 6733 4.2/4.3 types this dictionary uses (the codec encodes exactly these)."""

    UNSIGNED32 = 4
    GROUPED = 6
    ADDRESS = 7
    UTF8 = 9
    IDENTITY = 10  # DiameterIdentity: octets on the wire, ASCII in practice
    ENUMERATED = 11


@dataclass(frozen=True, slots=True)
class AvpDef:
    code: int
    name: str
    type: AvpType
    mandatory: bool = True
    vendor: int = 0

    @property
    def flags(self) -> int:
        return (AVP_FLAG_VENDOR if self.vendor else 0) | (AVP_FLAG_MANDATORY if self.mandatory else 0)


T = AvpType
_DEFS = (
    AvpDef(1, "User-Name", T.UTF8),
    AvpDef(257, "Host-IP-Address", T.ADDRESS),
    AvpDef(258, "Auth-Application-Id", T.UNSIGNED32),
    AvpDef(259, "Acct-Application-Id", T.UNSIGNED32),
    AvpDef(260, "Vendor-Specific-Application-Id", T.GROUPED),
    AvpDef(263, "Session-Id", T.UTF8),
    AvpDef(264, "Origin-Host", T.IDENTITY),
    AvpDef(265, "Supported-Vendor-Id", T.UNSIGNED32),
    AvpDef(266, "Vendor-Id", T.UNSIGNED32),
    AvpDef(267, "Firmware-Revision", T.UNSIGNED32, mandatory=False),
    AvpDef(268, "Result-Code", T.UNSIGNED32),
    AvpDef(269, "Product-Name", T.UTF8, mandatory=False),
    AvpDef(273, "Disconnect-Cause", T.ENUMERATED),
    AvpDef(277, "Auth-Session-State", T.ENUMERATED),
    AvpDef(278, "Origin-State-Id", T.UNSIGNED32),
    AvpDef(279, "Failed-AVP", T.GROUPED),
    AvpDef(281, "Error-Message", T.UTF8, mandatory=False),
    AvpDef(282, "Route-Record", T.IDENTITY),
    AvpDef(283, "Destination-Realm", T.IDENTITY),
    AvpDef(284, "Proxy-Info", T.GROUPED),
    AvpDef(285, "Re-Auth-Request-Type", T.ENUMERATED),
    AvpDef(293, "Destination-Host", T.IDENTITY),
    AvpDef(295, "Termination-Cause", T.ENUMERATED),
    AvpDef(296, "Origin-Realm", T.IDENTITY),
    AvpDef(297, "Experimental-Result", T.GROUPED),
    AvpDef(298, "Experimental-Result-Code", T.UNSIGNED32),
    AvpDef(415, "CC-Request-Number", T.UNSIGNED32),
    AvpDef(416, "CC-Request-Type", T.ENUMERATED),
    AvpDef(418, "CC-Session-Failover", T.ENUMERATED),
    AvpDef(420, "CC-Time", T.UNSIGNED32),
    AvpDef(427, "Credit-Control-Failure-Handling", T.ENUMERATED),
    AvpDef(430, "Final-Unit-Indication", T.GROUPED),
    AvpDef(431, "Granted-Service-Unit", T.GROUPED),
    AvpDef(432, "Rating-Group", T.UNSIGNED32),
    AvpDef(437, "Requested-Service-Unit", T.GROUPED),
    AvpDef(439, "Service-Identifier", T.UNSIGNED32),
    AvpDef(443, "Subscription-Id", T.GROUPED),
    AvpDef(444, "Subscription-Id-Data", T.UTF8),
    AvpDef(446, "Used-Service-Unit", T.GROUPED),
    AvpDef(448, "Validity-Time", T.UNSIGNED32),
    AvpDef(449, "Final-Unit-Action", T.ENUMERATED),
    AvpDef(450, "Subscription-Id-Type", T.ENUMERATED),
    AvpDef(455, "Multiple-Services-Indicator", T.ENUMERATED),
    AvpDef(456, "Multiple-Services-Credit-Control", T.GROUPED),
    AvpDef(461, "Service-Context-Id", T.UTF8),
    AvpDef(829, "Role-Of-Node", T.ENUMERATED, vendor=VENDOR_3GPP),
    AvpDef(831, "Calling-Party-Address", T.UTF8, vendor=VENDOR_3GPP),
    AvpDef(832, "Called-Party-Address", T.UTF8, vendor=VENDOR_3GPP),
    AvpDef(862, "Node-Functionality", T.ENUMERATED, vendor=VENDOR_3GPP),
    AvpDef(872, "3GPP-Reporting-Reason", T.ENUMERATED, vendor=VENDOR_3GPP),
    AvpDef(873, "Service-Information", T.GROUPED, vendor=VENDOR_3GPP),
    AvpDef(876, "IMS-Information", T.GROUPED, vendor=VENDOR_3GPP),
)
AVPS: dict[tuple[int, int], AvpDef] = {(d.code, d.vendor): d for d in _DEFS}
BY_NAME: dict[str, AvpDef] = {d.name: d for d in _DEFS}


def avp(name: str) -> AvpDef:
    """Look an AVP up by its RFC name, so message builders read like the ABNF they follow."""
    return BY_NAME[name]


class ResultCode(IntEnum):
    SUCCESS = 2001
    LIMITED_SUCCESS = 2002
    COMMAND_UNSUPPORTED = 3001
    UNABLE_TO_DELIVER = 3002
    REALM_NOT_SERVED = 3003
    TOO_BUSY = 3004
    LOOP_DETECTED = 3005
    APPLICATION_UNSUPPORTED = 3007
    INVALID_HDR_BITS = 3008
    INVALID_AVP_BITS = 3009
    UNKNOWN_PEER = 3010
    UNKNOWN_SESSION_ID = 5002
    AUTHORIZATION_REJECTED = 5003
    INVALID_AVP_VALUE = 5004
    MISSING_AVP = 5005
    NO_COMMON_APPLICATION = 5010
    UNSUPPORTED_VERSION = 5011
    UNABLE_TO_COMPLY = 5012
    INVALID_AVP_LENGTH = 5014
    INVALID_MESSAGE_LENGTH = 5015
    END_USER_SERVICE_DENIED = 4010
    CREDIT_CONTROL_NOT_APPLICABLE = 4011
    CREDIT_LIMIT_REACHED = 4012
    USER_UNKNOWN = 5030
    RATING_FAILED = 5031


class CcRequestType(IntEnum):
    INITIAL = 1
    UPDATE = 2
    TERMINATION = 3
    EVENT = 4


class FailureHandling(IntEnum):
    """Credit-Control-Failure-Handling (RFC 4006 8.14): what to do when the OCS cannot be reached."""

    TERMINATE = 0
    CONTINUE = 1
    RETRY_AND_TERMINATE = 2


class FinalUnitAction(IntEnum):
    TERMINATE = 0
    REDIRECT = 1
    RESTRICT_ACCESS = 2


class DisconnectCause(IntEnum):
    REBOOTING = 0
    BUSY = 1
    DO_NOT_WANT_TO_TALK_TO_YOU = 2


class SubscriptionIdType(IntEnum):
    END_USER_E164 = 0
    END_USER_IMSI = 1


class ReportingReason(IntEnum):
    """3GPP-Reporting-Reason (TS 32.299 7.2.175), the ones a call-back client reports."""

    THRESHOLD = 0
    QHT = 1
    FINAL = 2
    QUOTA_EXHAUSTED = 3
    VALIDITY_TIME = 4
    OTHER_QUOTA_TYPE = 5
    RATING_CONDITION_CHANGE = 6
    FORCED_REAUTHORISATION = 7
