"""Every query the server makes is served by a declared index.

mongomock scans whole collections whatever the indexes, so speed on the embedded store
says nothing about MongoDB. This test records the shape of every query while a scenario
touching every operation runs, and checks each against `impl.db.indexes`: a query is
served when it pins `_id` or the first key of an index of its collection with an equality
or `$in` (each branch of an `$or` on its own). GridFS's own collections are indexed by GridFS.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import mongomock.collection
import pytest

from conftest import Api
from impl.db import indexes
from impl.settings import Settings

RECORDED = (
    "find",
    "find_one",
    "count_documents",
    "update_one",
    "update_many",
    "find_one_and_update",
    "delete_many",
    "aggregate",
)


@pytest.fixture
def queries(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str, dict[str, Any]]]]:
    seen: list[tuple[str, str, dict[str, Any]]] = []
    depth = [0]  # mongomock calls its own methods: record only the server's outer call
    for name in RECORDED:
        original = getattr(mongomock.collection.Collection, name)

        def recorder(
            self: Any, *args: Any, _original: Any = original, _name: str = name, **kw: Any
        ) -> Any:
            if depth[0] == 0:
                first = args[0] if args else kw.get("filter", kw.get("pipeline", {}))
                if _name == "aggregate":
                    first = next((s["$match"] for s in first if "$match" in s), {})
                seen.append((self.name, _name, dict(first or {})))
            depth[0] += 1
            try:
                return _original(self, *args, **kw)
            finally:
                depth[0] -= 1

        monkeypatch.setattr(mongomock.collection.Collection, name, recorder)
    yield seen


def leading_keys() -> dict[str, set[str]]:
    table: dict[str, set[str]] = {}
    for index in indexes(Settings()):
        table.setdefault(index.collection, {"_id"}).add(index.keys[0][0])
    return table


def pinned(value: Any) -> bool:
    """An equality or `$in`: what lets an index's leading key narrow the scan."""
    return not isinstance(value, dict) or set(value) <= {"$in", "$eq"}


def served(collection: str, query: dict[str, Any], table: dict[str, set[str]]) -> bool:
    fields = {k for k, v in query.items() if not k.startswith("$") and pinned(v)}
    if fields & table.get(collection, {"_id"}):
        return True
    branches = query.get("$or")
    return bool(branches) and all(
        served(collection, {**query, **b, "$or": []}, table) for b in branches
    )


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


async def test_every_query_is_served_by_an_index(
    api: Api, queries: list[tuple[str, str, dict[str, Any]]]
) -> None:
    await scenario(api)
    table = leading_keys()
    checked = [(c, op, q) for c, op, q in queries if not c.startswith("fs.")]
    assert len({(c, op) for c, op, _ in checked}) >= 15, "the scenario reached too few query kinds"
    unserved = [(c, op, sorted(q)) for c, op, q in checked if not served(c, q, table)]
    assert unserved == []
