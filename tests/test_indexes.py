"""Every query the server makes is served by a declared index.

Each store operation names the index its filter relies on (`impl.store.base.Table`). This
test runs a scenario touching every operation with a query observer handed to
`create_app`, and checks that each call's filter pins the leading key of the index it
names (`_id` for point lookups), and that the named index is one the store declares.
GridFS's own collections are indexed by GridFS.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from conftest import Api
from impl.app import ChatApp, create_app
from impl.settings import Settings
from impl.store import Index, pins
from impl.store.database import indexes

Seen = list[tuple[str, str, Index, dict[str, Any]]]
WRITES_WITHOUT_FILTER = {"insert_one", "insert_many"}


@pytest.fixture(scope="module")
def observed() -> Seen:
    return []


@pytest.fixture(scope="module")
def app(settings: Settings, observed: Seen) -> ChatApp:
    def observe(collection: str, op: str, index: Index, query: Mapping[str, Any]) -> None:
        observed.append((collection, op, index, dict(query)))

    return create_app(settings, query_observer=observe)


@pytest.fixture
def seen(observed: Seen, client: object) -> Seen:
    """The store calls of this test (after the reset that starts it)."""
    observed.clear()
    return observed


async def scenario(api: Api) -> None:
    a, b, c = await api.user("a"), await api.user("b"), await api.user("c", "support")
    direct = await a.direct_chat(b)
    group = await a.group_chat(b, c)
    await a.post(
        "/api/chat/purchase-request",
        json={"purchaseRequestId": "665f1c2e9b1e8a3d4c5b6a90", "sellerId": b.id},
    )
    await a.post("/api/chat/support", json={"initialMessage": "help"})
    first = await a.sent(direct, "one", clientMessageId="k")
    await a.send(direct, "one", clientMessageId="k")
    second = await b.sent(direct, "two", replyToMessageId=first["_id"])
    await a.post(
        f"/api/chat/{direct}/messages/file", files={"file": ("a.txt", b"text", "text/plain")}
    )
    await a.get(f"/api/chat/{direct}/messages", params={"before": second["_id"]})
    await a.get(f"/api/chat/{direct}/messages", params={"before": second["createdAt"]})
    await a.request("PUT", f"/api/chat/{direct}/messages/{first['_id']}", json={"content": "1"})
    await a.request(
        "PATCH", f"/api/chat/{direct}/messages/read", json={"messageIds": [second["_id"]]}
    )
    await b.request("PATCH", f"/api/chat/{direct}/messages/read")
    history = (await a.get(f"/api/chat/{direct}/messages")).json()["data"]["messages"]
    file_message = next(m for m in history if m["attachments"])
    await b.get(file_message["attachments"][0]["url"])
    await a.request("DELETE", f"/api/chat/{direct}/messages/{file_message['_id']}")
    await a.request("PUT", f"/api/chat/{direct}/archive")
    await a.get("/api/chat", params={"archived": "true", "type": "direct"})
    await a.get("/api/chat/stats")
    await a.get(f"/api/chat/{group}/info")
    await a.post(f"/api/chat/{group}/participants", json={"userId": (await api.user("d")).id})
    await a.request("DELETE", f"/api/chat/{group}/participants/{b.id}")
    await a.get(f"/api/chat/{direct}/events", params={"afterSeq": 1})
    await b.get("/api/notifications", params={"unread": "true"})
    await b.request("PATCH", "/api/notifications/read")
    await api.client.get("/api/dev/users", params={"limit": 2})


async def test_every_query_is_served_by_an_index(api: Api, seen: Seen) -> None:
    await scenario(api)
    declared = {(i.collection, tuple(i.keys)) for i in indexes(Settings())}
    queries = [(c, op, i, q) for c, op, i, q in seen if op not in WRITES_WITHOUT_FILTER]
    assert len({(c, op) for c, op, _, _ in queries}) >= 15, "the scenario reached too few kinds"
    unserved = [(c, op, sorted(q)) for c, op, i, q in queries if not pins(i, q)]
    assert unserved == []
    undeclared = {
        (c, i.keys[0][0])
        for c, _, i, _ in queries
        if i.keys[0][0] != "_id" and (c, tuple(i.keys)) not in declared
    }
    assert undeclared == set()


def test_a_filter_that_misses_the_leading_key_is_not_served() -> None:
    by_chat = Index("messages", [("chatId", 1), ("createdAt", -1)])
    assert pins(by_chat, {"chatId": 1, "createdAt": {"$lt": 2}})
    assert pins(by_chat, {"chatId": {"$in": [1, 2]}})
    assert pins(by_chat, {"$or": [{"chatId": 1}, {"chatId": 2, "x": 3}]})
    assert not pins(by_chat, {"createdAt": {"$lt": 2}})
    assert not pins(by_chat, {"chatId": {"$ne": 1}})
    assert not pins(by_chat, {"$or": [{"chatId": 1}, {"x": 2}]})


def test_sorted_lists_break_ties_on_id_inside_their_index() -> None:
    """MongoDB walks an index alone only when the sort's tie-breaker is part of it."""
    by_key = {(i.collection, i.keys[0][0]): list(i.keys) for i in indexes(Settings())}
    assert by_key[("chats", "participants")][-1] == ("_id", -1)
    assert by_key[("notifications", "userId")][-1] == ("_id", -1)
    assert by_key[("messages", "chatId")][-1] == ("_id", -1)
