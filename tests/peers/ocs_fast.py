"""A minimal fast OCS for benchmarks: plain asyncio and roamback's own codec, in its own process.

Not an independent peer (it shares our codec), so it proves nothing about interoperability: its only job
is to answer quickly enough that a benchmark measures the client. It answers CER, DWR and DPR, and every
CCR with 2001 and, per Multiple-Services-Credit-Control, a Granted-Service-Unit equal to the request.

Usage: python ocs_fast.py PORT   (prints READY once listening)
"""

from __future__ import annotations

import asyncio
import sys

from roamback.diameter.codec import Framer, Message, decode_message, encode, encode_answer, encode_avp, find
from roamback.diameter.dictionary import Command, avp

ORIGIN = (encode(avp("Origin-Host"), "fast.ocs.test"), encode(avp("Origin-Realm"), "ocs.test"))
SUCCESS = encode(avp("Result-Code"), 2001)
MSCC = avp("Multiple-Services-Credit-Control")


def granted(request: Message) -> list[bytes]:
    out = []
    for group in request.find_all(456):
        children = group.children()
        asked = find(children, 437)
        keep = [encode_avp(c.code, c.flags, c.vendor, c.data) for c in children if c.code in (432, 439)]
        if asked is not None:
            keep.append(encode_avp(431, 0x40, 0, asked.data))
        out.append(encode(MSCC, [*keep, SUCCESS]))
    return out


def answer(request: Message) -> bytes:
    if request.command == Command.CREDIT_CONTROL:
        echoed = [encode_avp(a.code, a.flags, a.vendor, a.data) for a in request.avps if a.code in (263, 258, 416, 415)]
        return encode_answer(request, [echoed[0], SUCCESS, *ORIGIN, *echoed[1:], *granted(request)])
    extra = [encode(avp("Auth-Application-Id"), 4)] if request.command == Command.CAPABILITIES_EXCHANGE else []
    return encode_answer(request, [SUCCESS, *ORIGIN, *extra])


class Ocs(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.framer = Framer()

    def data_received(self, data: bytes) -> None:
        out = [answer(decode_message(frame)) for frame in self.framer.feed(data)]
        self.transport.writelines(out)  # type: ignore[attr-defined]


async def main(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(Ocs, "127.0.0.1", port)
    print("READY", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
