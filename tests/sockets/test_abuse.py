"""Clients that flood or send garbage over Socket.IO: a failed acknowledgement each time,
the connection and everyone else's service unharmed. Packets the protocol does not allow
close their own connection, logged in one short line; an Engine.IO connection that never
connects to Socket.IO is closed after the connect timeout.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from contextlib import suppress
from typing import Any

import pytest
from bson import ObjectId

from asyncapi_contract import CLIENT_EVENTS
from conftest import Api
from impl.settings import Settings
from sockets.support import (
    EVENT_TIMEOUT,
    UNKNOWN_ID,
    Sockets,
    World,
    build_world,
    direct_chat,
    failure_code,
    notifications_of,
    raw_engineio,
    set_status,
)

GARBAGE_CODES = {"VALIDATION_FAILED", "PAYLOAD_TOO_LARGE"}


class TestFloodsAndGarbage:
    async def test_a_flooding_client_gets_rate_limited_while_others_stay_responsive(
        self, api: Api, sockets: Sockets
    ) -> None:
        a, b, chat_id = await direct_chat(api)
        flooder, calm = await sockets.open(a), await sockets.open(b)
        flood = asyncio.gather(
            *(flooder.call("join-chat-room", chat_id, within=10) for _ in range(300))
        )
        started = time.monotonic()
        assert await calm.call("join-chat-room", chat_id) == {"success": True}
        assert time.monotonic() - started < 1.5
        acks = await flood
        codes = [ack["error"]["code"] for ack in acks if not ack["success"]]
        assert set(codes) == {"RATE_LIMITED"}
        assert len(codes) > 200
        assert flooder.sio.connected

    async def test_unknown_events_count_against_the_rate_limit_too(
        self, api: Api, sockets: Sockets
    ) -> None:
        opened = await sockets.open(await api.user("u"))
        acks = await asyncio.gather(*(opened.call("no-such-event") for _ in range(100)))
        assert {failure_code(ack) for ack in acks} == {"UNKNOWN_EVENT", "RATE_LIMITED"}

    @pytest.mark.parametrize(
        "args",
        [
            (),
            (None,),
            (0,),
            (-1.5,),
            (True,),
            ("",),
            ([],),
            ([[[[[[]]]]]],),
            (json.loads("[" * 200 + "]" * 200),),
            ({"chatId": None},),
            ({"chatId": ["x"]},),
            ({"chatId": {"$ne": None}},),
            ("\udcff" * 10,),
            ("x" * 60_000,),
            (b"\x00\xff binary",),
            (UNKNOWN_ID, "a second argument"),
        ],
        ids=lambda args: repr(args)[:40],
    )
    async def test_garbage_gets_a_failed_ack_and_the_connection_lives_on(
        self, api: Api, sockets: Sockets, args: tuple[Any, ...]
    ) -> None:
        a, b, chat_id = await direct_chat(api)
        opened = await sockets.open(a)
        for event in [*sorted(CLIENT_EVENTS), "made-up"]:
            ack = await opened.call(event, *args)
            expected = {"UNKNOWN_EVENT"} if event == "made-up" else GARBAGE_CODES
            assert failure_code(ack) in expected, (event, ack)
        await opened.join(chat_id)
        await a.sent(chat_id, "still here")
        assert (await opened.next("new-message"))["message"]["content"] == "still here"

    async def test_an_event_named_by_a_number_is_an_unknown_event(
        self, api: Api, sockets: Sockets
    ) -> None:
        a, b, chat_id = await direct_chat(api)
        opened = await sockets.open(a)
        await opened.sio.eio.send("2[7]")
        await opened.join(chat_id)
        assert opened.sio.connected

    @pytest.mark.parametrize("name", ["connect", "disconnect"])
    async def test_a_client_event_named_like_a_reserved_one_changes_nothing(
        self, world: World, api: Api, sockets: Sockets, name: str
    ) -> None:
        a, b, chat_id = await direct_chat(api)
        opened = await sockets.in_room(b, chat_id)
        ack = await opened.call(name, {"token": "x"})
        assert failure_code(ack) == "UNKNOWN_EVENT"
        assert await world.presence.sids(b.id) == [opened.sid]
        await a.sent(chat_id, "b is still online")
        await opened.next("new-message")
        assert await notifications_of(b) == []
        await set_status(api, b, "banned")
        await asyncio.wait_for(opened.disconnected.wait(), 2)

    async def test_events_of_a_user_banned_after_connecting_are_refused(
        self, world: World, api: Api, sockets: Sockets
    ) -> None:
        a, b, chat_id = await direct_chat(api)
        opened = await sockets.open(b)
        # Banned behind the server's back: the socket is not disconnected, yet every event
        # it sends is refused because the user is checked on each one.
        world.store.users.change(ObjectId(b.id), {"status": "banned"})
        assert failure_code(await opened.call("join-chat-room", chat_id)) == "UNAUTHORIZED"


DEEP = "[" * 30000 + "]" * 30000  # 60 KB: under the packet limit, too deep to decode
# Socket.IO packets the protocol does not allow, as a connected client could send them
UNUSABLE = [
    "0" + DEEP,
    '2["join-chat-room",' + "[" * 5000 + "]" * 5000 + "]",
    '2["join-chat-room"',
    '2{"not":"a list"}',
    "2[]",
    '2[["an","array"],"as the name"]',
    "4{}",
    "9 unknown packet type",
    '51000-["typing-stop",{"_placeholder":true,"num":0}]',
]


def assert_one_short_line(caplog: pytest.LogCaptureFixture) -> None:
    """At most one warning (or worse) was logged, short and without a traceback."""
    found = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(found) <= 1, f"{len(found)} log records:\n{caplog.text[:1500]}"
    assert all(r.exc_info is None and len(r.getMessage()) < 200 for r in found), caplog.text[:1500]


class TestPacketsTheServerCannotUse:
    @pytest.mark.parametrize("raw", UNUSABLE, ids=lambda raw: raw[:30])
    async def test_close_the_connection_before_it_connects_with_one_short_log_line(
        self, api: Api, live: str, sockets: Sockets, caplog: pytest.LogCaptureFixture, raw: str
    ) -> None:
        a, b, chat_id = await direct_chat(api)
        bystander = await sockets.open(b)
        async with raw_engineio(live) as client:
            await client.send(*["4" + raw] * 5)
            assert await client.closed_within(EVENT_TIMEOUT), "the connection is still open"
        assert await bystander.call("join-chat-room", chat_id) == {"success": True}
        assert_one_short_line(caplog)

    @pytest.mark.parametrize("raw", UNUSABLE, ids=lambda raw: raw[:30])
    async def test_close_a_connected_socket_and_only_that_one(
        self, api: Api, sockets: Sockets, caplog: pytest.LogCaptureFixture, raw: str
    ) -> None:
        a, b, chat_id = await direct_chat(api)
        opened, bystander = await sockets.open(a), await sockets.open(b)
        for _ in range(5):
            await opened.sio.eio.send(raw)
        with suppress(TimeoutError):
            await asyncio.wait_for(opened.disconnected.wait(), EVENT_TIMEOUT)
        assert opened.disconnected.is_set(), "the socket is still connected"
        assert await bystander.call("join-chat-room", chat_id) == {"success": True}
        assert_one_short_line(caplog)


CONNECT_TIMEOUT = 1
SLACK = 4.0


class TestConnectTimeout:
    @pytest.fixture(scope="class")
    @classmethod
    def module_world(cls) -> World:
        return build_world(
            Settings(validate_responses=True, socket_connect_timeout_seconds=CONNECT_TIMEOUT)
        )

    async def test_an_engineio_connection_that_never_connects_is_closed(self, live: str) -> None:
        async with raw_engineio(live) as client:
            assert await client.closed_within(CONNECT_TIMEOUT + SLACK), "the connection lives on"

    async def test_so_is_one_that_left_the_namespace(self, api: Api, live: str) -> None:
        user = await api.user("u")
        async with raw_engineio(live) as client:
            await client.send("40" + json.dumps({"token": user.token}))
            assert (await client.next_packet() or "").startswith("40{")
            await client.send("41")
            assert await client.closed_within(CONNECT_TIMEOUT + SLACK), "the connection lives on"

    async def test_refused_connect_attempts_do_not_hold_it_open(self, live: str) -> None:
        closed = False
        deadline = time.monotonic() + CONNECT_TIMEOUT + SLACK
        async with raw_engineio(live) as client:
            while not closed and time.monotonic() < deadline:
                await client.send('40{"token":"not-a-token"}')
                closed = await client.next_packet() is None  # else the refusal
                await asyncio.sleep(0.2)
        assert closed, "the connection lives on"

    async def test_a_client_that_connects_in_time_stays_connected(
        self, api: Api, sockets: Sockets
    ) -> None:
        opened = await sockets.open(await api.user("u"))
        await asyncio.sleep(CONNECT_TIMEOUT + 0.5)
        assert opened.sio.connected
        await opened.barrier()
