"""The fake event socket refuses what FreeSWITCH refuses; the adapter's tests are only worth what it checks."""

from __future__ import annotations

import json

import pytest_twisted
from twisted.internet import protocol
from twisted.internet.defer import Deferred

from roamback.switch_adapters.esl._wire import EslMessage, EslParser, encode_command

from .fake_esl import EslHarness, esl_fixture, the_reactor  # noqa: F401


class _Raw(protocol.Protocol):
    """A bare ESL client: sends what it is told, collects every message until the socket closes."""

    def __init__(self) -> None:
        self.parser = EslParser()
        self.messages: list[EslMessage] = []
        self.closed: Deferred[None] = Deferred()
        self.arrived: list[tuple[int, Deferred[None]]] = []

    def dataReceived(self, data: bytes) -> None:
        self.messages += self.parser.receive_data(data)
        for count, waiter in list(self.arrived):
            if len(self.messages) >= count:
                self.arrived.remove((count, waiter))
                waiter.callback(None)

    def connectionLost(self, reason: object = None) -> None:
        self.closed.callback(None)

    async def say(self, esl: EslHarness, line: str, headers: dict[str, str] | None = None) -> EslMessage:
        waiter: Deferred[None] = Deferred()
        count = len(self.messages) + 1
        self.arrived.append((count, waiter))
        self.transport.write(encode_command(line, headers))
        await esl.within(waiter)
        return self.messages[count - 1]


async def connect(esl: EslHarness) -> _Raw:
    client = _Raw()
    waiter: Deferred[None] = Deferred()
    client.arrived.append((1, waiter))
    await protocol.ClientCreator(the_reactor(), lambda: client).connectTCP("127.0.0.1", esl.server.port)
    await esl.within(waiter)
    assert client.messages[0].headers == {"Content-Type": "auth/request"}
    return client


@pytest_twisted.ensureDeferred
async def test_nothing_but_auth_before_auth_and_a_wrong_password_is_shown_the_door(esl: EslHarness) -> None:
    client = await connect(esl)
    assert (await client.say(esl, "api status")).headers == {"Content-Type": "command/reply",
                                                             "Reply-Text": "-ERR command not found"}
    assert (await client.say(esl, "event json ALL")).reply_text == "-ERR command not found"
    assert (await client.say(esl, "auth wrong")).reply_text == "-ERR invalid"
    await esl.within(client.closed)
    assert client.messages[-1].content_type == "text/disconnect-notice"
    assert client.messages[-1].body.startswith(b"Disconnected, goodbye.")


@pytest_twisted.ensureDeferred
async def test_replies_are_framed_as_freeswitch_frames_them(esl: EslHarness) -> None:
    client = await connect(esl)
    assert (await client.say(esl, "auth s3cret-pass")).reply_text == "+OK accepted"
    assert (await client.say(esl, "event json")).reply_text == "-ERR no keywords supplied"
    assert (await client.say(esl, "event json BACKGROUND_JOB")).reply_text == "+OK event listener enabled json"
    assert (await client.say(esl, "launch missiles")).reply_text == "-ERR command not found"

    listing = await client.say(esl, "api show channels as json")
    assert listing.content_type == "api/response" and int(listing.headers["Content-Length"]) == len(listing.body)
    assert json.loads(listing.body) == {"row_count": 0}
    assert (await client.say(esl, "api frobnicate now")).body == b"-ERR frobnicate Command not found!\n"
    assert (await client.say(esl, "api uuid_kill nope")).body == b"-ERR No Such Channel!\n"
    assert (await client.say(esl, "api uuid_bridge nope other")).body == b"-ERR Invalid uuid\n"
    assert (await client.say(esl, "api uuid_bridge onlyone")).body.startswith(b"-USAGE:")
    assert (await client.say(esl, "api sched_hangup +5 nope")).body == b"-ERR No Such Channel!\n"
    assert (await client.say(esl, "api sched_del nope")).body == b"+OK Deleted: 0\n"
    assert (await client.say(esl, "api uuid_broadcast nope tone_stream://x both")).body == b"+OK Message Sent\n"
    assert (await client.say(esl, "sendmsg nope", {"call-command": "execute"})).reply_text == \
        "-ERR invalid session id [nope]"

    job_id = "0123456789abcdef0123456789abcdef-too-long"
    accepted = await client.say(esl, "bgapi uuid_kill nope", {"Job-UUID": job_id})
    assert accepted.headers["Reply-Text"] == f"+OK Job-UUID: {job_id[:36]}"
    assert accepted.headers["Job-UUID"] == job_id[:36]
    waiter: Deferred[None] = Deferred()
    client.arrived.append((len(client.messages) + 1, waiter))
    await esl.within(waiter)
    event = client.messages[-1]
    assert event.content_type == "text/event-json" and int(event.headers["Content-Length"]) == len(event.body)
    job = json.loads(event.body)
    assert (job["Event-Name"], job["Job-UUID"], job["_body"]) == ("BACKGROUND_JOB", job_id[:36],
                                                                 "-ERR No Such Channel!\n")
    assert (await client.say(esl, "exit")).reply_text == "+OK bye"
    await esl.within(client.closed)
