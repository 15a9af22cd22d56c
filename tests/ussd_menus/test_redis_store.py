"""Dialogues in the real Redis at 127.0.0.1:6379: shared between engines, surviving a gateway restart.

Under CI=true a Redis that cannot be reached fails these tests instead of skipping them.
"""

from __future__ import annotations

import os
import socket
import uuid

import pytest
import pytest_twisted

from roamback.ussd_menus import MenuSession
from roamback.ussd_menus.redis_store import RedisStore, connect

from .fakes import ALICE, FakeActions, FakeClock, make_engine

HOST, PORT = os.environ.get("ROAMBACK_TEST_REDIS_HOST", "127.0.0.1"), int(os.environ.get("ROAMBACK_TEST_REDIS_PORT",
                                                                                          "6379"))


@pytest.fixture
def redis_prefix() -> str:
    try:
        socket.create_connection((HOST, PORT), timeout=1).close()
    except OSError as exc:
        message = f"Redis at {HOST}:{PORT} unreachable: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return f"roamback-test:{uuid.uuid4().hex[:8]}:"


async def disconnect(*connections) -> None:
    for redis in connections:
        await redis.disconnect()


@pytest_twisted.ensureDeferred
async def test_dialogue_survives_a_gateway_restart(redis_prefix: str) -> None:
    clock, actions = FakeClock(), FakeActions()
    actions.add()
    first_node = connect(HOST, PORT)
    engine, _, _ = make_engine(actions, store=RedisStore(first_node, clock=clock, prefix=redis_prefix), clock=clock)
    session = MenuSession("at:restart", ALICE)
    await engine.begin(session, "*123#")
    assert (await engine.answer(session, "2")).text.startswith("Phone book")
    assert (await engine.answer(session, "2")).text.startswith("Name of the entry")
    await first_node.disconnect()  # the gateway goes away with the dialogue open

    second_node = connect(HOST, PORT)
    restarted, _, _ = make_engine(actions, store=RedisStore(second_node, clock=clock, prefix=redis_prefix),
                                  clock=clock)
    try:
        assert (await restarted.answer(session, "Mum")).text.startswith("Number, with country code")
        assert (await restarted.answer(session, "0")).text.startswith("Name of the entry")  # back stack kept
        await restarted.answer(session, "Mum")
        assert (await restarted.answer(session, "+4915112345678")).text == "Saved as entry 1."
        assert await restarted.store.get(session.id) is None  # closed: gone from Redis too
    finally:
        await disconnect(second_node)


@pytest_twisted.ensureDeferred
async def test_two_nodes_share_dialogues_and_one_reports_each_timeout(redis_prefix: str) -> None:
    clock, actions = FakeClock(), FakeActions()
    actions.add(language="ru")
    a_conn, b_conn = connect(HOST, PORT), connect(HOST, PORT)
    node_a, _, _ = make_engine(actions, store=RedisStore(a_conn, clock=clock, prefix=redis_prefix), clock=clock,
                               screen_timeout=30, notify_on_timeout=True)
    node_b, _, _ = make_engine(actions, store=RedisStore(b_conn, clock=clock, prefix=redis_prefix), clock=clock,
                               screen_timeout=30, notify_on_timeout=True)
    try:
        session = MenuSession("smpp:+33612345678:7", ALICE)
        await node_a.begin(session, "*123#")
        assert (await node_b.answer(session, "4")).text == "Ваш баланс: 12,50 EUR."  # served by the other node
        for n in range(3):
            await node_a.begin(MenuSession(f"idle-{n}", ALICE), "*123#")
        clock.advance(31)
        counts = [await node_a.expire(), await node_b.expire()]
        assert sorted(counts) == [0, 3]
        assert len(actions.notices) == 3 and all(n[1] == "ru" for n in actions.notices)
        state_json = await a_conn.get(f"{redis_prefix}d:idle-0")
        assert state_json is None
    finally:
        await disconnect(a_conn, b_conn)
