"""An independent OCS for tests: python-diameter's own Node (threads, its own codec), in its own process.

Usage: python ocs_python_diameter.py PORT OCS_HOST OCS_REALM CLIENT_HOST CLIENT_REALM [IDLE_SECONDS]

It knows only CLIENT_HOST as a peer (anyone else gets 3010 in the CEA) and answers Credit-Control-Requests
according to the last two digits of the subscriber's E.164 Subscription-Id:

    00 grant what was asked          01 partial grant (RG 100: 100 s, RG 200: 60 s)
    02 grant with Final-Unit-Indication TERMINATE on both legs
    03 top-level 4012                04 top-level 5030          05 5031 in leg B's MSCC only
    06 grant 90 s per leg with Validity-Time 30                 07 never answer (to expire Tx)

Stdout, one line per event: ``READY``, ``CER host``, ``DWR``, ``DWA``, ``DPR``,
``CCR type number session subscriber dest-host used T`` (used as ``rg:seconds,...``; ``T`` for a
retransmission, ``-`` otherwise), ``RAA code``,
``ASA code``. Stdin commands: ``RAR session``, ``ASR session``, ``STOP`` (DPR to every peer, then exit).
IDLE_SECONDS sets when the Node sends its own DWR to a quiet peer.
"""

from __future__ import annotations

import os
import sys
import threading

from diameter.message.avp.grouped import FinalUnitIndication, GrantedServiceUnit
from diameter.message.commands import AbortSessionRequest, CreditControlAnswer, ReAuthRequest
from diameter.message.constants import (
    E_RESULT_CODE_DIAMETER_CREDIT_LIMIT_REACHED,
    E_RESULT_CODE_DIAMETER_RATING_FAILED,
    E_RESULT_CODE_DIAMETER_SUCCESS,
    E_RESULT_CODE_DIAMETER_USER_UNKNOWN,
)
from diameter.node import Node
from diameter.node.application import SimpleThreadingApplication

LOCK = threading.Lock()
SESSIONS: dict[str, bytes] = {}  # session id -> Destination-Realm to use for server-initiated requests


def say(line: str) -> None:
    with LOCK:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


class TracingNode(Node):
    """The Node, saying which base-protocol messages it received."""

    def receive_cer(self, conn, message):
        say(f"CER {message.origin_host.decode()}")
        super().receive_cer(conn, message)

    def receive_dwr(self, conn, message):
        say("DWR")
        super().receive_dwr(conn, message)

    def receive_dwa(self, conn, message):
        say("DWA")
        super().receive_dwa(conn, message)

    def receive_dpr(self, conn, message):
        say("DPR")
        super().receive_dpr(conn, message)


def _subscriber(request) -> str:
    for item in request.subscription_id:
        if item.subscription_id_type == 0:
            return item.subscription_id_data
    return ""


def _used(request) -> str:
    parts = []
    for mscc in request.multiple_services_credit_control:
        for usu in getattr(mscc, "used_service_unit", None) or []:
            parts.append(f"{mscc.rating_group}:{usu.cc_time}")
    return ",".join(parts) or "-"


def _grant(seconds: int | None, answer_mscc: dict) -> None:
    if seconds is not None:
        answer_mscc["granted_service_unit"] = GrantedServiceUnit(cc_time=seconds)


def answer_ccr(app, request):
    subscriber = _subscriber(request)
    dest_host = request.destination_host.decode() if getattr(request, "destination_host", None) else "-"
    say(f"CCR {request.cc_request_type} {request.cc_request_number} {request.session_id} {subscriber} "
        f"{dest_host} {_used(request)} {'T' if request.header.is_retransmit else '-'}")
    SESSIONS[request.session_id] = request.origin_realm
    case = subscriber[-2:]
    if case == "07":
        return None
    answer: CreditControlAnswer = app.generate_answer(request)
    answer.cc_request_type = request.cc_request_type
    answer.cc_request_number = request.cc_request_number
    top = {"03": E_RESULT_CODE_DIAMETER_CREDIT_LIMIT_REACHED, "04": E_RESULT_CODE_DIAMETER_USER_UNKNOWN}
    answer.result_code = top.get(case, E_RESULT_CODE_DIAMETER_SUCCESS)
    if case in top or request.cc_request_type == 3:
        return answer
    for mscc in request.multiple_services_credit_control:
        asked = mscc.requested_service_unit.cc_time if getattr(mscc, "requested_service_unit", None) else None
        fields = {"rating_group": mscc.rating_group, "service_identifier": mscc.service_identifier,
                  "result_code": E_RESULT_CODE_DIAMETER_SUCCESS}
        if case == "01":
            _grant({100: 100, 200: 60}.get(mscc.rating_group, asked), fields)
        elif case == "05" and mscc.rating_group == 200:
            fields["result_code"] = E_RESULT_CODE_DIAMETER_RATING_FAILED
        elif case == "06":
            _grant(90, fields)
            fields["validity_time"] = 30
        else:
            _grant(asked, fields)
        if case == "02":
            fields["final_unit_indication"] = FinalUnitIndication(final_unit_action=0)
        answer.add_multiple_services_credit_control(**fields)
    return answer


def server_request(app, node, kind: str, session: str) -> None:
    request = ReAuthRequest() if kind == "RAR" else AbortSessionRequest()
    request.session_id = session
    request.origin_host = node.origin_host.encode()
    request.origin_realm = node.realm_name.encode()
    request.destination_realm = SESSIONS.get(session, node.peers[next(iter(node.peers))].realm_name.encode())
    request.auth_application_id = 4
    if kind == "RAR":
        request.re_auth_request_type = 0
    answer = app.send_request(request, timeout=5)
    say(f"{'RAA' if kind == 'RAR' else 'ASA'} {answer.result_code if answer is not None else 'none'}")


def main() -> None:
    port, host, realm, client_host, client_realm = sys.argv[1:6]
    idle = int(sys.argv[6]) if len(sys.argv) > 6 else 30
    node = TracingNode(host, realm, ip_addresses=["127.0.0.1"], tcp_port=int(port), vendor_ids=[10415])
    node.idle_timeout = idle
    node.wakeup_interval = 1
    peer = node.add_peer(f"aaa://{client_host}:3868", client_realm)
    app = SimpleThreadingApplication(4, is_auth_application=True, request_handler=answer_ccr)
    node.add_application(app, [peer], realms=[realm])
    node.start()
    say("READY")
    try:
        for line in sys.stdin:
            command, *args = line.split()
            if command in ("RAR", "ASR"):
                threading.Thread(target=server_request, args=(app, node, command, args[0]), daemon=True).start()
            elif command == "STOP":
                node.stop(wait_timeout=5)
                break
    finally:
        say("STOPPED")
        os._exit(0)


if __name__ == "__main__":
    main()
