"""Redis behind a circuit breaker, shared by presence and python-socketio's Redis manager.

A Redis that stops answering (frozen, not down) makes every call wait for its timeout. So
the first timeout opens the breaker: from then on no call goes to Redis at all and callers
serve from this process's own state at once. When the back-off (`REDIS_BACKOFF_SECONDS`,
doubling up to `REDIS_MAX_BACKOFF_SECONDS`) has passed, the next call starts one probe (a
PING) in the background, so no request ever waits for it; the probe's answer closes the
breaker. The outage and the
recovery are logged once each.

`GuardedRedisManager` is `socketio.AsyncRedisManager` with its publish through the
breaker: an emit is always delivered to this process's sockets first (python-socketio does
that before publishing), so while Redis is out only other processes miss it, and their
clients catch up through `GET /api/chat/{id}/events`. Publishes leave through one queue
and one sender task, in order, so no request waits on Redis even for the timeout that
opens the breaker; the queue is bounded, and what overflows it is dropped like what the
breaker drops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TypeVar

import socketio

log = logging.getLogger("impl.redis")

T = TypeVar("T")

PUBLISH_QUEUE_SIZE = 10_000


class RedisUnavailable(Exception):
    """Redis was not asked (breaker open) or did not answer in time."""


class CircuitBreaker:
    def __init__(
        self,
        probe: Callable[[], Awaitable[Any]],
        timeout_seconds: float,
        backoff_seconds: float,
        max_backoff_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.probe = probe
        self.timeout_seconds = timeout_seconds
        self.initial_backoff = backoff_seconds
        self.max_backoff = max(max_backoff_seconds, backoff_seconds)
        self.backoff = backoff_seconds
        self.clock = clock
        self.open_until: float | None = None  # None: closed
        self.probing: asyncio.Task[None] | None = None
        self.on_recovery: list[Callable[[], None]] = []

    @property
    def closed(self) -> bool:
        return self.open_until is None

    async def call(self, command: Callable[[], Awaitable[T]]) -> T:
        """Run `command()` against Redis within the timeout, or raise `RedisUnavailable`
        at once while the breaker is open (the command is then not even created)."""
        if self.open_until is not None:
            if self.probing is None and self.clock() >= self.open_until:
                self.probing = asyncio.get_running_loop().create_task(self.run_probe())
            raise RedisUnavailable("Redis is left alone during its back-off")
        try:
            result = await asyncio.wait_for(command(), self.timeout_seconds)
        except Exception as exc:
            self.failed(exc)
            raise RedisUnavailable(repr(exc)) from exc
        self.answered()
        return result

    async def run_probe(self) -> None:
        try:
            await asyncio.wait_for(self.probe(), self.timeout_seconds)
        except Exception as exc:
            self.backoff = min(self.backoff * 2, self.max_backoff)
            self.open_until = self.clock() + self.backoff
            log.debug("Redis still unavailable (%r); next try in %.1f s", exc, self.backoff)
        else:
            self.answered()
        finally:
            self.probing = None

    def failed(self, exc: Exception) -> None:
        # A call that was already waiting when the breaker opened changes nothing.
        if self.open_until is None:
            log.warning(
                "Redis unavailable (%r): serving from this process, retrying in %.1f s",
                exc,
                self.backoff,
            )
            self.open_until = self.clock() + self.backoff

    def answered(self) -> None:
        if self.open_until is None:
            return
        log.info("Redis reachable again")
        self.open_until = None
        self.backoff = self.initial_backoff
        for listener in self.on_recovery:
            listener()

    async def aclose(self) -> None:
        """Stop a probe still running."""
        if self.probing is not None:
            self.probing.cancel()
            await asyncio.gather(self.probing, return_exceptions=True)


class GuardedRedisManager(socketio.AsyncRedisManager):
    """python-socketio's Redis manager whose publishes go through the breaker, on a Redis
    client of their own (the listener's reconnects never replace it)."""

    def __init__(
        self,
        url: str,
        channel: str,
        breaker: CircuitBreaker,
        redis_options: dict[str, Any],
    ) -> None:
        super().__init__(url, channel=channel, redis_options=dict(redis_options))
        self.breaker = breaker
        self.publisher: Any = None
        self.outbox: asyncio.Queue[str] = asyncio.Queue(PUBLISH_QUEUE_SIZE)
        self.sender: asyncio.Task[None] | None = None
        self.dropped = 0

    async def _publish(self, data: Any) -> None:
        """Queue the message for the sender task; never wait on Redis here."""
        if self.sender is None or self.sender.done():
            self.sender = asyncio.create_task(self._send_queued())
        try:
            self.outbox.put_nowait(self.json.dumps(data))
        except asyncio.QueueFull:
            if self.dropped == 0:
                log.warning("Redis publish queue full: dropping fan-out to other processes")
            self.dropped += 1

    async def _send_queued(self) -> None:
        while True:
            message = await self.outbox.get()
            if self.publisher is None:
                self.publisher = self._get_redis_module().Redis.from_url(
                    self.redis_url, **self.redis_options
                )
            # Delivered here already; on failure the breaker has logged the outage.
            with contextlib.suppress(RedisUnavailable):
                await self.breaker.call(partial(self.publisher.publish, self.channel, message))
            self.outbox.task_done()

    async def flush(self, timeout_seconds: float = 1.0) -> None:
        """Wait (a bounded time) until every queued publish has been sent or dropped."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.outbox.join(), timeout_seconds)

    async def aclose(self) -> None:
        """Send what is queued (briefly), stop listening, close every Redis client."""
        if self.sender is not None:
            await self.flush()
            self.sender.cancel()
            await asyncio.gather(self.sender, return_exceptions=True)
        listener = getattr(self, "thread", None)
        if isinstance(listener, asyncio.Task):
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
        clients: list[Any] = [getattr(self, "pubsub", None), getattr(self, "redis", None)]
        clients.append(self.publisher)
        for client in clients:
            if client is not None:
                await client.aclose()
        self.pubsub = self.redis = self.publisher = None


def redis_options(timeout_seconds: float) -> dict[str, Any]:
    """A Redis that stops answering must not stall requests: fail fast, serve locally, log,
    and leave it alone for a back-off (the breaker) instead of waiting on every call."""
    return {"socket_connect_timeout": timeout_seconds, "socket_timeout": timeout_seconds}
