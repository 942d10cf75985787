"""The Socket.IO side against a real uvicorn server and real python-socketio clients: the
handshake, rooms, every server event with its documented payload, `seq` and replay,
the contract with asyncapi.yaml both ways, and clients that flood or send garbage.

Every event a test client receives is validated against asyncapi.yaml as it arrives and
every acknowledgement when it returns (see sockets_support).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import jwt
import pytest
import yaml
from bson import ObjectId

import impl.realtime.emit
from asyncapi_contract import CLIENT_EVENTS, SERVER_EVENTS, validate_server_event
from conftest import Api, User, assert_problem
from impl.app import OPENAPI_PATH, ChatApp, create_app
from impl.auth import issue_token
from impl.domain.effects import user_room
from impl.settings import Settings
from sockets_support import (  # noqa: F401  (fixtures: app, settings, live, sockets, module_app)
    NO_CHAT,
    Sockets,
    app_fixture,
    free_port,
    live_fixture,
    module_app,
    notifications_of,
    serving,
    settings_fixture,
    sockets_fixture,
)

UNKNOWN_ID = "65f000000000000000000000"
GARBAGE_CODES = {"VALIDATION_FAILED", "PAYLOAD_TOO_LARGE"}
RETENTION_SECONDS = 7 * 24 * 3600


def b64url(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def alg_none_token(user_id: str) -> str:
    now = int(time.time())
    header = b64url({"alg": "none", "typ": "JWT"})
    claims = b64url({"sub": user_id, "iat": now, "exp": now + 600})
    return f"{header}.{claims}."


async def set_status(api: Api, user: User, status: str) -> None:
    r = await api.client.patch(f"/api/dev/users/{user.id}", json={"status": status})
    assert r.status_code == 200, r.text


async def until(condition: Callable[[], Awaitable[bool]], within: float = 2.0) -> None:
    """Wait for a server-side state the client cannot observe (a socket's disconnect)."""
    deadline = time.monotonic() + within
    while not await condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def events_after(user: User, chat_id: str, after_seq: int) -> httpx.Response:
    return await user.get(f"/api/chat/{chat_id}/events", params={"afterSeq": after_seq})


def failure_code(ack: dict[str, Any]) -> str:
    assert ack["success"] is False, ack
    code: str = ack["error"]["code"]
    return code


class TestHandshake:
    async def test_connect_without_token_is_refused_as_unauthorized(self, sockets: Sockets) -> None:
        for auth in (None, {}, {"token": ""}, {"token": 42}, "just-a-string"):
            error = await sockets.refused(auth)
            assert error["data"]["code"] == "UNAUTHORIZED", auth

    async def test_connect_with_malformed_token_is_refused(self, sockets: Sockets) -> None:
        error = await sockets.refused({"token": "not.a.jwt"})
        assert error["data"]["code"] == "UNAUTHORIZED"

    async def test_connect_with_wrongly_signed_token_is_refused(
        self, api: Api, sockets: Sockets
    ) -> None:
        user = await api.user("u")
        now = int(time.time())
        claims = {"sub": user.id, "iat": now, "exp": now + 600}
        forged = jwt.encode(
            claims, "another-secret-that-is-long-enough-for-hs256", algorithm="HS256"
        )
        error = await sockets.refused({"token": forged})
        assert error["data"]["code"] == "UNAUTHORIZED"

    async def test_connect_with_expired_token_is_refused(
        self, api: Api, settings: Settings, sockets: Sockets
    ) -> None:
        user = await api.user("u")
        expired = issue_token(settings, user.id, ttl_seconds=-60)
        error = await sockets.refused({"token": expired})
        assert error["data"] == {"code": "UNAUTHORIZED", "detail": "token has expired"}

    async def test_connect_with_alg_none_token_is_refused(self, api: Api, sockets: Sockets) -> None:
        user = await api.user("u")
        error = await sockets.refused({"token": alg_none_token(user.id)})
        assert error["data"]["code"] == "UNAUTHORIZED"

    async def test_connect_for_unknown_user_is_refused(
        self, settings: Settings, sockets: Sockets
    ) -> None:
        error = await sockets.refused({"token": issue_token(settings, UNKNOWN_ID)})
        assert error["data"]["code"] == "UNAUTHORIZED"

    async def test_connect_for_banned_user_is_refused(self, api: Api, sockets: Sockets) -> None:
        user = await api.user("u")
        await set_status(api, user, "banned")
        error = await sockets.refused({"token": user.token})
        assert error["data"] == {"code": "UNAUTHORIZED", "detail": "this user is banned"}

    async def test_banning_disconnects_every_open_socket_of_that_user_at_once(
        self, api: Api, sockets: Sockets
    ) -> None:
        banned, bystander = await api.user("banned"), await api.user("bystander")
        first, second = await sockets.open(banned), await sockets.open(banned)
        other = await sockets.open(bystander)
        await set_status(api, banned, "banned")
        await asyncio.wait_for(first.disconnected.wait(), 2)
        await asyncio.wait_for(second.disconnected.wait(), 2)
        await other.barrier()
        assert not other.disconnected.is_set()

    async def test_connect_while_the_store_is_unreachable_is_refused_as_store_unavailable(
        self,
    ) -> None:
        settings = Settings(
            mongo_uri=f"mongodb://127.0.0.1:{free_port()}/",
            mongo_timeout_ms=300,
            jwt_secret="a-test-secret-that-is-long-enough-for-hs256",
        )
        app = create_app(settings)
        try:
            async with serving(app) as url:
                opened = Sockets(url)
                error = await opened.refused({"token": issue_token(settings, UNKNOWN_ID)})
                await opened.close_all()
        finally:
            app.close()
        assert error["data"]["code"] == "STORE_UNAVAILABLE"

    async def test_long_polling_without_websocket_connects_and_gets_events(
        self, app: ChatApp, api: Api, sockets: Sockets
    ) -> None:
        a, b = await api.user("a"), await api.user("b")
        chat_id = await a.direct_chat(b)
        polling = await sockets.open(b, transports=["polling"])
        await polling.join(chat_id)
        sent = await a.sent(chat_id, "over polling")
        got = await polling.next("new-message")
        assert got["message"]["_id"] == sent["_id"]
        # python-engineio answers a long-poll the client abandoned only at the ping
        # timeout (tens of seconds), so this connection is closed from the server's side.
        await app.sio.eio.disconnect(app.sio.manager.eio_sid_from_sid(polling.sid, "/"))
        await asyncio.wait_for(polling.disconnected.wait(), 2)


class TestRooms:
    async def test_every_socket_is_in_its_user_room(
        self, app: ChatApp, api: Api, sockets: Sockets
    ) -> None:
        user = await api.user("u")
        opened = await sockets.open(user)
        assert set(app.sio.rooms(opened.sid)) == {opened.sid, user_room(user.id)}

    async def test_join_with_the_chat_id_as_a_string_delivers_room_events(
        self, api: Api, sockets: Sockets
    ) -> None:
        a, b = await api.user("a"), await api.user("b")
        chat_id = await a.direct_chat(b)
        listener = await sockets.open(b)
        assert await listener.call("join-chat-room", chat_id) == {"success": True}
        await a.sent(chat_id, "hi")
        assert (await listener.next("new-message"))["chatId"] == chat_id

    async def test_join_with_a_chat_id_object_delivers_room_events(
        self, api: Api, sockets: Sockets
    ) -> None:
        a, b = await api.user("a"), await api.user("b")
        chat_id = await a.direct_chat(b)
        listener = await sockets.open(b)
        assert await listener.call("join-chat-room", {"chatId": chat_id}) == {"success": True}
        await a.sent(chat_id, "hi")
        assert (await listener.next("new-message"))["chatId"] == chat_id

    async def test_join_is_refused_for_a_non_participant(
        self, app: ChatApp, api: Api, sockets: Sockets
    ) -> None:
        a, b, outsider = await api.user("a"), await api.user("b"), await api.user("c")
        chat_id = await a.direct_chat(b)
        opened = await sockets.open(outsider)
        assert failure_code(await opened.call("join-chat-room", chat_id)) == "NOT_PARTICIPANT"
        assert f"chat-{chat_id}" not in app.sio.rooms(opened.sid)

    async def test_join_is_refused_for_an_unknown_chat(self, api: Api, sockets: Sockets) -> None:
        opened = await sockets.open(await api.user("u"))
        assert failure_code(await opened.call("join-chat-room", UNKNOWN_ID)) == "NOT_FOUND"

    @pytest.mark.parametrize(
        "payload",
        [
            "not-an-id",
            "65f00000000000000000000g",
            {"chatId": 5},
            {"chatId": UNKNOWN_ID, "extra": 1},
            {"id": UNKNOWN_ID},
            None,
            42,
            [UNKNOWN_ID],
        ],
        ids=repr,
    )
    async def test_join_with_a_malformed_chat_id_fails_validation(
        self, api: Api, sockets: Sockets, payload: Any
    ) -> None:
        opened = await sockets.open(await api.user("u"))
        assert failure_code(await opened.call("join-chat-room", payload)) == "VALIDATION_FAILED"

    async def test_join_with_a_payload_over_16_kib_is_refused_as_too_large(
        self, api: Api, sockets: Sockets
    ) -> None:
        opened = await sockets.open(await api.user("u"))
        ack = await opened.call("join-chat-room", {"chatId": "x" * (16 * 1024 + 1)})
        assert failure_code(ack) == "PAYLOAD_TOO_LARGE"

    async def test_an_unknown_event_gets_a_failed_ack(self, api: Api, sockets: Sockets) -> None:
        opened = await sockets.open(await api.user("u"))
        assert failure_code(await opened.call("send-message", {"text": "hi"})) == "UNKNOWN_EVENT"

    async def test_leaving_a_room_stops_its_events(self, api: Api, sockets: Sockets) -> None:
        a, b = await api.user("a"), await api.user("b")
        chat_id = await a.direct_chat(b)
        listener = await sockets.open(b)
        await listener.join(chat_id)
        assert await listener.call("leave-chat-room", {"chatId": chat_id}) == {"success": True}
        await a.sent(chat_id, "after leaving")
        await listener.barrier()
        assert listener.all("new-message") == []

    async def test_leaving_a_room_the_socket_is_not_in_succeeds(
        self, api: Api, sockets: Sockets
    ) -> None:
        opened = await sockets.open(await api.user("u"))
        assert await opened.call("leave-chat-room", UNKNOWN_ID) == {"success": True}


class TestServerEvents:
    async def test_new_message_reaches_every_socket_in_the_room_the_senders_too(
        self, api: Api, sockets: Sockets
    ) -> None:
        a, b = await api.user("a"), await api.user("b")
        chat_id = await a.direct_chat(b)
        sender, receiver = await sockets.open(a), await sockets.open(b)
        await sender.join(chat_id)
        await receiver.join(chat_id)
        sent = await a.sent(chat_id, "  hello there  ", clientMessageId="c-1")
        for opened in (sender, receiver):
            got = await opened.next("new-message")
            assert got == {"chatId": chat_id, "seq": 1, "message": sent}
        assert sent["content"] == "hello there"
        assert sent["clientMessageId"] == "c-1"

    async def test_an_idempotent_retry_emits_nothing(self, api: Api, sockets: Sockets) -> None:
        a, b = await api.user("a"), await api.user("b")
        chat_id = await a.direct_chat(b)
        receiver = await sockets.open(b)
        await receiver.join(chat_id)
        await a.sent(chat_id, "once", clientMessageId="same")
        retry = await a.send(chat_id, "once", clientMessageId="same")
        assert retry.status_code == 200
        await receiver.barrier()
        assert len(receiver.all("new-message")) == 1

    async def test_message_edited_carries_the_stored_message(
        self, api: Api, sockets: Sockets
    ) -> None:
        a, b = await api.user("a"), await api.user("b")
        chat_id = await a.direct_chat(b)
        receiver = await sockets.open(b)
        await receiver.join(chat_id)
        sent = await a.sent(chat_id, "draft")
        r = await a.request(
            "PUT", f"/api/chat/{chat_id}/messages/{sent['_id']}", json={"content": "final"}
        )
        assert r.status_code == 200, r.text
        await receiver.next("new-message")
        got = await receiver.next("message-edited")
        assert got == {"chatId": chat_id, "seq": 2, "message": r.json()["data"]["message"]}
        assert got["message"]["content"] == "final" and "editedAt" in got["message"]

    async def test_message_deleted_is_sent_once_even_when_deleted_twice(
        self, api: Api, sockets: Sockets
    ) -> None:
        a, b = await api.user("a"), await api.user("b")
        chat_id = await a.direct_chat(b)
        receiver = await sockets.open(b)
        await receiver.join(chat_id)
        sent = await a.sent(chat_id, "oops")
        for _ in range(2):
            r = await a.request("DELETE", f"/api/chat/{chat_id}/messages/{sent['_id']}")
            assert r.status_code == 200, r.text
        got = await receiver.next("message-deleted")
        assert got == {"chatId": chat_id, "seq": 2, "messageId": sent["_id"]}
        await receiver.barrier()
        assert len(receiver.all("message-deleted")) == 1

    async def test_messages_read_names_the_newly_read_messages_once(
        self, api: Api, sockets: Sockets
    ) -> None:
        a, b = await api.user("a"), await api.user("b")
        chat_id = await a.direct_chat(b)
        author = await sockets.open(a)
        await author.join(chat_id)
        first, second = await a.sent(chat_id, "1"), await a.sent(chat_id, "2")
        for _ in range(2):
            r = await b.request("PATCH", f"/api/chat/{chat_id}/messages/read", json={})
            assert r.status_code == 200, r.text
        got = await author.next("messages-read")
        assert got["userId"] == b.id and got["seq"] == 3
        assert sorted(got["messageIds"]) == sorted([first["_id"], second["_id"]])
        await author.barrier()
        assert len(author.all("messages-read")) == 1

    async def test_participants_added_reaches_the_room_and_the_added_users_own_room(
        self, api: Api, sockets: Sockets
    ) -> None:
        owner, member, newcomer = await api.user("o"), await api.user("m"), await api.user("n")
        chat_id = await owner.group_chat(member)
        in_room, added = await sockets.open(member), await sockets.open(newcomer)
        await in_room.join(chat_id)
        r = await owner.post(f"/api/chat/{chat_id}/participants", json={"userId": newcomer.id})
        assert r.status_code == 200, r.text
        seen_in_room = await in_room.next("participants-added")
        seen_by_added = await added.next("participants-added")
        assert seen_in_room == seen_by_added
        assert seen_in_room["userIds"] == [newcomer.id] and seen_in_room["seq"] == 1
        assert newcomer.id in seen_in_room["chat"]["participants"]
        await added.barrier()
        assert len(added.all("participants-added")) == 1

    async def test_a_removed_participant_leaves_the_room_at_once_and_gets_no_later_event(
        self, app: ChatApp, api: Api, sockets: Sockets
    ) -> None:
        owner, member = await api.user("o"), await api.user("m")
        chat_id = await owner.group_chat(member)
        removed = await sockets.open(member)
        await removed.join(chat_id)
        r = await owner.request("DELETE", f"/api/chat/{chat_id}/participants/{member.id}")
        assert r.status_code == 200, r.text
        got = await removed.next("participant-removed")
        assert got == {"chatId": chat_id, "seq": 1, "userId": member.id}
        assert f"chat-{chat_id}" not in app.sio.rooms(removed.sid)
        await owner.sent(chat_id, "after the removal")
        await removed.barrier()
        assert removed.names() == ["participant-removed"]

    async def test_user_typing_reaches_others_but_no_socket_of_the_typist(
        self, api: Api, settings: Settings, sockets: Sockets
    ) -> None:
        a, b = await api.user("a"), await api.user("b")
        chat_id = await a.direct_chat(b)
        typist, typists_other_tab, watcher = (
            await sockets.open(a),
            await sockets.open(a),
            await sockets.open(b),
        )
        for opened in (typist, typists_other_tab, watcher):
            await opened.join(chat_id)
        assert await typist.call("typing-start", {"chatId": chat_id}) == {"success": True}
        got = await watcher.next("user-typing")
        assert got == {
            "chatId": chat_id,
            "userId": a.id,
            "isTyping": True,
            "expiresInMs": settings.typing_expires_ms,
        }
        await typists_other_tab.barrier()
        assert typist.all("user-typing") == typists_other_tab.all("user-typing") == []

    async def test_typing_start_repeated_within_the_throttle_is_acked_but_not_rebroadcast(
        self, api: Api, sockets: Sockets
    ) -> None:
        a, b = await api.user("a"), await api.user("b")
        chat_id = await a.direct_chat(b)
        typist, watcher = await sockets.open(a), await sockets.open(b)
        await watcher.join(chat_id)
        for _ in range(5):
            assert await typist.call("typing-start", {"chatId": chat_id}) == {"success": True}
        await watcher.barrier()
        assert [p["isTyping"] for p in watcher.all("user-typing")] == [True]

    async def test_typing_stop_is_always_broadcast_and_resets_the_throttle(
        self, api: Api, sockets: Sockets
    ) -> None:
        a, b = await api.user("a"), await api.user("b")
        chat_id = await a.direct_chat(b)
        typist, watcher = await sockets.open(a), await sockets.open(b)
        await watcher.join(chat_id)
        for event in ("typing-start", "typing-stop", "typing-start"):
            assert await typist.call(event, {"chatId": chat_id}) == {"success": True}
        await watcher.barrier()
        assert [p["isTyping"] for p in watcher.all("user-typing")] == [True, False, True]

    async def test_typing_starts_again_after_the_throttle_window(
        self, app: ChatApp, api: Api, settings: Settings, sockets: Sockets
    ) -> None:
        a, b = await api.user("a"), await api.user("b")
        chat_id = await a.direct_chat(b)
        typist, watcher = await sockets.open(a), await sockets.open(b)
        await watcher.join(chat_id)
        await typist.call("typing-start", {"chatId": chat_id})
        await api.advance(-(-settings.typing_throttle_ms // 1000))
        await typist.call("typing-start", {"chatId": chat_id})
        await watcher.barrier()
        assert len(watcher.all("user-typing")) == 2

    @pytest.mark.parametrize("event", ["typing-start", "typing-stop"])
    async def test_typing_is_refused_for_a_non_participant(
        self, api: Api, sockets: Sockets, event: str
    ) -> None:
        a, b, outsider = await api.user("a"), await api.user("b"), await api.user("c")
        chat_id = await a.direct_chat(b)
        watcher, intruder = await sockets.open(b), await sockets.open(outsider)
        await watcher.join(chat_id)
        assert failure_code(await intruder.call(event, {"chatId": chat_id})) == "NOT_PARTICIPANT"
        await watcher.barrier()
        assert watcher.all("user-typing") == []

    async def test_typing_takes_only_a_chat_id_object(self, api: Api, sockets: Sockets) -> None:
        a, b = await api.user("a"), await api.user("b")
        chat_id = await a.direct_chat(b)
        typist = await sockets.open(a)
        assert failure_code(await typist.call("typing-start", chat_id)) == "VALIDATION_FAILED"


class TestOrderingAndReplay:
    async def test_seq_starts_at_one_and_rises_by_one_per_event_of_each_chat(
        self, api: Api, sockets: Sockets
    ) -> None:
        owner, member, extra = await api.user("o"), await api.user("m"), await api.user("x")
        group = await owner.group_chat(member)
        direct = await owner.direct_chat(member)
        listener = await sockets.open(owner)
        await listener.join(group)
        await listener.join(direct)
        sent = await owner.sent(group, "one")
        await owner.sent(direct, "elsewhere")
        await owner.request(
            "PUT", f"/api/chat/{group}/messages/{sent['_id']}", json={"content": "1"}
        )
        await member.request("PATCH", f"/api/chat/{group}/messages/read", json={})
        await owner.post(f"/api/chat/{group}/participants", json={"userId": extra.id})
        await owner.request("DELETE", f"/api/chat/{group}/participants/{extra.id}")
        await owner.request("DELETE", f"/api/chat/{group}/messages/{sent['_id']}")
        await owner.sent(direct, "elsewhere again")
        await listener.barrier()
        by_chat: dict[str, list[int]] = {group: [], direct: []}
        for received in listener.events:
            by_chat[received.payload["chatId"]].append(received.payload["seq"])
        assert by_chat == {group: [1, 2, 3, 4, 5, 6], direct: [1, 2]}

    async def test_reconnecting_client_replays_exactly_what_it_missed(
        self, api: Api, sockets: Sockets
    ) -> None:
        a, b = await api.user("a"), await api.user("b")
        chat_id = await a.direct_chat(b)
        observer = await sockets.open(a)
        await observer.join(chat_id)
        client = await sockets.open(b)
        await client.join(chat_id)
        first = await a.sent(chat_id, "seen live")
        last_applied = (await client.next("new-message"))["seq"]
        await client.close()

        missed = await a.sent(chat_id, "missed 1")
        await a.request(
            "PUT", f"/api/chat/{chat_id}/messages/{missed['_id']}", json={"content": "m"}
        )
        await a.request("DELETE", f"/api/chat/{chat_id}/messages/{first['_id']}")

        again = await sockets.open(b)
        await again.join(chat_id)
        r = await events_after(b, chat_id, last_applied)
        assert r.status_code == 200, r.text
        replay = r.json()["data"]
        await observer.barrier()
        live = [(e.event, e.payload) for e in observer.events][1:]
        assert [(e["event"], e["payload"]) for e in replay["events"]] == live
        assert [e["seq"] for e in replay["events"]] == [2, 3, 4]
        assert replay["latestSeq"] == 4
        for e in replay["events"]:
            validate_server_event(e["event"], e["payload"])
        await a.sent(chat_id, "live again")
        assert (await again.next("new-message"))["seq"] == 5

    async def test_replay_of_events_older_than_seven_days_is_gone(
        self, api: Api, sockets: Sockets
    ) -> None:
        a, b = await api.user("a"), await api.user("b")
        chat_id = await a.direct_chat(b)
        await a.sent(chat_id, "old")
        await api.advance(RETENTION_SECONDS + 1)
        await a.sent(chat_id, "new")
        assert_problem(await events_after(b, chat_id, 0), 410, "RESYNC_REQUIRED")
        r = await events_after(b, chat_id, 1)
        assert r.status_code == 200, r.text
        assert [e["seq"] for e in r.json()["data"]["events"]] == [2]

    async def test_user_typing_has_no_seq_and_is_not_replayed(
        self, api: Api, sockets: Sockets
    ) -> None:
        a, b = await api.user("a"), await api.user("b")
        chat_id = await a.direct_chat(b)
        typist, watcher = await sockets.open(a), await sockets.open(b)
        await watcher.join(chat_id)
        await typist.call("typing-start", {"chatId": chat_id})
        assert "seq" not in await watcher.next("user-typing")
        r = await events_after(b, chat_id, 0)
        assert r.json()["data"] == {"events": [], "latestSeq": 0}


def operation_table() -> list[tuple[str, re.Pattern[str], str]]:
    """(method, path regex, operationId) of every operation in openapi.yaml, literal
    paths before templated ones so `/api/chat/stats` is not taken for a chat id."""
    spec = yaml.safe_load(OPENAPI_PATH.read_text(encoding="utf-8"))
    table = []
    for template, item in spec["paths"].items():
        pattern = re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", template) + "$")
        for method, operation in item.items():
            if method in {"get", "put", "post", "patch", "delete"}:
                table.append((template.count("{"), method.upper(), pattern, operation))
    table.sort(key=lambda row: row[0])
    return [(method, pattern, op["operationId"]) for _, method, pattern, op in table]


class OperationLog:
    """Which operations of openapi.yaml the requests made so far reached, successfully."""

    def __init__(self) -> None:
        self.table = operation_table()
        self.reached: set[str] = set()

    def everything(self) -> set[str]:
        return {operation for _, _, operation in self.table}

    async def record(self, response: httpx.Response) -> None:
        request = response.request
        for method, pattern, operation in self.table:
            if method == request.method and pattern.match(request.url.path):
                if response.status_code < 400:
                    self.reached.add(operation)
                return


@pytest.fixture
async def logged_api(app: ChatApp) -> AsyncIterator[tuple[Api, OperationLog]]:
    operations = OperationLog()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://testserver",
        event_hooks={"response": [operations.record]},
    ) as client:
        yield Api(client), operations


@pytest.fixture
def emitted() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every event the server emits while the test runs, checked against asyncapi.yaml."""
    seen: list[tuple[str, dict[str, Any]]] = []

    def listen(event: str, payload: dict[str, Any]) -> None:
        validate_server_event(event, payload)
        seen.append((event, payload))

    impl.realtime.emit.emit_listeners.append(listen)
    yield seen
    impl.realtime.emit.emit_listeners.remove(listen)


class TestContractBothWays:
    async def test_the_server_emits_exactly_the_events_asyncapi_documents(
        self,
        logged_api: tuple[Api, OperationLog],
        sockets: Sockets,
        emitted: list[tuple[str, dict[str, Any]]],
    ) -> None:
        """Drive every REST operation (and typing) and compare the emitted names with the
        spec: a documented event nothing emits fails, and so does an undocumented one."""
        api, operations = logged_api
        await drive_every_operation(api, sockets)
        assert operations.reached == operations.everything(), (
            "operations this test does not drive yet: "
            f"{sorted(operations.everything() - operations.reached)}"
        )
        names = {name for name, _ in emitted}
        assert not SERVER_EVENTS - names, f"documented, never emitted: {SERVER_EVENTS - names}"
        assert not names - SERVER_EVENTS, f"emitted, not documented: {names - SERVER_EVENTS}"


async def drive_every_operation(api: Api, sockets: Sockets) -> None:
    """Call each operation of openapi.yaml at least once, successfully."""
    owner, member, newcomer = await api.user("o"), await api.user("m"), await api.user("n")
    admin = await api.user("admin", role="admin")
    await api.user("helper", role="support")
    r = await api.client.patch(f"/api/dev/users/{newcomer.id}", json={"role": "user"})
    assert r.status_code == 200, r.text
    direct = await owner.direct_chat(member)
    group = await owner.group_chat(member)
    for path, body in (
        ("/api/chat/purchase-request", {"sellerId": member.id, "purchaseRequestId": NO_CHAT}),
        ("/api/chat/support", {"subject": "help", "initialMessage": "hello support"}),
    ):
        r = await owner.post(path, json=body)
        assert r.status_code == 201, r.text
    for path in ("/api/chat", "/api/chat/stats", "/api/chat/config", f"/api/chat/{group}/info"):
        assert (await owner.get(path)).status_code == 200, path
    assert (await owner.request("PUT", f"/api/chat/{direct}/archive")).status_code == 200

    sent = await owner.sent(group, "text")
    r = await owner.post(
        f"/api/chat/{group}/messages/file",
        files={"file": ("note.txt", b"plain words", "text/plain")},
        data={"content": "a file"},
    )
    assert r.status_code == 201, r.text
    url = r.json()["data"]["message"]["attachments"][0]["url"]
    assert (await member.get(url)).status_code == 200
    assert (await member.get(f"/api/chat/{group}/messages")).status_code == 200
    r = await owner.request(
        "PUT", f"/api/chat/{group}/messages/{sent['_id']}", json={"content": "t"}
    )
    assert r.status_code == 200, r.text
    r = await member.request("PATCH", f"/api/chat/{group}/messages/read", json={})
    assert r.status_code == 200, r.text
    r = await owner.request("DELETE", f"/api/chat/{group}/messages/{sent['_id']}")
    assert r.status_code == 200, r.text
    r = await owner.post(f"/api/chat/{group}/participants", json={"userId": newcomer.id})
    assert r.status_code == 200, r.text
    r = await admin.request("DELETE", f"/api/chat/{group}/participants/{newcomer.id}")
    assert r.status_code == 200, r.text
    assert (await owner.get(f"/api/chat/{group}/events")).status_code == 200
    assert (await member.get("/api/notifications")).status_code == 200
    r = await member.request("PATCH", "/api/notifications/read", json={})
    assert r.status_code == 200, r.text

    typist = await sockets.open(owner)
    assert await typist.call("typing-start", {"chatId": group}) == {"success": True}
    await api.advance(1)
    r = await api.client.patch(f"/api/dev/users/{member.id}", json={"status": "banned"})
    assert r.status_code == 200, r.text
    await drive_the_contract_testing_kit(api)
    assert (await api.client.post("/api/dev/reset")).status_code == 200


async def drive_the_contract_testing_kit(api: Api) -> None:
    """The dev operations of sandboxes, faults and the journal (they emit no event except
    the disconnects, which this test's sockets see as a server-side close)."""
    dev = api.client
    fault = {"operationId": "get_chat_stats", "status": 503, "times": 2}
    assert (await dev.post("/api/dev/faults", json=fault)).status_code == 201
    assert (await dev.get("/api/dev/faults")).status_code == 200
    assert (await dev.delete("/api/dev/faults")).status_code == 200
    assert (await dev.get("/api/dev/requests", params={"limit": 5})).status_code == 200
    assert (await dev.delete("/api/dev/requests")).status_code == 200
    other = {"X-Chat-Sandbox": "kit-check"}
    r = await dev.post("/api/dev/users", json={"name": "w"}, headers=other)
    assert r.status_code == 201, r.text
    assert (await dev.get("/api/dev/sandboxes")).status_code == 200
    assert (await dev.delete("/api/dev/sandboxes/kit-check")).status_code == 200
    assert (await dev.post("/api/dev/sockets/disconnect", json={})).status_code == 200


class TestFloodsAndGarbage:
    async def test_a_flooding_client_gets_rate_limited_while_others_stay_responsive(
        self, api: Api, sockets: Sockets
    ) -> None:
        a, b = await api.user("a"), await api.user("b")
        chat_id = await a.direct_chat(b)
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
        a, b = await api.user("a"), await api.user("b")
        chat_id = await a.direct_chat(b)
        opened = await sockets.open(a)
        for event in [*sorted(CLIENT_EVENTS), "made-up"]:
            ack = await opened.call(event, *args)
            expected = {"UNKNOWN_EVENT"} if event == "made-up" else GARBAGE_CODES
            assert failure_code(ack) in expected, (event, ack)
        await opened.join(chat_id)
        await a.sent(chat_id, "still here")
        assert (await opened.next("new-message"))["message"]["content"] == "still here"

    @pytest.mark.parametrize(
        "raw",
        [
            '2["join-chat-room",' + "[" * 5000 + "]" * 5000 + "]",
            '2{"not":"a list"}',
            "2[]",
            '2[["an","array"],"as the name"]',
            "2[7]",
            '2["join-chat-room"',
            "9 unknown packet type",
        ],
        ids=lambda raw: raw[:30],
    )
    async def test_packets_the_server_cannot_decode_do_not_close_the_connection(
        self, api: Api, sockets: Sockets, raw: str
    ) -> None:
        a, b = await api.user("a"), await api.user("b")
        chat_id = await a.direct_chat(b)
        opened, bystander = await sockets.open(a), await sockets.open(b)
        await opened.sio.eio.send(raw)
        await opened.join(chat_id)
        assert await bystander.call("join-chat-room", chat_id) == {"success": True}
        assert opened.sio.connected

    @pytest.mark.parametrize("name", ["connect", "disconnect"])
    async def test_a_client_event_named_like_a_reserved_one_changes_nothing(
        self, app: ChatApp, api: Api, sockets: Sockets, name: str
    ) -> None:
        a, b = await api.user("a"), await api.user("b")
        chat_id = await a.direct_chat(b)
        opened = await sockets.open(b)
        await opened.join(chat_id)
        ack = await opened.call(name, {"token": "x"})
        assert failure_code(ack) == "UNKNOWN_EVENT"
        assert await app.services.presence.sids(b.id) == [opened.sid]
        await a.sent(chat_id, "b is still online")
        await opened.next("new-message")
        assert await notifications_of(b) == []
        await set_status(api, b, "banned")
        await asyncio.wait_for(opened.disconnected.wait(), 2)

    async def test_events_of_a_user_banned_after_connecting_are_refused(
        self, app: ChatApp, api: Api, sockets: Sockets
    ) -> None:
        a, b = await api.user("a"), await api.user("b")
        chat_id = await a.direct_chat(b)
        opened = await sockets.open(b)
        # Banned behind the server's back: the socket is not disconnected, yet every event
        # it sends is refused because the user is checked on each one.
        app.services.store.users.change(ObjectId(b.id), {"status": "banned"})
        assert failure_code(await opened.call("join-chat-room", chat_id)) == "UNAUTHORIZED"


class TestPresence:
    async def test_a_participant_with_a_connected_socket_gets_no_notification(
        self, api: Api, sockets: Sockets
    ) -> None:
        a, online, offline = await api.user("a"), await api.user("on"), await api.user("off")
        chat_id = await a.group_chat(online, offline)
        await sockets.open(online)
        sent = await a.sent(chat_id, "who is here?")
        assert await notifications_of(online) == []
        [note] = await notifications_of(offline)
        assert note["messageId"] == sent["_id"] and note["chatId"] == chat_id

    async def test_a_user_is_offline_again_once_every_socket_closed(
        self, app: ChatApp, api: Api, sockets: Sockets
    ) -> None:
        a, b = await api.user("a"), await api.user("b")
        chat_id = await a.direct_chat(b)
        first, second = await sockets.open(b), await sockets.open(b)
        await first.close()
        await until(lambda: sids_are(app, b, [second.sid]))
        await a.sent(chat_id, "still one tab open")
        assert await notifications_of(b) == []
        await second.close()
        await until(lambda: sids_are(app, b, []))
        await a.sent(chat_id, "all tabs closed")
        assert len(await notifications_of(b)) == 1


async def sids_are(app: ChatApp, user: User, expected: list[str]) -> bool:
    sids: list[str] = await app.services.presence.sids(user.id)
    return sids == expected


def per_socket_state(app: ChatApp) -> dict[str, int]:
    """Sizes of everything the server keeps per connected socket or user, ours and
    python-socketio's: all zero once every socket has gone."""
    manager: Any = app.sio.manager
    presence: Any = app.services.presence
    return {
        "event budgets": len(app.sockets.buckets),
        "typing throttles": len(app.sockets.typing_throttle.last),
        "typing entries": app.sockets.typing_throttle.entries,
        "presence": len(presence._sids),
        "rooms": sum(len(rooms) for rooms in manager.rooms.values()),
        "sids": len(manager.eio_to_sid),
        "pending disconnects": sum(len(s) for s in manager.pending_disconnect.values()),
        "ack callbacks": len(manager.callbacks),
        "sessions": len(app.sio.environ),
        "engine sockets": len(app.sio.eio.sockets),
    }


async def test_connect_disconnect_cycles_leave_no_per_socket_state(
    app: ChatApp, api: Api, sockets: Sockets
) -> None:
    a, b = await api.user("a"), await api.user("b")
    chats = [await a.direct_chat(b), await a.group_chat(b)]
    for _ in range(40):
        opened = [await sockets.open(a), await sockets.open(b), await sockets.open(b)]
        for socket in opened:
            for chat_id in chats:
                await socket.join(chat_id)
                assert await socket.call("typing-start", {"chatId": chat_id}) == {"success": True}
        for socket in opened:
            await socket.close()
    empty = dict.fromkeys(per_socket_state(app), 0)

    async def released() -> bool:
        return per_socket_state(app) == empty

    with contextlib.suppress(AssertionError):  # the disconnects finish on the server's time
        await until(released, within=10)
    assert per_socket_state(app) == empty
