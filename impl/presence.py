"""Who is connected: the sockets of each user, in this process or, with Redis, in all.

Offline notifications ask `online()`; room changes and bans ask `sids()` and then act
through python-socketio's manager, which reaches sockets of other processes by sid.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import Any, Protocol

log = logging.getLogger("impl.presence")


class Presence(Protocol):
    async def add(self, user_id: str, sid: str) -> None: ...
    async def remove(self, user_id: str, sid: str) -> None: ...
    async def sids(self, user_id: str) -> list[str]: ...
    async def online(self, user_ids: Iterable[str]) -> set[str]: ...


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


class RedisPresence:
    """A Redis set per user. Falls back to this process's view when Redis fails."""

    def __init__(self, redis: Any, prefix: str = "chat:presence:") -> None:
        self.redis = redis
        self.prefix = prefix
        self.local = LocalPresence()

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
        found: set[str] = set()
        for user_id in wanted:
            count = await self._try(self.redis.scard(self.prefix + user_id))
            if count is None:
                return await self.local.online(wanted)
            if count:
                found.add(user_id)
        return found

    async def _try(self, pending: Any) -> Any:
        try:
            return await pending
        except Exception as exc:  # Redis down: keep serving with what this process knows
            log.warning("presence store unavailable: %s", exc)
            return None
