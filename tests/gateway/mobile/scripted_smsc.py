"""A scriptable SMSC/USSDC for tests: smpp34's own Server (Rust/tokio) in its own process.

Usage: python scripted_smsc.py PORT. Reads one JSON command per line on stdin:
``{"tag": "m1", "deliver": {smpp34.Esme.deliver_sm keyword arguments, short_message and TLV values in
hex, tlvs as [[tag, hex], ...]}}``. Prints ``READY``, ``BOUND system_id``, ``SUBMIT {json}`` for each
submit_sm (accepted as ``peer-N``) and ``DELIVER_RESP {"tag": ..., "status": ...}``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading

import smpp34


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def submit_json(event: smpp34.SubmitSmEvent) -> str:
    return json.dumps({
        "source_addr": event.source_addr, "destination_addr": event.destination_addr,
        "service_type": event.service_type, "esm_class": event.esm_class, "data_coding": event.data_coding,
        "registered_delivery": event.registered_delivery, "dest_addr_ton": event.dest_addr_ton,
        "short_message": event.short_message.hex(), "tlvs": {str(t.tag): t.value.hex() for t in event.tlvs},
    })


async def deliver(esme: smpp34.Esme, command: dict) -> None:
    fields = dict(command["deliver"])
    destination = fields.pop("destination_addr")
    message = bytes.fromhex(fields.pop("short_message", ""))
    fields["tlvs"] = [smpp34.Tlv(tag, bytes.fromhex(value)) for tag, value in fields.get("tlvs", [])]
    response = await esme.deliver_sm(destination, message, **fields)
    say(f"DELIVER_RESP {json.dumps({'tag': command.get('tag'), 'status': response.command_status})}")


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    commands: asyncio.Queue[dict] = asyncio.Queue()

    def read_stdin() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(commands.put_nowait, json.loads(line))

    threading.Thread(target=read_stdin, daemon=True).start()
    server = smpp34.Server("127.0.0.1", port, system_id="scripted")
    await server.start()
    say("READY")
    bound: asyncio.Future[smpp34.Esme] = loop.create_future()
    tasks: set[asyncio.Task] = set()

    async def pump() -> None:
        esme = await bound
        while True:
            command = await commands.get()
            task = asyncio.ensure_future(deliver(esme, command))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    tasks.add(asyncio.ensure_future(pump()))
    accepted = 0
    while True:
        event = await server.next()
        if isinstance(event, smpp34.SubmitSmEvent):
            accepted += 1
            say(f"SUBMIT {submit_json(event)}")
            event.accept(f"peer-{accepted}")
        elif isinstance(event, smpp34.Unbound):
            say("UNBOUND")
            return
        else:
            say(f"BOUND {event.system_id}")
            if event.can_receive and not bound.done():
                bound.set_result(event)


def main() -> None:
    try:
        asyncio.run(asyncio.wait_for(serve(int(sys.argv[1])), timeout=120))
    finally:
        sys.stdout.flush()
        os._exit(0)


if __name__ == "__main__":
    main()
