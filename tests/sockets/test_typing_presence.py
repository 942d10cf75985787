"""Typing indicators and presence over Socket.IO: `user-typing` to everyone but the
typist, its throttle, who counts as online for offline notifications, and that sockets
that come and go leave no state behind.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from conftest import Api, User
from impl.app import ChatApp
from impl.realtime.presence import LocalPresence
from impl.settings import Settings
from polling import until
from sockets.support import Sockets, World, direct_chat, failure_code, notifications_of


class TestTyping:
    async def test_user_typing_reaches_others_but_no_socket_of_the_typist(
        self, api: Api, settings: Settings, sockets: Sockets
    ) -> None:
        a, b, chat_id = await direct_chat(api)
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
        a, b, chat_id = await direct_chat(api)
        typist, watcher = await sockets.open(a), await sockets.in_room(b, chat_id)
        for _ in range(5):
            assert await typist.call("typing-start", {"chatId": chat_id}) == {"success": True}
        await watcher.barrier()
        assert [p["isTyping"] for p in watcher.all("user-typing")] == [True]

    async def test_typing_stop_is_always_broadcast_and_resets_the_throttle(
        self, api: Api, sockets: Sockets
    ) -> None:
        a, b, chat_id = await direct_chat(api)
        typist, watcher = await sockets.open(a), await sockets.in_room(b, chat_id)
        for event in ("typing-start", "typing-stop", "typing-start"):
            assert await typist.call(event, {"chatId": chat_id}) == {"success": True}
        await watcher.barrier()
        assert [p["isTyping"] for p in watcher.all("user-typing")] == [True, False, True]

    async def test_typing_starts_again_after_the_throttle_window(
        self, app: ChatApp, api: Api, settings: Settings, sockets: Sockets
    ) -> None:
        a, b, chat_id = await direct_chat(api)
        typist, watcher = await sockets.open(a), await sockets.in_room(b, chat_id)
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
        a, b, chat_id = await direct_chat(api)
        typist = await sockets.open(a)
        assert failure_code(await typist.call("typing-start", chat_id)) == "VALIDATION_FAILED"


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
        self, world: World, api: Api, sockets: Sockets
    ) -> None:
        a, b, chat_id = await direct_chat(api)
        first, second = await sockets.open(b), await sockets.open(b)
        await first.close()
        await until(lambda: sids_are(world, b, [second.sid]))
        await a.sent(chat_id, "still one tab open")
        assert await notifications_of(b) == []
        await second.close()
        await until(lambda: sids_are(world, b, []))
        await a.sent(chat_id, "all tabs closed")
        assert len(await notifications_of(b)) == 1


async def sids_are(world: World, user: User, expected: list[str]) -> bool:
    sids: list[str] = await world.presence.sids(user.id)
    return sids == expected


def per_socket_state(world: World) -> dict[str, int]:
    """Sizes of everything the server keeps per connected socket or user, ours and
    python-socketio's: all zero once every socket has gone."""
    app = world.app
    manager: Any = app.sio.manager
    assert isinstance(world.presence, LocalPresence)
    return {
        "event budgets": len(app.sockets.buckets),
        "typing throttles": len(app.sockets.typing_throttle.last),
        "typing entries": app.sockets.typing_throttle.entries,
        "presence": len(world.presence.users()),
        "rooms": sum(len(rooms) for rooms in manager.rooms.values()),
        "sids": len(manager.eio_to_sid),
        "pending disconnects": sum(len(s) for s in manager.pending_disconnect.values()),
        "ack callbacks": len(manager.callbacks),
        "sessions": len(app.sio.environ),
        "engine sockets": len(app.sio.eio.sockets),
    }


async def test_connect_disconnect_cycles_leave_no_per_socket_state(
    world: World, api: Api, sockets: Sockets
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
    empty = dict.fromkeys(per_socket_state(world), 0)

    async def released() -> bool:
        return per_socket_state(world) == empty

    with contextlib.suppress(AssertionError):  # the disconnects finish on the server's time
        await until(released, within=10)
    assert per_socket_state(world) == empty
