"""Socket.IO rooms: every socket in its user's room, joining a chat's room (participants
only, by id or `{chatId}`), leaving it, and what a malformed join gets.
"""

from __future__ import annotations

from typing import Any

import pytest

from conftest import Api
from impl.app import ChatApp
from impl.domain.effects import user_room
from sockets.support import UNKNOWN_ID, Sockets, direct_chat, failure_code


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
        a, b, chat_id = await direct_chat(api)
        listener = await sockets.open(b)
        assert await listener.call("join-chat-room", chat_id) == {"success": True}
        await a.sent(chat_id, "hi")
        assert (await listener.next("new-message"))["chatId"] == chat_id

    async def test_join_with_a_chat_id_object_delivers_room_events(
        self, api: Api, sockets: Sockets
    ) -> None:
        a, b, chat_id = await direct_chat(api)
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
        a, b, chat_id = await direct_chat(api)
        listener = await sockets.in_room(b, chat_id)
        assert await listener.call("leave-chat-room", {"chatId": chat_id}) == {"success": True}
        await a.sent(chat_id, "after leaving")
        await listener.barrier()
        assert listener.all("new-message") == []

    async def test_leaving_a_room_the_socket_is_not_in_succeeds(
        self, api: Api, sockets: Sockets
    ) -> None:
        opened = await sockets.open(await api.user("u"))
        assert await opened.call("leave-chat-room", UNKNOWN_ID) == {"success": True}
