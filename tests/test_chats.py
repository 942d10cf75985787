"""Conversations: creation rules and dedupe, support and purchase chats, listing, stats,
info, archive, and group membership. One class per operation."""

from __future__ import annotations

import asyncio
from typing import Any

from conftest import Api, User, assert_problem

UNKNOWN_ID = "0123456789abcdef01234567"


async def refused_and_not_stored(caller: User, body: dict[str, Any], detail: str) -> None:
    """POST /api/chat answers 400 VALIDATION_FAILED with exactly `detail`, and the caller
    has no chat afterwards."""
    r = await caller.post("/api/chat", json=body)
    assert_problem(r, 400, "VALIDATION_FAILED", detail, exact=True)
    assert (await caller.get("/api/chat")).json()["data"]["pagination"]["total"] == 0


class TestCreateChat:
    async def test_direct_chat_is_created_with_both_participants(self, api: Api) -> None:
        a, b = await api.user("a"), await api.user("b")
        r = await a.post("/api/chat", json={"participantIds": [b.id]})
        assert r.status_code == 201
        chat = r.json()["data"]["chat"]
        assert chat["type"] == "direct"
        assert chat["participants"] == [a.id, b.id]
        assert chat["createdBy"] == a.id
        assert chat["unreadCount"] == 0 and chat["archived"] is False

    async def test_asking_again_for_a_direct_chat_returns_it_with_200(self, api: Api) -> None:
        a, b = await api.user("a"), await api.user("b")
        first = await a.direct_chat(b)
        r = await b.post("/api/chat", json={"participantIds": [a.id, b.id], "type": "direct"})
        assert r.status_code == 200
        assert r.json()["data"]["chat"]["_id"] == first

    async def test_concurrent_direct_creations_yield_one_chat(self, api: Api) -> None:
        a, b = await api.user("a"), await api.user("b")
        replies = await asyncio.gather(
            *(a.post("/api/chat", json={"participantIds": [b.id]}) for _ in range(16))
        )
        ids = {r.json()["data"]["chat"]["_id"] for r in replies}
        assert len(ids) == 1
        assert sorted(r.status_code for r in replies) == [200] * 15 + [201]

    async def test_caller_alone_is_rejected(self, api: Api) -> None:
        a = await api.user("a")
        r = await a.post("/api/chat", json={"participantIds": [a.id]})
        assert_problem(r, 400, "VALIDATION_FAILED", "two distinct participants")

    async def test_direct_chat_with_three_users_is_rejected(self, api: Api) -> None:
        a, b, c = await api.user("a"), await api.user("b"), await api.user("c")
        r = await a.post("/api/chat", json={"participantIds": [b.id, c.id], "type": "direct"})
        assert_problem(r, 400, "VALIDATION_FAILED", "exactly two")

    async def test_without_a_type_three_users_are_a_refused_direct_chat(self, api: Api) -> None:
        a, b, c = await api.user("a"), await api.user("b"), await api.user("c")
        detail = "a direct chat has exactly two participants"
        await refused_and_not_stored(a, {"participantIds": [b.id, c.id]}, detail)

    async def test_title_on_a_direct_chat_is_rejected(self, api: Api) -> None:
        a, b = await api.user("a"), await api.user("b")
        detail = "title is for group chats only; this chat is direct"
        await refused_and_not_stored(a, {"participantIds": [b.id], "title": "x"}, detail)

    async def test_a_type_other_than_direct_or_group_is_rejected(self, api: Api) -> None:
        a, b = await api.user("a"), await api.user("b")
        r = await a.post("/api/chat", json={"participantIds": [b.id], "type": "support"})
        assert_problem(r, 400, "VALIDATION_FAILED", "(type)")

    async def test_group_chat_keeps_title_and_metadata(self, api: Api) -> None:
        a, b, c = await api.user("a"), await api.user("b"), await api.user("c")
        body = {
            "participantIds": [b.id, c.id],
            "type": "group",
            "title": "  Team  ",
            "metadata": {"listing": {"id": 7}},
        }
        r = await a.post("/api/chat", json=body)
        assert r.status_code == 201
        chat = r.json()["data"]["chat"]
        assert chat["title"] == "Team"
        assert chat["metadata"] == {"listing": {"id": 7}}
        assert chat["participants"] == [a.id, b.id, c.id]

    async def test_unknown_participant_is_404(self, api: Api) -> None:
        a = await api.user("a")
        r = await a.post("/api/chat", json={"participantIds": [UNKNOWN_ID]})
        assert_problem(r, 404, "NOT_FOUND", UNKNOWN_ID)

    async def test_malformed_participant_id_is_400(self, api: Api) -> None:
        a = await api.user("a")
        r = await a.post("/api/chat", json={"participantIds": ["nope"]})
        assert_problem(r, 400, "VALIDATION_FAILED", "participantIds")


class TestPurchaseRequestChat:
    async def test_created_then_fetched(self, api: Api) -> None:
        buyer, seller = await api.user("buyer"), await api.user("seller")
        body = {"purchaseRequestId": "665f1c2e9b1e8a3d4c5b6a90", "sellerId": seller.id}
        first = await buyer.post("/api/chat/purchase-request", json=body)
        again = await buyer.post("/api/chat/purchase-request", json=body)
        assert (first.status_code, again.status_code) == (201, 200)
        chat = first.json()["data"]["chat"]
        assert chat["_id"] == again.json()["data"]["chat"]["_id"]
        assert chat["type"] == "direct"
        assert chat["purchaseRequestId"] == body["purchaseRequestId"]
        assert chat["participants"] == [buyer.id, seller.id]

    async def test_concurrent_calls_yield_one_chat(self, api: Api) -> None:
        buyer, seller = await api.user("buyer"), await api.user("seller")
        body = {"purchaseRequestId": "665f1c2e9b1e8a3d4c5b6a91", "sellerId": seller.id}
        replies = await asyncio.gather(
            *(buyer.post("/api/chat/purchase-request", json=body) for _ in range(16))
        )
        assert len({r.json()["data"]["chat"]["_id"] for r in replies}) == 1
        assert [r.status_code for r in replies].count(201) == 1

    async def test_other_purchase_request_gets_its_own_chat(self, api: Api) -> None:
        buyer, seller = await api.user("buyer"), await api.user("seller")
        ids = set()
        for pr in ("665f1c2e9b1e8a3d4c5b6a92", "665f1c2e9b1e8a3d4c5b6a93"):
            r = await buyer.post(
                "/api/chat/purchase-request", json={"purchaseRequestId": pr, "sellerId": seller.id}
            )
            ids.add(r.json()["data"]["chat"]["_id"])
        assert len(ids) == 2

    async def test_seller_equal_to_caller_is_400(self, api: Api) -> None:
        buyer = await api.user("buyer")
        body = {"purchaseRequestId": "665f1c2e9b1e8a3d4c5b6a90", "sellerId": buyer.id}
        r = await buyer.post("/api/chat/purchase-request", json=body)
        assert_problem(r, 400, "VALIDATION_FAILED", "seller")

    async def test_unknown_seller_is_404(self, api: Api) -> None:
        buyer = await api.user("buyer")
        body = {"purchaseRequestId": "665f1c2e9b1e8a3d4c5b6a90", "sellerId": UNKNOWN_ID}
        r = await buyer.post("/api/chat/purchase-request", json=body)
        assert_problem(r, 404, "NOT_FOUND", UNKNOWN_ID)


class TestSupportChat:
    async def test_participants_are_caller_and_active_support_pool(self, api: Api) -> None:
        user = await api.user("user")
        agent = await api.user("agent", "support")
        admin = await api.user("boss", "admin")
        banned = await api.user("gone", "support")
        await api.client.patch(f"/api/dev/users/{banned.id}", json={"status": "banned"})
        await api.user("other user")
        r = await user.post("/api/chat/support", json={"subject": "Payout late"})
        assert r.status_code == 201
        chat = r.json()["data"]["chat"]
        assert chat["type"] == "support"
        assert chat["title"] == "Payout late"
        assert set(chat["participants"]) == {user.id, agent.id, admin.id}
        assert chat["participants"][0] == user.id

    async def test_initial_message_is_the_first_message_by_the_caller(self, api: Api) -> None:
        user = await api.user("user")
        agent = await api.user("agent", "support")
        r = await user.post("/api/chat/support", json={"initialMessage": "  help  "})
        chat = r.json()["data"]["chat"]
        assert chat["lastMessage"]["content"] == "help"
        history = await agent.get(f"/api/chat/{chat['_id']}/messages")
        messages = history.json()["data"]["messages"]
        assert [(m["content"], m["senderId"]) for m in messages] == [("help", user.id)]
        assert (await agent.chat(chat["_id"]))["unreadCounts"][agent.id] == 1

    async def test_body_is_optional(self, api: Api) -> None:
        user = await api.user("user")
        r = await user.post("/api/chat/support")
        assert r.status_code == 201
        assert r.json()["data"]["chat"]["title"] == "Support request"

    async def test_blank_initial_message_is_400_and_creates_nothing(self, api: Api) -> None:
        user = await api.user("user")
        r = await user.post("/api/chat/support", json={"initialMessage": "   "})
        assert_problem(r, 400, "VALIDATION_FAILED", "initialMessage is empty")
        listed = await user.get("/api/chat")
        assert listed.json()["data"]["chats"] == []


class TestListChats:
    async def test_newest_activity_first_with_unread_counts(self, api: Api) -> None:
        a, b, c = await api.user("a"), await api.user("b"), await api.user("c")
        older = await a.direct_chat(b)
        newer = await a.direct_chat(c)
        await b.sent(older, "ping")
        r = await a.get("/api/chat")
        chats = r.json()["data"]["chats"]
        assert [ch["_id"] for ch in chats] == [older, newer]
        assert [ch["unreadCount"] for ch in chats] == [1, 0]
        assert r.json()["data"]["pagination"] == {"page": 1, "limit": 20, "total": 2, "pages": 1}

    async def test_type_filter(self, api: Api) -> None:
        a, b, c = await api.user("a"), await api.user("b"), await api.user("c")
        await a.direct_chat(b)
        group = await a.group_chat(b, c)
        r = await a.get("/api/chat", params={"type": "group"})
        assert [ch["_id"] for ch in r.json()["data"]["chats"]] == [group]

    async def test_archived_chats_are_listed_only_on_request(self, api: Api) -> None:
        a, b, c = await api.user("a"), await api.user("b"), await api.user("c")
        kept = await a.direct_chat(b)
        archived = await a.direct_chat(c)
        await a.request("PUT", f"/api/chat/{archived}/archive", json={"archived": True})
        default = await a.get("/api/chat")
        only_archived = await a.get("/api/chat", params={"archived": "true"})
        assert [ch["_id"] for ch in default.json()["data"]["chats"]] == [kept]
        assert [ch["_id"] for ch in only_archived.json()["data"]["chats"]] == [archived]
        assert only_archived.json()["data"]["chats"][0]["archived"] is True

    async def test_pagination_pages_through_every_chat(self, api: Api) -> None:
        a = await api.user("a")
        others = [await api.user(f"u{i}") for i in range(5)]
        created = [await a.direct_chat(o) for o in others]
        seen = []
        for page in (1, 2, 3):
            r = await a.get("/api/chat", params={"page": page, "limit": 2})
            data = r.json()["data"]
            assert data["pagination"] == {"page": page, "limit": 2, "total": 5, "pages": 3}
            seen += [ch["_id"] for ch in data["chats"]]
        assert seen == list(reversed(created))

    async def test_limit_over_100_is_400(self, api: Api) -> None:
        a = await api.user("a")
        r = await a.get("/api/chat", params={"limit": 101})
        assert_problem(r, 400, "VALIDATION_FAILED", "query parameter 'limit': 101 is greater")

    async def test_unknown_type_is_400(self, api: Api) -> None:
        a = await api.user("a")
        r = await a.get("/api/chat", params={"type": "x"})
        assert_problem(r, 400, "VALIDATION_FAILED", "query parameter 'type'")


class TestStats:
    async def test_counts_chats_messages_and_unread(self, api: Api) -> None:
        a, b, c = await api.user("a"), await api.user("b"), await api.user("c")
        ab = await a.direct_chat(b)
        ac = await a.direct_chat(c)
        await b.sent(ab, "1")
        await b.sent(ab, "2")
        mine = await a.sent(ac, "3")
        gone = await c.sent(ac, "4")
        await c.request("DELETE", f"/api/chat/{ac}/messages/{gone['_id']}")
        await a.request("PUT", f"/api/chat/{ac}/archive")
        r = await a.get("/api/chat/stats")
        assert r.json()["data"] == {
            "totalChats": 2,
            "archivedChats": 1,
            "totalMessages": 3,
            "totalUnread": 2,
        }
        assert mine["readBy"][0]["userId"] == a.id


class TestChatInfo:
    async def test_participants_are_populated_with_unread_per_user(self, api: Api) -> None:
        a, b = await api.user("Alice"), await api.user("Bob", "support")
        chat_id = await a.direct_chat(b)
        await a.sent(chat_id)
        await a.sent(chat_id)
        info = await b.chat(chat_id)
        assert info["participants"] == [
            {"_id": a.id, "name": "Alice", "role": "user"},
            {"_id": b.id, "name": "Bob", "role": "support"},
        ]
        assert info["unreadCounts"] == {a.id: 0, b.id: 2}
        assert info["unreadCount"] == 2

    async def test_non_participant_is_403(self, api: Api) -> None:
        a, b, c = await api.user("a"), await api.user("b"), await api.user("c")
        chat_id = await a.direct_chat(b)
        assert_problem(await c.get(f"/api/chat/{chat_id}/info"), 403, "NOT_PARTICIPANT")

    async def test_unknown_chat_is_404(self, api: Api) -> None:
        a = await api.user("a")
        assert_problem(await a.get(f"/api/chat/{UNKNOWN_ID}/info"), 404, "NOT_FOUND", "chat")

    async def test_malformed_chat_id_is_400(self, api: Api) -> None:
        a = await api.user("a")
        assert_problem(await a.get("/api/chat/123/info"), 400, "VALIDATION_FAILED")


class TestArchive:
    async def test_without_body_it_toggles(self, api: Api) -> None:
        a, b = await api.user("a"), await api.user("b")
        chat_id = await a.direct_chat(b)
        first = await a.request("PUT", f"/api/chat/{chat_id}/archive")
        second = await a.request("PUT", f"/api/chat/{chat_id}/archive")
        assert first.json()["data"]["archived"] is True
        assert first.json()["data"]["chat"]["archived"] is True
        assert second.json()["data"]["archived"] is False

    async def test_with_body_it_sets_idempotently(self, api: Api) -> None:
        a, b = await api.user("a"), await api.user("b")
        chat_id = await a.direct_chat(b)
        for _ in range(2):
            r = await a.request("PUT", f"/api/chat/{chat_id}/archive", json={"archived": True})
            assert r.json()["data"]["archived"] is True
        r = await a.request("PUT", f"/api/chat/{chat_id}/archive", json={"archived": False})
        assert r.json()["data"]["archived"] is False

    async def test_flag_is_per_user(self, api: Api) -> None:
        a, b = await api.user("a"), await api.user("b")
        chat_id = await a.direct_chat(b)
        await a.request("PUT", f"/api/chat/{chat_id}/archive")
        listed = await b.get("/api/chat")
        assert listed.json()["data"]["chats"][0]["archived"] is False

    async def test_non_participant_is_403(self, api: Api) -> None:
        a, b, c = await api.user("a"), await api.user("b"), await api.user("c")
        chat_id = await a.direct_chat(b)
        r = await c.request("PUT", f"/api/chat/{chat_id}/archive")
        assert_problem(r, 403, "NOT_PARTICIPANT")


class TestParticipants:
    async def test_creator_adds_and_removes(self, api: Api) -> None:
        a, b, c, d = [await api.user(n) for n in "abcd"]
        group = await a.group_chat(b, c)
        added = await a.post(f"/api/chat/{group}/participants", json={"userId": d.id})
        assert added.status_code == 200
        assert added.json()["data"]["chat"]["participants"] == [a.id, b.id, c.id, d.id]
        removed = await a.request("DELETE", f"/api/chat/{group}/participants/{b.id}")
        assert removed.status_code == 200
        assert removed.json()["data"]["chat"]["participants"] == [a.id, c.id, d.id]
        assert_problem(await b.get(f"/api/chat/{group}/info"), 403, "NOT_PARTICIPANT")

    async def test_adding_a_present_user_is_400_without_duplicate(self, api: Api) -> None:
        a, b, c = await api.user("a"), await api.user("b"), await api.user("c")
        group = await a.group_chat(b, c)
        r = await a.post(f"/api/chat/{group}/participants", json={"userId": b.id})
        assert_problem(r, 400, "ALREADY_PARTICIPANT", "already a participant")
        members = [p["_id"] for p in (await a.chat(group))["participants"]]
        assert members.count(b.id) == 1

    async def test_removing_an_absent_user_is_404(self, api: Api) -> None:
        a, b, c, d = [await api.user(n) for n in "abcd"]
        group = await a.group_chat(b, c)
        r = await a.request("DELETE", f"/api/chat/{group}/participants/{d.id}")
        assert_problem(r, 404, "NOT_FOUND", "not a participant")

    async def test_only_creator_or_admin_may_change_members(self, api: Api) -> None:
        a, b, c, d = [await api.user(n) for n in "abcd"]
        admin = await api.user("admin", "admin")
        group = await a.group_chat(b, c)
        r = await b.post(f"/api/chat/{group}/participants", json={"userId": d.id})
        assert_problem(r, 403, "FORBIDDEN", "creator or an admin")
        r = await admin.post(f"/api/chat/{group}/participants", json={"userId": d.id})
        assert r.status_code == 200

    async def test_direct_chats_have_fixed_members(self, api: Api) -> None:
        a, b, c = await api.user("a"), await api.user("b"), await api.user("c")
        chat_id = await a.direct_chat(b)
        r = await a.post(f"/api/chat/{chat_id}/participants", json={"userId": c.id})
        assert_problem(r, 400, "VALIDATION_FAILED", "group chats only")
        assert (await a.chat(chat_id))["participants"] == [
            {"_id": a.id, "name": "a", "role": "user"},
            {"_id": b.id, "name": "b", "role": "user"},
        ]

    async def test_unknown_user_is_404(self, api: Api) -> None:
        a, b, c = await api.user("a"), await api.user("b"), await api.user("c")
        group = await a.group_chat(b, c)
        r = await a.post(f"/api/chat/{group}/participants", json={"userId": UNKNOWN_ID})
        assert_problem(r, 404, "NOT_FOUND", UNKNOWN_ID)


class TestConfig:
    async def test_reports_the_enforced_limits(self, api: Api) -> None:
        a = await api.user("a")
        r = await a.get("/api/chat/config")
        assert r.json()["data"] == {
            "maxMessageLength": 5000,
            "editWindowSeconds": 900,
            "rateLimit": {"messages": 20, "chats": 60, "windowSeconds": 60},
            "upload": {
                "maxBytes": 10 * 1024 * 1024,
                "mimeTypes": [
                    "image/png",
                    "image/jpeg",
                    "image/gif",
                    "image/webp",
                    "application/pdf",
                    "text/plain",
                ],
            },
            "typing": {"throttleMs": 2000, "expiresInMs": 5000},
        }

    async def test_needs_a_token(self, api: Api) -> None:
        r = await api.client.get("/api/chat/config")
        assert_problem(r, 401, "UNAUTHORIZED")


async def test_an_empty_body_with_a_content_type_is_no_body(api: Api) -> None:
    a, b = await api.user("a"), await api.user("b")
    chat_id = await a.direct_chat(b)
    r = await a.request(
        "PUT", f"/api/chat/{chat_id}/archive", headers={"Content-Type": "application/octet-stream"}
    )
    assert r.status_code == 200
    assert r.json()["data"]["archived"] is True


async def test_a_new_participant_starts_with_the_existing_messages_unread(api: Api) -> None:
    a, b, c, d = [await api.user(n) for n in "abcd"]
    group = await a.group_chat(b, c)
    await a.sent(group, "1")
    gone = await b.sent(group, "2")
    await b.request("DELETE", f"/api/chat/{group}/messages/{gone['_id']}")
    await a.post(f"/api/chat/{group}/participants", json={"userId": d.id})
    assert (await d.chat(group))["unreadCounts"][d.id] == 1


class TestShapeErrors:
    async def test_a_group_without_participants_names_the_field(self, api: Api) -> None:
        a = await api.user("a")
        r = await a.post("/api/chat", json={"participantIds": [], "type": "group"})
        body = assert_problem(r, 400, "VALIDATION_FAILED", "participantIds")
        assert "any of the given schemas" not in body["detail"]

    async def test_a_title_on_a_direct_chat_is_named(self, api: Api) -> None:
        a, b = await api.user("a"), await api.user("b")
        r = await a.post(
            "/api/chat", json={"participantIds": [b.id], "type": "direct", "title": "x"}
        )
        assert_problem(r, 400, "VALIDATION_FAILED", "title is for group chats only")

    async def test_a_field_the_request_does_not_have_is_named(self, api: Api) -> None:
        a, b = await api.user("a"), await api.user("b")
        r = await a.post("/api/chat", json={"participantIds": [b.id], "subject": "x"})
        assert_problem(r, 400, "VALIDATION_FAILED", "'subject' was unexpected")
