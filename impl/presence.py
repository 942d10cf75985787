"""Who is connected: the sockets of each user, in this process or, with Redis, in all.

Offline notifications ask `online()`; room changes and bans ask `sids()` and then act
through python-socketio's manager, which reaches sockets of other processes by sid.
With Redis, each user is a Redis set of sids; when Redis cannot be reached (or answers too
slowly) every call falls back to what this process knows, and the outage and the recovery
are logged once each instead of on every call.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Iterable
from typing import Any, Protocol

log = logging.getLogger("impl.presence")

REDIS_TIMEOUT_SECONDS = 1.0


class Presence(Protocol):
    async def add(self, user_id: str, sid: str) -> None: ...
    async def remove(self, user_id: str, sid: str) -> None: ...
    async def sids(self, user_id: str) -> list[str]: ...
    async def online(self, user_ids: Iterable[str]) -> set[str]: ...
    async def close(self) -> None: ...


class LocalPresence:
    def __init__(self) -> None:
        self._sids: defaultdict[str, set[str]] = defaultdict(set)

    async def add(self, user_id: str, sid: str) -> None:
        self._sids[user_id].add(sid)

    async def remove(self, user_id: str, sid: str) -> None:
        sids = self._sids.get(user_id)
        if sids is not None:
            sids.discard(sid)
            if not sids:
                del self._sids[user_id]

    async def sids(self, user_id: str) -> list[str]:
        return sorted(self._sids.get(user_id, ()))

    async def online(self, user_ids: Iterable[str]) -> set[str]:
        return {u for u in user_ids if self._sids.get(u)}

    async def close(self) -> None:
        self._sids.clear()


class RedisPresence:
    """A Redis set per user. Falls back to this process's view when Redis fails."""

    def __init__(
        self,
        redis: Any,
        prefix: str = "chat:presence:",
        timeout_seconds: float = REDIS_TIMEOUT_SECONDS,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.timeout_seconds = timeout_seconds
        self.local = LocalPresence()
        self.reachable = True

    async def add(self, user_id: str, sid: str) -> None:
        await self.local.add(user_id, sid)
        await self._try(self.redis.sadd(self.prefix + user_id, sid))

    async def remove(self, user_id: str, sid: str) -> None:
        await self.local.remove(user_id, sid)
        await self._try(self.redis.srem(self.prefix + user_id, sid))

    async def sids(self, user_id: str) -> list[str]:
        members = await self._try(self.redis.smembers(self.prefix + user_id))
        if members is None:
            return await self.local.sids(user_id)
        return sorted(m.decode() if isinstance(m, bytes) else m for m in members)

    async def online(self, user_ids: Iterable[str]) -> set[str]:
        wanted = list(user_ids)
        if not wanted:
            return set()
        pipe = self.redis.pipeline(transaction=False)
        for user_id in wanted:
            pipe.scard(self.prefix + user_id)
        counts = await self._try(pipe.execute())
        if counts is None:
            return await self.local.online(wanted)
        return {user_id for user_id, count in zip(wanted, counts, strict=True) if count}

    async def close(self) -> None:
        await self.redis.aclose()

    async def _try(self, pending: Awaitable[Any]) -> Any:
        try:
            result = await asyncio.wait_for(pending, self.timeout_seconds)
        except Exception as exc:  # Redis down: keep serving with what this process knows
            if self.reachable:
                log.warning("presence store unavailable, using this process's view: %r", exc)
            self.reachable = False
            return None
        if not self.reachable:
            log.info("presence store reachable again")
            self.reachable = True
        return result
