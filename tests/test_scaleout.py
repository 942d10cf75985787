"""Two server instances, one store, joined only through a real Redis: events, presence,
room changes and bans reach sockets connected to the other instance; and when Redis is
gone, REST and each instance's own sockets keep working while the fault is logged.

Each instance is its own `create_app(Settings(redis_url=...))` (its own python-socketio
server with AsyncRedisManager) behind its own uvicorn; both share one embedded store.
Redis is REDIS_URL (default redis://127.0.0.1:6379/0) with the database number replaced by
15, so the presence keys never touch the default database; the pub/sub channel (global to
the Redis server) is the deployment's, derived from that number, and nothing here flushes
anything.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
import redis
import redis.asyncio as aioredis

from conftest import Api, User
from impl.app import ChatApp, create_app
from impl.realtime.presence import RedisPresence
from impl.realtime.redis_guard import GuardedRedisManager
from impl.settings import Settings
from impl.store import Store
from impl.store.database import connect
from polling import until
from sockets.support import Socket, Sockets, free_port, notifications_of, serving

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"

# one worker runs every Redis module in turn (test_presence_redis flushes Redis)
pytestmark = pytest.mark.xdist_group("redis")


def redis_url_for_tests() -> str:
    """REDIS_URL with database 15: the presence keys stay out of the default database."""
    parts = urlsplit(os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL)
    return urlunsplit(parts._replace(path="/15"))


def redis_answers(url: str) -> bool:
    try:
        with redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5) as r:
            return bool(r.ping())
    except redis.RedisError:
        return False


@pytest.fixture
def redis_url() -> str:
    url = redis_url_for_tests()
    if not redis_answers(url):
        reason = (
            f"no Redis answers at {url} (set REDIS_URL, or start one: "
            "redis-server --port 6379 --save '' --daemonize yes)"
        )
        if os.environ.get("CI"):
            pytest.fail(f"CI starts Redis for this test, but {reason}")
        pytest.skip(reason)
    return url


async def release_redis(app: ChatApp) -> None:
    """Stop the app's Redis listener and close its Redis clients (when uvicorn's lifespan
    shutdown has not done it already)."""
    if isinstance(app.sio.manager, GuardedRedisManager):
        await app.sio.manager.aclose()
    if isinstance(app.services.presence, RedisPresence):
        await app.services.presence.close()


@dataclass
class Instance:
    """One server process's worth: its app, a REST client to its URL, its sockets."""

    app: ChatApp
    url: str
    api: Api
    sockets: Sockets


async def start(stack: AsyncExitStack, app: ChatApp) -> Instance:
    url = await stack.enter_async_context(serving(app))
    client = await stack.enter_async_context(httpx.AsyncClient(base_url=url))
    sockets = Sockets(url)
    stack.push_async_callback(sockets.close_all)
    return Instance(app, url, Api(client), sockets)


async def subscribers(url: str, channel: str | None = None) -> int:
    channel = channel or Settings(redis_url=url).redis_prefix
    async with aioredis.Redis.from_url(url) as r:
        [(_, count)] = await r.pubsub_numsub(channel)
        return int(count)


async def wait_for_subscribers(url: str, at_least: int, channel: str | None = None) -> None:
    """Until both instances listen on the channel: a publish before that would be lost."""

    async def subscribed() -> bool:
        return await subscribers(url, channel) >= at_least

    await until(subscribed, 5, "the instances never subscribed to Redis")


@dataclass
class Pair:
    a: Instance
    b: Instance
    owner: User
    member: User

    async def user(self, name: str) -> User:
        return await self.a.api.user(name)


@pytest.fixture
async def pair(redis_url: str) -> AsyncIterator[Pair]:
    """Instances A and B sharing a store and Redis, each with one socket already open (so
    both listen on Redis before the test starts)."""
    # a channel of the pair's own: instances of an earlier test that are still closing
    # cannot blur the count of subscribers below
    channel = f"chat-api-test-{uuid.uuid4().hex}"
    settings = Settings(redis_url=redis_url, redis_channel=channel)
    store = Store(connect(settings))
    apps = [create_app(settings, store) for _ in range(2)]
    async with AsyncExitStack() as stack:
        for app in apps:
            stack.push_async_callback(release_redis, app)
        a, b = [await start(stack, app) for app in apps]
        owner, member = await a.api.user("owner"), await a.api.user("member")
        await a.sockets.open(owner)
        await b.sockets.open(owner)
        await wait_for_subscribers(redis_url, 2, channel)
        yield Pair(a, b, owner, member)


@pytest.mark.redis
async def test_an_event_caused_through_instance_a_reaches_a_client_of_instance_b(
    pair: Pair,
) -> None:
    chat_id = await pair.owner.direct_chat(pair.member)
    on_b = await pair.b.sockets.open(pair.member)
    await on_b.join(chat_id)
    sent = await pair.owner.sent(chat_id, "from A to B")
    assert await on_b.next("new-message") == {"chatId": chat_id, "seq": 1, "message": sent}


@pytest.mark.redis
async def test_typing_on_a_skips_every_socket_of_the_typist_also_those_on_b(
    pair: Pair,
) -> None:
    chat_id = await pair.owner.direct_chat(pair.member)
    typist_on_a = await pair.a.sockets.open(pair.owner)
    typist_on_b = await pair.b.sockets.open(pair.owner)
    watcher_on_b = await pair.b.sockets.open(pair.member)
    for opened in (typist_on_b, watcher_on_b):
        await opened.join(chat_id)
    assert await typist_on_a.call("typing-start", {"chatId": chat_id}) == {"success": True}
    assert (await watcher_on_b.next("user-typing"))["userId"] == pair.owner.id
    await pair.owner.sent(chat_id, "a later event, from A as well")
    await typist_on_b.next("new-message")
    assert typist_on_b.all("user-typing") == []


@pytest.mark.redis
async def test_a_user_connected_only_to_b_is_online_for_a(pair: Pair) -> None:
    online, offline = await pair.user("online"), await pair.user("offline")
    chat_id = await pair.owner.group_chat(online, offline)
    await pair.b.sockets.open(online)
    await pair.owner.sent(chat_id, "sent through A")
    assert await notifications_of(online) == []
    assert len(await notifications_of(offline)) == 1


@pytest.mark.redis
async def test_removing_a_participant_on_a_makes_their_socket_on_b_leave_the_room(
    pair: Pair,
) -> None:
    group = await pair.owner.group_chat(pair.member)
    direct = await pair.owner.direct_chat(pair.member)
    on_b = await pair.b.sockets.open(pair.member)
    await on_b.join(group)
    await on_b.join(direct)
    r = await pair.owner.request("DELETE", f"/api/chat/{group}/participants/{pair.member.id}")
    assert r.status_code == 200, r.text
    assert await on_b.next("participant-removed") == {
        "chatId": group,
        "seq": 1,
        "userId": pair.member.id,
    }
    await pair.owner.sent(group, "not for the removed member")
    # Published after the one above on the same channel: once it is here, the other
    # would have been too.
    await pair.owner.sent(direct, "for the member")
    await on_b.next("new-message", where=lambda p: p["chatId"] == direct)
    assert [p["chatId"] for p in on_b.all("new-message")] == [direct]
    assert f"chat-{group}" not in pair.b.app.sio.rooms(on_b.sid)


@pytest.mark.redis
async def test_banning_through_a_disconnects_the_users_sockets_on_b(pair: Pair) -> None:
    on_b = await pair.b.sockets.open(pair.member)
    r = await pair.a.api.client.patch(f"/api/dev/users/{pair.member.id}", json={"status": "banned"})
    assert r.status_code == 200, r.text
    await asyncio.wait_for(on_b.disconnected.wait(), 2)


async def test_without_redis_rest_and_local_sockets_keep_working_and_the_fault_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    app = create_app(Settings(redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    async with AsyncExitStack() as stack:
        stack.push_async_callback(release_redis, app)
        here = await start(stack, app)
        a, online, offline = [await here.api.user(n) for n in ("a", "on", "off")]
        chat_id = await a.group_chat(online, offline)
        opened: Socket = await here.sockets.open(online)
        await opened.join(chat_id)
        sent = await a.sent(chat_id, "Redis is down")
        assert (await opened.next("new-message"))["message"] == sent
        assert await notifications_of(online) == []
        assert len(await notifications_of(offline)) == 1
    logged = [(r.name, r.getMessage()) for r in caplog.records]
    outages = [m for name, m in logged if name == "impl.redis" and "unavailable" in m]
    assert len(outages) == 1, logged
