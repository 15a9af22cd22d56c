"""Dialogue state in Redis, so several gateway nodes (and a restarted one) serve the same dialogues.

Each dialogue is one string key (its JSON state) that expires a little after the dialogue's deadline, plus
one member of a sorted set scored by that deadline. ``take_expired`` claims due dialogues with a Lua script
(read, remove, return in one atomic step), so when several nodes sweep, each timed-out dialogue is reported
by exactly one of them. The client is txredisapi: Twisted-native, nothing blocks the reactor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import txredisapi

from .state import DialogueState

GRACE_SECONDS = 60.0  # a key outlives its deadline this long, so a sweep still finds it to notify
_SWEEP_BATCH = 200
_TAKE_EXPIRED = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local taken = {}
for _, id in ipairs(due) do
  redis.call('ZREM', KEYS[1], id)
  local key = ARGV[3] .. id
  local state = redis.call('GET', key)
  if state then
    redis.call('DEL', key)
    table.insert(taken, state)
  end
end
return taken
"""


def connect(host: str = "127.0.0.1", port: int = 6379, *, db: int = 0, password: str | None = None,
            timeout: float = 2.0) -> Any:
    """A lazy connection pool: commands queue until connected, and it reconnects by itself."""
    return txredisapi.lazyConnectionPool(host, port, dbid=db, password=password, poolsize=4, reconnect=True,
                                         connectTimeout=timeout, replyTimeout=timeout, convertNumbers=False)


class RedisStore:
    def __init__(self, redis: Any, *, clock: Callable[[], float], prefix: str = "roamback:ussd:") -> None:
        self._redis = redis
        self._clock = clock
        self._prefix = prefix
        self._deadlines = f"{prefix}deadlines"

    def _key(self, session_id: str) -> str:
        return f"{self._prefix}d:{session_id}"

    async def get(self, session_id: str) -> DialogueState | None:
        raw = await self._redis.get(self._key(session_id))
        return None if raw is None else DialogueState.from_json(raw)

    async def put(self, state: DialogueState) -> None:
        ttl = max(1, int(state.deadline - self._clock() + GRACE_SECONDS))
        await self._redis.set(self._key(state.session_id), state.to_json(), expire=ttl)
        await self._redis.zadd(self._deadlines, state.deadline, state.session_id)

    async def delete(self, session_id: str) -> None:
        await self._redis.delete(self._key(session_id))
        await self._redis.zrem(self._deadlines, session_id)

    async def take_expired(self, now: float) -> list[DialogueState]:
        taken = await self._redis.eval(_TAKE_EXPIRED, keys=[self._deadlines],
                                       args=[repr(now), _SWEEP_BATCH, f"{self._prefix}d:"])
        return [DialogueState.from_json(raw) for raw in taken or []]
