"""The ARI harness as a fixture: an adapter connected to a fresh strict fake, checked clean afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_twisted

from .ari_harness import AriHarness


@pytest_twisted.async_yield_fixture
async def ari() -> AsyncIterator[AriHarness]:
    harness = AriHarness()
    await harness.start()
    yield harness
    await harness.stop()
    assert not harness.fake.channels, "a channel was left on the switch"
    assert not harness.fake.bridges, "a bridge was left on the switch"
