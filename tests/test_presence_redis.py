"""Presence and fan-out against a Redis that stalls, a server process that dies, and a
Redis server shared by two deployments.

Each test starts its own throwaway `redis-server` on a free port, so it can freeze it
(SIGSTOP) and thaw it (SIGCONT) without touching anyone else's Redis. Without
`redis-server` on PATH the tests skip, unless REQUIRE_REDIS is set (then they fail).

    kill -9        a real `python -m impl serve` process with connected users dies; another
                   process treats them as offline once the presence expiry has passed
    stall repair   a disconnect (and a connect) while Redis is frozen is put right in
                   Redis once it thaws, from the process's own view
    lost entries   a Redis that comes back empty gets each process's sockets again
    back-off       with Redis frozen, sends stay fast: the breaker stops calling it
    deployments    two deployments on one Redis server (database numbers 1 and 2) never
                   see each other's events
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import redis
import redis.asyncio as aioredis
from test_scaleout import release_redis, wait_for_subscribers

from conftest import User
from impl.app import ChatApp, create_app
from impl.domain.dev import seed_demo
from impl.launcher import Launched
from impl.realtime.presence import RedisPresence
from impl.settings import Settings
from polling import until, until_sync
from sockets.support import Socket, Sockets, free_port, notifications_of, serving

# one worker runs every Redis module in turn: this one flushes Redis
pytestmark = [pytest.mark.redis, pytest.mark.xdist_group("redis")]

PRESENCE_TTL_SECONDS = 3  # heartbeats every second; a busy machine may delay one
BACKOFF_SECONDS = 0.2
WAIT_SECONDS = 20.0
STARTUP_SECONDS = 90.0  # a whole server process, on a busy machine


@dataclass
class RedisProcess:
    """A throwaway redis-server: `url(db)` to reach it, `freeze()` / `thaw()`."""

    process: subprocess.Popen[bytes]
    port: int

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def freeze(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.process.send_signal(signal.SIGCONT)


@pytest.fixture
def redis_server() -> Iterator[RedisProcess]:
    binary = shutil.which("redis-server")
    if binary is None:
        reason = "redis-server is not on PATH (apt-get install redis-server)"
        if os.environ.get("REQUIRE_REDIS"):
            pytest.fail(f"REQUIRE_REDIS is set, but {reason}")
        pytest.skip(reason)
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    started = RedisProcess(process, port)
    try:
        until_sync(lambda: answers(started.url()), WAIT_SECONDS, "redis-server never answered")
        yield started
    finally:
        process.send_signal(signal.SIGCONT)
        process.terminate()
        process.wait(10)


def answers(url: str) -> bool:
    try:
        with redis.Redis.from_url(url, socket_connect_timeout=0.2, socket_timeout=0.2) as r:
            return bool(r.ping())
    except redis.RedisError:
        return False


def redis_settings(url: str, **changes: Any) -> Settings:
    return Settings(
        redis_url=url,
        presence_ttl_seconds=PRESENCE_TTL_SECONDS,
        redis_backoff_seconds=BACKOFF_SECONDS,
        **changes,
    )


async def notification_count(user: User) -> int:
    r = await user.get("/api/notifications", params={"limit": 1})
    assert r.status_code == 200, r.text
    total: int = r.json()["data"]["pagination"]["total"]
    return total


def percentiles(timings: list[float]) -> str:
    p50 = statistics.median(timings) * 1000
    p99 = statistics.quantiles(timings, n=100)[98] * 1000
    return f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"


def presence_of(app: ChatApp) -> RedisPresence:
    presence = app.services.presence
    assert isinstance(presence, RedisPresence)
    return presence


@dataclass
class Served:
    app: ChatApp
    url: str
    sockets: Sockets
    cast: dict[str, User]  # the demo users, by first name, acting through this server


async def serve(stack: AsyncExitStack, app: ChatApp) -> Served:
    """Serve `app` in this event loop, with the demo cast (fixed ids, as every embedded
    server seeds them) as REST users of it."""
    stack.push_async_callback(release_redis, app)
    url = await stack.enter_async_context(serving(app))
    client = await stack.enter_async_context(httpx.AsyncClient(base_url=url))
    sockets = Sockets(url)
    stack.push_async_callback(sockets.close_all)
    cast = {
        user["name"].split()[0]: User(client, str(user["_id"]), token, user["role"])
        for user, token in seed_demo(app.services)
    }
    return Served(app, url, sockets, cast)


def start_server_process(redis_url: str) -> Launched:
    """`python -m impl serve` (embedded store, demo users seeded) on this test's Redis."""
    settings = {
        "REDIS_URL": redis_url,
        "PRESENCE_TTL_SECONDS": str(PRESENCE_TTL_SECONDS),
        "LOG_LEVEL": "warning",
    }
    return Launched(settings=settings, demo=True).start(STARTUP_SECONDS)


async def test_users_of_a_killed_process_go_offline_after_the_expiry(
    redis_server: RedisProcess,
) -> None:
    url = redis_server.url()
    killed = start_server_process(url)
    try:
        async with AsyncExitStack() as stack:
            here = await serve(stack, create_app(redis_settings(url)))
            bea, sol, sam = here.cast["Bea"], here.cast["Sol"], here.cast["Sam"]
            chat_id = await bea.group_chat(sol, sam)
            elsewhere = Sockets(killed.url)
            stack.push_async_callback(elsewhere.close_all)
            for user in (sol, sam):
                await elsewhere.open(user)
            await bea.sent(chat_id, "both are connected to the other process")
            assert await notifications_of(sol) == []
            assert await notifications_of(sam) == []

            killed.signal(signal.SIGKILL)
            killed.wait()
            presence = presence_of(here.app)

            async def gone() -> bool:
                return await presence.online([sol.id, sam.id]) == set()

            await until(gone, WAIT_SECONDS, "the killed process's users never went offline")
            sent = await bea.sent(chat_id, "nobody is connected any more")
            for user in (sol, sam):
                [notification] = await notifications_of(user)
                assert notification["messageId"] == sent["_id"]
            elsewhere.opened.clear()  # their server is gone; nothing to close
    finally:
        killed.stop()


async def test_presence_changes_made_while_redis_is_frozen_are_repaired_after_it_thaws(
    redis_server: RedisProcess,
) -> None:
    url = redis_server.url()
    async with AsyncExitStack() as stack:
        a = await serve(stack, create_app(redis_settings(url)))
        b = await serve(stack, create_app(redis_settings(url)))
        bea, sol, sam = b.cast["Bea"], b.cast["Sol"], b.cast["Sam"]
        chat_id = await bea.group_chat(sol, sam)
        leaving = await a.sockets.open(sol)
        before = await bea.sent(chat_id, "Sol is connected to A, Sam is not")
        assert await notifications_of(sol) == []
        on_a, on_b = presence_of(a.app), presence_of(b.app)

        redis_server.freeze()
        try:
            await leaving.close()
            await a.sockets.open(sam)

            async def recorded_on_a() -> bool:
                return on_a.local.users() == [sam.id] and on_a.dirty >= {sol.id, sam.id}

            await until(recorded_on_a, WAIT_SECONDS, "A never took in the changes")
        finally:
            redis_server.thaw()

        async def repaired() -> bool:
            return await on_b.online([sol.id, sam.id]) == {sam.id} and not on_a.dirty

        await until(repaired, WAIT_SECONDS, "Redis still holds what the freeze left")
        sent = await bea.sent(chat_id, "Sol left during the freeze, Sam came")
        [notification] = await notifications_of(sol)
        assert notification["messageId"] == sent["_id"]
        assert [n["messageId"] for n in await notifications_of(sam)] == [before["_id"]]


async def test_presence_lost_by_redis_is_written_again_from_the_process(
    redis_server: RedisProcess,
) -> None:
    """A Redis restarted empty (here: FLUSHALL) loses every presence entry; each process
    notices its own key gone at its next heartbeat and writes its sockets back."""
    url = redis_server.url()
    async with AsyncExitStack() as stack:
        a = await serve(stack, create_app(redis_settings(url)))
        b = await serve(stack, create_app(redis_settings(url)))
        sol = b.cast["Sol"]
        await a.sockets.open(sol)
        on_b = presence_of(b.app)
        assert await on_b.online([sol.id]) == {sol.id}
        async with aioredis.Redis.from_url(url) as r:
            await r.flushall()
        assert await on_b.online([sol.id]) == set()

        async def restored() -> bool:
            return await on_b.online([sol.id]) == {sol.id}

        await until(restored, WAIT_SECONDS, "the process never wrote its sockets back")


async def test_with_redis_frozen_sends_skip_redis_and_stay_fast(
    redis_server: RedisProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    url = redis_server.url()
    async with AsyncExitStack() as stack:
        here = await serve(stack, create_app(redis_settings(url, rate_limit=1000)))
        bea, sol, sam = here.cast["Bea"], here.cast["Sol"], here.cast["Sam"]
        chat_id = await bea.group_chat(sol, sam)
        watcher = await here.sockets.open(sol)  # Sam stays offline: presence is asked
        await watcher.join(chat_id)
        breaker = presence_of(here.app).breaker

        async def timed_sends(label: str) -> list[float]:
            timings = []
            for n in range(100):
                started = time.perf_counter()
                await bea.sent(chat_id, f"{label} #{n}")
                timings.append(time.perf_counter() - started)
            return timings

        answering = await timed_sends("answering")
        redis_server.freeze()
        try:
            started = time.perf_counter()
            await bea.sent(chat_id, "the first send finds Redis frozen")
            first = time.perf_counter() - started
            assert not breaker.closed
            frozen = await timed_sends("frozen")
            # Served from this process: the watcher got every message, Sam a notification.
            await watcher.next(
                "new-message", where=lambda p: p["message"]["content"] == "frozen #99"
            )
            assert await notification_count(sam) == 201
        finally:
            redis_server.thaw()
        with capsys.disabled():
            print(f"\n100 sends, Redis answering: {percentiles(answering)}")
            print(f"100 sends, Redis frozen:    {percentiles(frozen)}")
            print(f"the send that found Redis frozen: {first * 1000:.0f} ms")
        # A send that waited for Redis would take its whole timeout; the figures printed
        # above are the measurement (this machine may be busy, so the bound is loose).
        frozen_p99 = statistics.quantiles(frozen, n=100)[98]
        assert frozen_p99 < here.app.services.settings.redis_timeout_seconds / 2, percentiles(
            frozen
        )

        async def recovered() -> bool:
            return breaker.closed

        await until(recovered, WAIT_SECONDS, "the breaker never closed after Redis came back")
        await bea.sent(chat_id, "Redis is back")
        assert await notification_count(sam) == 202


async def test_two_deployments_on_one_redis_never_see_each_others_events(
    redis_server: RedisProcess,
) -> None:
    first = redis_settings(redis_server.url(1))
    second = redis_settings(redis_server.url(2))
    assert first.redis_prefix != second.redis_prefix
    async with AsyncExitStack() as stack:
        one = await serve(stack, create_app(first))
        two = await serve(stack, create_app(second))
        # The same demo ids in both: the rooms `user-<id>` have the same names.
        listening: Socket = await two.sockets.open(two.cast["Sol"])
        await wait_for_subscribers(second.redis_url or "", 1, second.redis_prefix)
        bea, sol, sam = one.cast["Bea"], one.cast["Sol"], one.cast["Sam"]
        chat_id = await bea.group_chat(sam, title="deployment one only")
        # Sol (of deployment one) is added: `participants-added` goes to the room `user-<id>`.
        r = await bea.post(f"/api/chat/{chat_id}/participants", json={"userId": sol.id})
        assert r.status_code == 200, r.text
        # A marker published on deployment two's channel after all of the above: Redis
        # delivers a channel's messages in order, so had one's events been on it, they
        # would be in front of the marker.
        marker = {"chatId": chat_id, "userId": bea.id, "isTyping": True, "expiresInMs": 5000}
        message = {
            "method": "emit",
            "event": "user-typing",
            "data": [marker],
            "binary": False,
            "namespace": "/",
            "room": f"user-{sol.id}",
            "skip_sid": None,
            "callback": None,
            "host_id": "test-marker",
        }
        async with aioredis.Redis.from_url(second.redis_url or "") as r:
            assert await r.publish(second.redis_prefix, json.dumps(message)) == 1
        assert await listening.next("user-typing") == marker
        assert listening.names() == ["user-typing"]
