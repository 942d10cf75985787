"""Who is connected: the sockets of each user, in this process or, with Redis, in all.

Offline notifications ask `online()`; room changes and bans ask `sids()` and then act
through python-socketio's manager, which reaches sockets of other processes by sid.

With Redis, each user is a hash `<prefix>:presence:user:<userId>` of sid -> the id of the
process holding that socket, and each process keeps a key `<prefix>:presence:proc:<id>`
alive with a heartbeat (every third of `PRESENCE_TTL_SECONDS`, with that expiry). A sid
counts only while its process's key exists, so the users of a process that dies without
cleaning up (kill -9, a lost host) go offline within the expiry. This process's own
sockets are always known locally, and every Redis call goes through the shared circuit
breaker: while Redis is out, answers come from this process's view. A write Redis missed
(a disconnect during a stall, a connect during an outage) marks the user for repair; the
heartbeat re-applies this process's view for those users once Redis answers again, and
for all of them when it finds its process key gone (Redis restarted, or it expired).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from impl.realtime.redis_guard import CircuitBreaker, RedisUnavailable, redis_options
from impl.settings import Settings

log = logging.getLogger("impl.realtime.presence")


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

    def users(self) -> list[str]:
        return list(self._sids)

    def sids_of(self, user_id: str) -> set[str]:
        return set(self._sids.get(user_id, ()))

    async def close(self) -> None:
        self._sids.clear()


class RedisPresence:
    """Presence shared through Redis, with this process's view as the fallback."""

    def __init__(
        self,
        redis: Any,
        breaker: CircuitBreaker,
        prefix: str,
        ttl_seconds: float,
    ) -> None:
        self.redis = redis
        self.breaker = breaker
        self.prefix = f"{prefix}:presence:"
        self.ttl_ms = max(1, int(ttl_seconds * 1000))
        self.process_id = uuid.uuid4().hex
        self.local = LocalPresence()
        self.dirty: set[str] = set()  # users whose Redis entries may not match self.local
        self.heartbeat: asyncio.Task[None] | None = None
        self.wake: asyncio.Event | None = None
        breaker.on_recovery.append(self.repair_soon)

    def user_key(self, user_id: str) -> str:
        return f"{self.prefix}user:{user_id}"

    def process_key(self, process_id: str) -> str:
        return f"{self.prefix}proc:{process_id}"

    @property
    def interval_seconds(self) -> float:
        return self.ttl_ms / 3000

    async def add(self, user_id: str, sid: str) -> None:
        await self.local.add(user_id, sid)
        self.start_heartbeat()

        async def write() -> list[Any]:
            pipe = self.redis.pipeline(transaction=False)
            pipe.hset(self.user_key(user_id), sid, self.process_id)
            pipe.set(self.process_key(self.process_id), 1, px=self.ttl_ms, get=True)
            results: list[Any] = await pipe.execute()
            return results

        try:
            _, previous = await self.breaker.call(write)
        except RedisUnavailable:
            self.dirty.add(user_id)
            return
        if previous is None:
            self.lost_process_key()

    async def remove(self, user_id: str, sid: str) -> None:
        await self.local.remove(user_id, sid)
        try:
            await self.breaker.call(lambda: self.redis.hdel(self.user_key(user_id), sid))
        except RedisUnavailable:
            self.dirty.add(user_id)

    async def sids(self, user_id: str) -> list[str]:
        here = self.local.sids_of(user_id)
        try:
            [entries] = await self.breaker.call(lambda: self.live_entries([user_id]))
        except RedisUnavailable:
            return sorted(here)
        return sorted(here.union(entries))

    async def online(self, user_ids: Iterable[str]) -> set[str]:
        wanted = list(dict.fromkeys(user_ids))
        online = await self.local.online(wanted)
        elsewhere = [user_id for user_id in wanted if user_id not in online]
        if not elsewhere:
            return online
        try:
            entries = await self.breaker.call(lambda: self.live_entries(elsewhere))
        except RedisUnavailable:
            return online
        return online | {user_id for user_id, sids in zip(elsewhere, entries, strict=True) if sids}

    async def live_entries(self, user_ids: list[str]) -> list[set[str]]:
        """Per user, the sids held by other processes that are still alive. Entries of
        dead processes are deleted on the way."""
        pipe = self.redis.pipeline(transaction=False)
        for user_id in user_ids:
            pipe.hgetall(self.user_key(user_id))
        hashes = [
            {text(sid): text(owner) for sid, owner in entries.items()}
            for entries in await pipe.execute()
        ]
        owners = sorted({owner for entries in hashes for owner in entries.values()})
        owners = [owner for owner in owners if owner != self.process_id]
        pipe = self.redis.pipeline(transaction=False)
        for owner in owners:
            pipe.exists(self.process_key(owner))
        alive = {owner for owner, found in zip(owners, await pipe.execute(), strict=True) if found}
        found: list[set[str]] = []
        pipe = self.redis.pipeline(transaction=False)
        for user_id, entries in zip(user_ids, hashes, strict=True):
            found.append({sid for sid, owner in entries.items() if owner in alive})
            dead = [s for s, owner in entries.items() if owner not in alive | {self.process_id}]
            if dead:
                pipe.hdel(self.user_key(user_id), *dead)
        if len(pipe):
            await pipe.execute()
        return found

    def start_heartbeat(self) -> None:
        running = asyncio.get_running_loop()
        task = self.heartbeat
        if task is None or task.done() or task.get_loop() is not running:
            self.wake = asyncio.Event()
            self.heartbeat = running.create_task(self.beat_forever())

    def repair_soon(self) -> None:
        if self.wake is not None:
            self.wake.set()

    def lost_process_key(self) -> None:
        """This process's key was missing: every local user's entries need re-applying."""
        self.dirty.update(self.local.users())
        self.repair_soon()

    async def beat_forever(self) -> None:
        while True:
            try:
                await self.beat()
            except Exception:
                log.exception("presence heartbeat failed")
            if self.wake is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), self.interval_seconds)
                self.wake.clear()

    async def beat(self) -> None:
        """Renew this process's key, then repair the users whose entries Redis missed."""
        key = self.process_key(self.process_id)
        try:
            previous = await self.breaker.call(
                lambda: self.redis.set(key, 1, px=self.ttl_ms, get=True)
            )
        except RedisUnavailable:
            return
        if previous is None:
            self.dirty.update(self.local.users())
        if self.dirty:
            await self.repair()

    async def repair(self) -> None:
        """Make Redis hold exactly this process's local sids for each dirty user."""
        users = sorted(self.dirty)
        self.dirty.difference_update(users)
        written: dict[str, set[str]] = {}

        async def apply() -> None:
            pipe = self.redis.pipeline(transaction=False)
            for user_id in users:
                pipe.hgetall(self.user_key(user_id))
            stored = await pipe.execute()
            pipe = self.redis.pipeline(transaction=False)
            for user_id, entries in zip(users, stored, strict=True):
                mine = {
                    text(sid) for sid, owner in entries.items() if text(owner) == self.process_id
                }
                wanted = written[user_id] = self.local.sids_of(user_id)
                if mine - wanted:
                    pipe.hdel(self.user_key(user_id), *sorted(mine - wanted))
                if wanted - mine:
                    pipe.hset(
                        self.user_key(user_id),
                        mapping=dict.fromkeys(sorted(wanted - mine), self.process_id),
                    )
            if len(pipe):
                await pipe.execute()

        try:
            await self.breaker.call(apply)
        except RedisUnavailable:
            self.dirty.update(users)
            return
        # A connect or disconnect while the repair ran: repair that user again next time.
        self.dirty.update(u for u, sids in written.items() if sids != self.local.sids_of(u))
        log.info("presence repaired in Redis for %d user(s)", len(users))

    async def close(self) -> None:
        """Stop the heartbeat, withdraw this process's sockets, close the client."""
        if self.heartbeat is not None:
            self.heartbeat.cancel()
            await asyncio.gather(self.heartbeat, return_exceptions=True)
            self.heartbeat = None

        async def withdraw() -> None:
            pipe = self.redis.pipeline(transaction=False)
            pipe.delete(self.process_key(self.process_id))
            for user_id in self.local.users():
                pipe.hdel(self.user_key(user_id), *self.local.sids_of(user_id))
            await pipe.execute()

        with contextlib.suppress(RedisUnavailable):  # if so, the key expires on its own
            await self.breaker.call(withdraw)
        await self.breaker.aclose()
        await self.local.close()
        await self.redis.aclose()


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def presence_for(settings: Settings) -> LocalPresence | RedisPresence:
    """Presence, shared through Redis when there is one; its breaker guards the Socket.IO
    manager's publishes too (one Redis, one judgement of whether it answers)."""
    if not settings.redis_url:
        return LocalPresence()
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(
        settings.redis_url, **redis_options(settings.redis_timeout_seconds)
    )
    breaker = CircuitBreaker(
        client.ping,
        settings.redis_timeout_seconds,
        settings.redis_backoff_seconds,
        settings.redis_max_backoff_seconds,
    )
    return RedisPresence(client, breaker, settings.redis_prefix, settings.presence_ttl_seconds)
