"""An independent SMSC/USSDC for tests: smpp34's own Server (Rust/tokio), run in its own process.

Usage: python smpp34_smsc.py PORT. Prints one line per event on stdout (``READY``, ``BOUND system_id``,
``SUBMIT hex(short_message)``, ``DELIVER_RESP status``, ``UNBOUND``) and accepts every submit_sm with message
id ``peer-N``. Once an ESME that can receive has bound, it pushes a USSD deliver_sm carrying ussd_service_op
0x01 and its_session_info 0x2a02. smpp34's threads can crash the interpreter at exit, hence ``os._exit``.
"""

from __future__ import annotations

import asyncio
import os
import sys

import smpp34

USSD_TLVS = [smpp34.Tlv(smpp34.TLV_USSD_SERVICE_OP, b"\x01"), smpp34.Tlv(smpp34.TLV_ITS_SESSION_INFO, b"\x2a\x02")]


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def push_ussd(esme: smpp34.Esme) -> None:
    response = await esme.deliver_sm(
        "123", b"*123*447700900456#", source_addr="447700900456", service_type="USSD", tlvs=USSD_TLVS
    )
    say(f"DELIVER_RESP {response.command_status}")


async def serve(port: int) -> None:
    server = smpp34.Server("127.0.0.1", port, system_id="peer-smsc")
    await server.start()
    say("READY")
    accepted = 0
    tasks = set()
    while True:
        event = await server.next()
        if isinstance(event, smpp34.SubmitSmEvent):
            accepted += 1
            say(f"SUBMIT {event.short_message.hex()}")
            event.accept(f"peer-{accepted}")
        elif isinstance(event, smpp34.Unbound):
            say("UNBOUND")
            return
        else:
            say(f"BOUND {event.system_id}")
            if event.can_receive:
                task = asyncio.ensure_future(push_ussd(event))
                tasks.add(task)


def main() -> None:
    port = int(sys.argv[1])
    try:
        asyncio.run(asyncio.wait_for(serve(port), timeout=60))
    finally:
        sys.stdout.flush()
        os._exit(0)


if __name__ == "__main__":
    main()
