"""Server events over Socket.IO: every REST change reaches the chat's room with its
documented payload, in `seq` order, and a reconnecting client replays what it missed.
"""

from __future__ import annotations

from asyncapi_contract import validate_server_event
from conftest import Api, assert_problem
from impl.app import ChatApp
from sockets.support import Sockets, direct_chat, events_after

RETENTION_SECONDS = 7 * 24 * 3600


class TestServerEvents:
    async def test_new_message_reaches_every_socket_in_the_room_the_senders_too(
        self, api: Api, sockets: Sockets
    ) -> None:
        a, b, chat_id = await direct_chat(api)
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
        a, b, chat_id = await direct_chat(api)
        receiver = await sockets.in_room(b, chat_id)
        await a.sent(chat_id, "once", clientMessageId="same")
        retry = await a.send(chat_id, "once", clientMessageId="same")
        assert retry.status_code == 200
        await receiver.barrier()
        assert len(receiver.all("new-message")) == 1

    async def test_message_edited_carries_the_stored_message(
        self, api: Api, sockets: Sockets
    ) -> None:
        a, b, chat_id = await direct_chat(api)
        receiver = await sockets.in_room(b, chat_id)
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
        a, b, chat_id = await direct_chat(api)
        receiver = await sockets.in_room(b, chat_id)
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
        a, b, chat_id = await direct_chat(api)
        author = await sockets.in_room(a, chat_id)
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
        removed = await sockets.in_room(member, chat_id)
        r = await owner.request("DELETE", f"/api/chat/{chat_id}/participants/{member.id}")
        assert r.status_code == 200, r.text
        got = await removed.next("participant-removed")
        assert got == {"chatId": chat_id, "seq": 1, "userId": member.id}
        assert f"chat-{chat_id}" not in app.sio.rooms(removed.sid)
        await owner.sent(chat_id, "after the removal")
        await removed.barrier()
        assert removed.names() == ["participant-removed"]


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
        a, b, chat_id = await direct_chat(api)
        observer = await sockets.in_room(a, chat_id)
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

        again = await sockets.in_room(b, chat_id)
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
        a, b, chat_id = await direct_chat(api)
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
        a, b, chat_id = await direct_chat(api)
        typist, watcher = await sockets.open(a), await sockets.in_room(b, chat_id)
        await typist.call("typing-start", {"chatId": chat_id})
        assert "seq" not in await watcher.next("user-typing")
        r = await events_after(b, chat_id, 0)
        assert r.json()["data"] == {"events": [], "latestSeq": 0}
