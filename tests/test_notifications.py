"""Out-of-band notifications: created for participants with no connected socket, listed
newest first, filtered, marked read, and gone after 90 days."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conftest import Api, User, assert_problem
from impl.app import ChatApp, create_app
from impl.realtime.presence import LocalPresence
from impl.settings import Settings


@pytest.fixture(scope="module")
def presence() -> LocalPresence:
    """Who the module's app sees as connected: tests mark users online here, without sockets."""
    return LocalPresence()


@pytest.fixture(scope="module")
def app(settings: Settings, presence: LocalPresence) -> Iterator[ChatApp]:
    built = create_app(settings, presence=presence)
    yield built
    built.close()


async def notifications(user: User, **params: object) -> list[dict[str, object]]:
    r = await user.get("/api/notifications", params=params)
    assert r.status_code == 200, r.text
    found: list[dict[str, object]] = r.json()["data"]["notifications"]
    return found


class TestCreation:
    async def test_offline_participant_is_notified(self, api: Api) -> None:
        a, b = await api.user("a"), await api.user("b")
        chat_id = await a.direct_chat(b)
        message = await a.sent(chat_id, "are you there?")
        (note,) = await notifications(b)
        assert note["type"] == "chat_message"
        assert (note["chatId"], note["messageId"], note["userId"]) == (
            chat_id,
            message["_id"],
            b.id,
        )
        assert note["read"] is False
        assert await notifications(a) == []

    async def test_online_participant_is_not_notified(
        self, api: Api, presence: LocalPresence
    ) -> None:
        a, b, c = await api.user("a"), await api.user("b"), await api.user("c")
        group = await a.group_chat(b, c)
        await presence.add(b.id, "socket-of-b")
        try:
            await a.sent(group)
        finally:
            await presence.remove(b.id, "socket-of-b")
        assert await notifications(b) == []
        assert len(await notifications(c)) == 1

    async def test_a_retried_send_notifies_once(self, api: Api) -> None:
        a, b = await api.user("a"), await api.user("b")
        chat_id = await a.direct_chat(b)
        await a.sent(chat_id, "x", clientMessageId="once")
        await a.send(chat_id, "x", clientMessageId="once")
        assert len(await notifications(b)) == 1


class TestListNotifications:
    async def test_newest_first_with_pagination(self, api: Api) -> None:
        a, b = await api.user("a"), await api.user("b")
        chat_id = await a.direct_chat(b)
        ids = [(await a.sent(chat_id, f"m{n}"))["_id"] for n in range(3)]
        r = await b.get("/api/notifications", params={"limit": 2})
        data = r.json()["data"]
        assert [n["messageId"] for n in data["notifications"]] == ids[::-1][:2]
        assert data["pagination"] == {"page": 1, "limit": 2, "total": 3, "pages": 2}

    async def test_unread_filter_and_mark_read(self, api: Api) -> None:
        a, b = await api.user("a"), await api.user("b")
        chat_id = await a.direct_chat(b)
        for n in range(3):
            await a.sent(chat_id, f"m{n}")
        first = (await notifications(b))[-1]
        r = await b.request("PATCH", "/api/notifications/read", json={"ids": [first["_id"]]})
        assert r.json()["data"] == {"modifiedCount": 1}
        assert len(await notifications(b, unread="true")) == 2
        everything = await b.request("PATCH", "/api/notifications/read")
        assert everything.json()["data"] == {"modifiedCount": 2}
        assert await notifications(b, unread="true") == []

    async def test_others_notifications_cannot_be_marked(self, api: Api) -> None:
        a, b = await api.user("a"), await api.user("b")
        chat_id = await a.direct_chat(b)
        await a.sent(chat_id)
        note = (await notifications(b))[0]
        r = await a.request("PATCH", "/api/notifications/read", json={"ids": [note["_id"]]})
        assert r.json()["data"] == {"modifiedCount": 0}
        assert (await notifications(b))[0]["read"] is False

    async def test_kept_90_days(self, api: Api) -> None:
        a, b = await api.user("a"), await api.user("b")
        chat_id = await a.direct_chat(b)
        await a.sent(chat_id)
        await api.advance(90 * 24 * 3600 - 60)
        assert len(await notifications(b)) == 1
        await api.advance(120)
        assert await notifications(b) == []

    async def test_needs_a_token(self, api: Api) -> None:
        assert_problem(await api.client.get("/api/notifications"), 401, "UNAUTHORIZED")
