"""Messages: sending rules, the rate limit, history and its cursor, edits within the
window, soft deletes and read receipts. One class per operation or rule."""

from __future__ import annotations

import asyncio

import pytest

from conftest import Api, User, assert_problem

EMOJI = "\U0001f600"  # one code point, two UTF-16 units, four UTF-8 bytes


async def pair(api: Api) -> tuple[User, User, str]:
    a, b = await api.user("a"), await api.user("b")
    return a, b, await a.direct_chat(b)


class TestSendMessage:
    async def test_content_is_trimmed_and_sender_has_read_it(self, api: Api) -> None:
        a, b, chat_id = await pair(api)
        r = await a.send(chat_id, "  hi there \n")
        assert r.status_code == 201
        message = r.json()["data"]["message"]
        assert message["content"] == "hi there"
        assert message["type"] == "text"
        assert message["chatId"] == chat_id and message["senderId"] == a.id
        assert [rb["userId"] for rb in message["readBy"]] == [a.id]
        assert message["attachments"] == []

    async def test_5000_code_points_pass_and_5001_fail(self, api: Api) -> None:
        a, _, chat_id = await pair(api)
        sent = await a.sent(chat_id, EMOJI * 5000)
        assert sent["content"] == EMOJI * 5000
        assert_problem(await a.send(chat_id, EMOJI * 5001), 400, "VALIDATION_FAILED", "content")

    async def test_length_counts_before_trimming(self, api: Api) -> None:
        a, _, chat_id = await pair(api)
        r = await a.send(chat_id, "x" * 4999 + "  ")
        assert_problem(r, 400, "VALIDATION_FAILED", "content")

    async def test_blank_content_is_400(self, api: Api) -> None:
        a, _, chat_id = await pair(api)
        r = await a.send(chat_id, " \t\n ")
        assert_problem(r, 400, "VALIDATION_FAILED", "content is empty")

    async def test_other_participant_unread_goes_up(self, api: Api) -> None:
        a, b, chat_id = await pair(api)
        await a.sent(chat_id)
        await a.sent(chat_id)
        assert (await b.chat(chat_id))["unreadCounts"] == {a.id: 0, b.id: 2}

    async def test_reply_to_a_message_of_the_same_chat(self, api: Api) -> None:
        a, b, chat_id = await pair(api)
        first = await a.sent(chat_id, "question")
        reply = await b.sent(chat_id, "answer", replyToMessageId=first["_id"])
        assert reply["replyToMessageId"] == first["_id"]

    async def test_reply_to_another_chats_message_is_400(self, api: Api) -> None:
        a, b, chat_id = await pair(api)
        c = await api.user("c")
        elsewhere = await a.direct_chat(c)
        foreign = await a.sent(elsewhere)
        r = await a.send(chat_id, "x", replyToMessageId=foreign["_id"])
        assert_problem(r, 400, "VALIDATION_FAILED", "replyToMessageId")

    async def test_system_messages_are_for_admins_only(self, api: Api) -> None:
        a, b, _ = await pair(api)
        admin = await api.user("admin", "admin")
        group = await admin.group_chat(a, b)
        r = await a.send(group, "notice", type="system")
        assert_problem(r, 403, "FORBIDDEN", "system messages")
        message = await admin.sent(group, "notice", type="system")
        assert message["type"] == "system"

    async def test_non_participant_is_403(self, api: Api) -> None:
        _, _, chat_id = await pair(api)
        c = await api.user("c")
        assert_problem(await c.send(chat_id), 403, "NOT_PARTICIPANT")

    async def test_multipart_is_415_and_no_message_is_stored(self, api: Api) -> None:
        a, _, chat_id = await pair(api)
        r = await a.post(
            f"/api/chat/{chat_id}/messages",
            files={"file": ("a.txt", b"hello", "text/plain")},
            data={"content": "caption"},
        )
        assert_problem(r, 415, "UNSUPPORTED_MEDIA_TYPE")
        history = await a.get(f"/api/chat/{chat_id}/messages")
        assert history.json()["data"]["messages"] == []

    async def test_metadata_is_kept(self, api: Api) -> None:
        a, _, chat_id = await pair(api)
        message = await a.sent(chat_id, metadata={"offer": {"price": 12.5, "tags": ["x"]}})
        assert message["metadata"] == {"offer": {"price": 12.5, "tags": ["x"]}}

    async def test_lastmessage_and_order_follow_the_send(self, api: Api) -> None:
        a, b, chat_id = await pair(api)
        message = await b.sent(chat_id, "latest")
        chat = (await a.get("/api/chat")).json()["data"]["chats"][0]
        assert chat["lastMessage"]["_id"] == message["_id"]
        assert chat["lastMessageAt"] == message["createdAt"]


class TestIdempotentSend:
    async def test_retry_returns_the_original_with_200(self, api: Api) -> None:
        a, _, chat_id = await pair(api)
        first = await a.send(chat_id, "once", clientMessageId="k-1")
        retry = await a.send(chat_id, "once", clientMessageId="k-1")
        assert (first.status_code, retry.status_code) == (201, 200)
        assert retry.json()["data"]["message"] == first.json()["data"]["message"]
        assert first.json()["data"]["message"]["clientMessageId"] == "k-1"
        assert retry.headers["X-RateLimit-Remaining"] == "19"
        total = (await a.get(f"/api/chat/{chat_id}/messages")).json()["data"]["pagination"]
        assert total["total"] == 1

    async def test_concurrent_retries_yield_one_message(self, api: Api) -> None:
        a, _, chat_id = await pair(api)
        replies = await asyncio.gather(
            *(a.send(chat_id, "same", clientMessageId="k-2") for _ in range(10))
        )
        assert len({r.json()["data"]["message"]["_id"] for r in replies}) == 1
        history = await a.get(f"/api/chat/{chat_id}/messages")
        assert history.json()["data"]["pagination"]["total"] == 1

    async def test_same_id_with_other_content_is_409_and_stores_nothing(self, api: Api) -> None:
        a, b, chat_id = await pair(api)
        original = await a.sent(chat_id, "one", clientMessageId="k-3")
        r = await a.send(chat_id, "two", clientMessageId="k-3")
        assert_problem(r, 409, "IDEMPOTENCY_CONFLICT", "clientMessageId")
        assert r.headers["X-RateLimit-Remaining"] == "19"
        listed = (await b.get(f"/api/chat/{chat_id}/messages")).json()["data"]["messages"]
        assert listed == [original]
        assert (await b.chat(chat_id))["unreadCount"] == 1

    async def test_same_id_with_another_reply_target_is_409(self, api: Api) -> None:
        a, b, chat_id = await pair(api)
        target = await b.sent(chat_id, "question")
        await a.sent(chat_id, "answer", clientMessageId="k-4")
        r = await a.send(chat_id, "answer", clientMessageId="k-4", replyToMessageId=target["_id"])
        assert_problem(r, 409, "IDEMPOTENCY_CONFLICT", "clientMessageId")

    async def test_key_is_per_sender(self, api: Api) -> None:
        a, b, chat_id = await pair(api)
        mine = await a.send(chat_id, "same", clientMessageId="shared")
        theirs = await b.send(chat_id, "same", clientMessageId="shared")
        assert (mine.status_code, theirs.status_code) == (201, 201), theirs.text
        first, second = mine.json()["data"]["message"], theirs.json()["data"]["message"]
        assert first["_id"] != second["_id"]
        assert (first["senderId"], second["senderId"]) == (a.id, b.id)
        assert first["clientMessageId"] == second["clientMessageId"] == "shared"
        retried = await b.send(chat_id, "same", clientMessageId="shared")
        assert retried.status_code == 200
        assert retried.json()["data"]["message"] == second
        listed = (await a.get(f"/api/chat/{chat_id}/messages")).json()["data"]["messages"]
        assert [m["_id"] for m in listed] == [second["_id"], first["_id"]]

    async def test_key_is_per_chat(self, api: Api) -> None:
        a, b, chat_id = await pair(api)
        other = await a.direct_chat(await api.user("c"))
        here = await a.sent(chat_id, "same", clientMessageId="per-chat")
        there = await a.send(other, "same", clientMessageId="per-chat")
        assert there.status_code == 201, there.text
        assert there.json()["data"]["message"]["_id"] != here["_id"]
        assert there.json()["data"]["message"]["chatId"] == other


class TestRateLimit:
    async def test_20th_passes_21st_is_429_with_retry_after(self, api: Api) -> None:
        a, _, chat_id = await pair(api)
        for n in range(1, 21):
            r = await a.send(chat_id, f"m{n}")
            assert r.status_code == 201
            assert r.headers["X-RateLimit-Limit"] == "20"
            assert r.headers["X-RateLimit-Remaining"] == str(20 - n)
        limited = await a.send(chat_id, "m21")
        body = assert_problem(limited, 429, "RATE_LIMITED", "20 messages")
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert body["retryAfter"] == int(limited.headers["Retry-After"])
        assert limited.headers["X-RateLimit-Remaining"] == "0"
        history = (await a.get(f"/api/chat/{chat_id}/messages")).json()["data"]["pagination"]
        assert history["total"] == 20

    async def test_allowance_returns_when_the_window_moves(self, api: Api) -> None:
        a, _, chat_id = await pair(api)
        for n in range(20):
            await a.sent(chat_id, f"m{n}")
        await api.advance(59)
        too_soon = await a.send(chat_id, "too soon")
        body = assert_problem(too_soon, 429, "RATE_LIMITED")
        # the oldest message leaves the window a second later (less the test's own time)
        assert too_soon.headers["Retry-After"] == "1"
        assert body["retryAfter"] == 1
        await api.advance(1)
        assert (await a.send(chat_id, "allowed again")).status_code == 201

    async def test_rejected_requests_do_not_use_the_allowance(self, api: Api) -> None:
        a, _, chat_id = await pair(api)
        for _ in range(30):
            assert_problem(await a.send(chat_id, "   "), 400, "VALIDATION_FAILED")
        first = await a.send(chat_id, "first real")
        assert first.status_code == 201, first.text
        assert first.headers["X-RateLimit-Remaining"] == "19"

    async def test_limit_is_per_user_across_chats(self, api: Api) -> None:
        a, b, chat_id = await pair(api)
        c = await api.user("c")
        other = await a.direct_chat(c)
        for n in range(20):
            await a.sent(chat_id if n % 2 else other, f"m{n}")
        over = await a.send(other, "over")
        assert_problem(over, 429, "RATE_LIMITED")
        assert 1 <= int(over.headers["Retry-After"]) <= 60
        fine = await b.send(chat_id, "b is fine")
        assert fine.status_code == 201, fine.text
        assert fine.headers["X-RateLimit-Remaining"] == "19"


class TestHistory:
    async def test_newest_first_with_pagination(self, api: Api) -> None:
        a, b, chat_id = await pair(api)
        sent = [await a.sent(chat_id, f"m{n}") for n in range(5)]
        r = await b.get(f"/api/chat/{chat_id}/messages", params={"limit": 2, "page": 2})
        data = r.json()["data"]
        assert [m["content"] for m in data["messages"]] == ["m2", "m1"]
        assert data["pagination"] == {"page": 2, "limit": 2, "total": 5, "pages": 3}
        assert sent[0]["editableUntil"] > sent[0]["createdAt"]

    async def test_before_message_id_is_an_exact_cursor(self, api: Api) -> None:
        a, _, chat_id = await pair(api)
        for n in range(7):
            await a.sent(chat_id, f"m{n}")  # several share a millisecond
        seen: list[str] = []
        before = None
        while True:
            params = {"limit": 3, **({"before": before} if before else {})}
            page = (await a.get(f"/api/chat/{chat_id}/messages", params=params)).json()
            messages = page["data"]["messages"]
            if not messages:
                break
            seen += [m["content"] for m in messages]
            before = messages[-1]["_id"]
        assert seen == [f"m{n}" for n in reversed(range(7))]

    async def test_before_timestamp_is_strictly_earlier(self, api: Api) -> None:
        a, _, chat_id = await pair(api)
        first = await a.sent(chat_id, "old")
        await api.advance(5)
        second = await a.sent(chat_id, "new")
        r = await a.get(f"/api/chat/{chat_id}/messages", params={"before": second["createdAt"]})
        assert [m["_id"] for m in r.json()["data"]["messages"]] == [first["_id"]]

    async def test_before_id_of_another_chat_is_400(self, api: Api) -> None:
        a, b, chat_id = await pair(api)
        c = await api.user("c")
        foreign = await a.sent(await a.direct_chat(c))
        r = await a.get(f"/api/chat/{chat_id}/messages", params={"before": foreign["_id"]})
        assert_problem(r, 400, "VALIDATION_FAILED", "before")

    async def test_impossible_date_is_400(self, api: Api) -> None:
        a, _, chat_id = await pair(api)
        r = await a.get(f"/api/chat/{chat_id}/messages", params={"before": "2026-13-45T00:00:00Z"})
        assert_problem(r, 400, "VALIDATION_FAILED")

    @pytest.mark.parametrize("before", ["2026-02-29T00:00:00Z", "2026-04-31T12:00:00Z"])
    async def test_a_day_the_calendar_lacks_is_400(self, api: Api, before: str) -> None:
        a, _, chat_id = await pair(api)
        r = await a.get(f"/api/chat/{chat_id}/messages", params={"before": before})
        assert_problem(r, 400, "VALIDATION_FAILED")

    async def test_moments_whose_utc_leaves_the_calendar_bound_the_page(self, api: Api) -> None:
        a, _, chat_id = await pair(api)
        sent = await a.sent(chat_id)
        path = f"/api/chat/{chat_id}/messages"
        early = await a.get(path, params={"before": "0001-01-01T00:00:00+01:00"})
        assert early.status_code == 200 and early.json()["data"]["messages"] == []
        late = await a.get(path, params={"before": "9999-12-31T23:59:59-01:00"})
        assert late.status_code == 200
        assert [m["_id"] for m in late.json()["data"]["messages"]] == [sent["_id"]]

    async def test_non_participant_is_403(self, api: Api) -> None:
        _, _, chat_id = await pair(api)
        c = await api.user("c")
        assert_problem(await c.get(f"/api/chat/{chat_id}/messages"), 403, "NOT_PARTICIPANT")


class TestEditMessage:
    async def edit(self, user: User, chat_id: str, message_id: str, content: str):  # type: ignore[no-untyped-def]
        path = f"/api/chat/{chat_id}/messages/{message_id}"
        return await user.request("PUT", path, json={"content": content})

    async def test_author_edits_within_the_window(self, api: Api) -> None:
        a, _, chat_id = await pair(api)
        message = await a.sent(chat_id, "draft")
        await api.advance(14 * 60 + 59)
        r = await self.edit(a, chat_id, message["_id"], "  final  ")
        assert r.status_code == 200
        edited = r.json()["data"]["message"]
        assert edited["content"] == "final"
        assert edited["editedAt"] > message["createdAt"]
        chat = (await a.get("/api/chat")).json()["data"]["chats"][0]
        assert chat["lastMessage"]["content"] == "final"

    async def test_after_the_window_is_403(self, api: Api) -> None:
        a, _, chat_id = await pair(api)
        message = await a.sent(chat_id, "draft")
        await api.advance(15 * 60 + 1)
        r = await self.edit(a, chat_id, message["_id"], "late")
        assert_problem(r, 403, "EDIT_WINDOW_EXPIRED", "edit window")
        listed = (await a.get(f"/api/chat/{chat_id}/messages")).json()["data"]["messages"]
        assert [(m["content"], m.get("editedAt")) for m in listed] == [("draft", None)]

    async def test_only_the_author_edits(self, api: Api) -> None:
        a, b, chat_id = await pair(api)
        message = await a.sent(chat_id, "mine")
        r = await self.edit(b, chat_id, message["_id"], "x")
        assert_problem(r, 403, "NOT_AUTHOR", "author")

    async def test_deleted_message_is_409(self, api: Api) -> None:
        a, _, chat_id = await pair(api)
        message = await a.sent(chat_id, "mine")
        await a.request("DELETE", f"/api/chat/{chat_id}/messages/{message['_id']}")
        r = await self.edit(a, chat_id, message["_id"], "x")
        assert_problem(r, 409, "MESSAGE_DELETED", "deleted")

    async def test_same_content_rules_as_sending(self, api: Api) -> None:
        a, _, chat_id = await pair(api)
        message = await a.sent(chat_id, "mine")
        r = await self.edit(a, chat_id, message["_id"], "  ")
        assert_problem(r, 400, "VALIDATION_FAILED", "content is empty")
        r = await self.edit(a, chat_id, message["_id"], "x" * 5001)
        assert_problem(r, 400, "VALIDATION_FAILED", "content")

    async def test_unknown_message_is_404(self, api: Api) -> None:
        a, _, chat_id = await pair(api)
        r = await self.edit(a, chat_id, "0123456789abcdef01234567", "x")
        assert_problem(r, 404, "NOT_FOUND")


class TestDeleteMessage:
    async def test_tombstone_stays_in_history(self, api: Api) -> None:
        a, b, chat_id = await pair(api)
        message = await a.sent(chat_id, "oops")
        r = await a.request("DELETE", f"/api/chat/{chat_id}/messages/{message['_id']}")
        assert r.status_code == 200
        tomb = r.json()["data"]["message"]
        assert tomb["content"] == "" and tomb["attachments"] == [] and "deletedAt" in tomb
        listed = (await b.get(f"/api/chat/{chat_id}/messages")).json()["data"]["messages"]
        assert listed == [tomb]
        assert (await b.chat(chat_id))["unreadCounts"][b.id] == 0

    async def test_deleting_twice_is_200(self, api: Api) -> None:
        a, _, chat_id = await pair(api)
        message = await a.sent(chat_id)
        path = f"/api/chat/{chat_id}/messages/{message['_id']}"
        first = await a.request("DELETE", path)
        second = await a.request("DELETE", path)
        assert second.status_code == 200
        assert second.json()["data"]["message"] == first.json()["data"]["message"]

    async def test_other_participant_cannot_delete(self, api: Api) -> None:
        a, b, chat_id = await pair(api)
        message = await a.sent(chat_id)
        r = await b.request("DELETE", f"/api/chat/{chat_id}/messages/{message['_id']}")
        assert_problem(r, 403, "NOT_AUTHOR", "author")
        listed = (await a.get(f"/api/chat/{chat_id}/messages")).json()["data"]["messages"]
        assert listed[0]["content"] == message["content"] and "deletedAt" not in listed[0]

    async def test_admin_may_delete_anywhere(self, api: Api) -> None:
        a, _, chat_id = await pair(api)
        admin = await api.user("admin", "admin")
        message = await a.sent(chat_id)
        r = await admin.request("DELETE", f"/api/chat/{chat_id}/messages/{message['_id']}")
        assert r.status_code == 200 and r.json()["data"]["message"]["deletedAt"]


class TestMarkRead:
    async def test_empty_body_marks_everything_from_others(self, api: Api) -> None:
        a, b, chat_id = await pair(api)
        for n in range(3):
            await a.sent(chat_id, f"m{n}")
        await b.sent(chat_id, "own")
        r = await b.request("PATCH", f"/api/chat/{chat_id}/messages/read", json={})
        assert r.json()["data"] == {"modifiedCount": 3}
        again = await b.request("PATCH", f"/api/chat/{chat_id}/messages/read")
        assert again.json()["data"] == {"modifiedCount": 0}
        assert (await b.chat(chat_id))["unreadCounts"][b.id] == 0

    async def test_selected_messages_only(self, api: Api) -> None:
        a, b, chat_id = await pair(api)
        first = await a.sent(chat_id, "1")
        await a.sent(chat_id, "2")
        body = {"messageIds": [first["_id"]]}
        r = await b.request("PATCH", f"/api/chat/{chat_id}/messages/read", json=body)
        assert r.json()["data"] == {"modifiedCount": 1}
        assert (await b.chat(chat_id))["unreadCounts"][b.id] == 1

    async def test_unread_never_goes_negative_with_deletes(self, api: Api) -> None:
        a, b, chat_id = await pair(api)
        message = await a.sent(chat_id)
        await b.request("PATCH", f"/api/chat/{chat_id}/messages/read")
        await a.request("DELETE", f"/api/chat/{chat_id}/messages/{message['_id']}")
        await b.request("PATCH", f"/api/chat/{chat_id}/messages/read")
        assert (await b.chat(chat_id))["unreadCounts"] == {a.id: 0, b.id: 0}

    async def test_read_receipt_is_recorded(self, api: Api) -> None:
        a, b, chat_id = await pair(api)
        await a.sent(chat_id)
        await b.request("PATCH", f"/api/chat/{chat_id}/messages/read")
        message = (await a.get(f"/api/chat/{chat_id}/messages")).json()["data"]["messages"][0]
        assert [rb["userId"] for rb in message["readBy"]] == [a.id, b.id]


class TestRateLimitHeadersOnRefusals:
    async def test_a_refused_send_still_reports_the_allowance(self, api: Api) -> None:
        a, _, chat_id = await pair(api)
        await a.sent(chat_id)
        blank = await a.send(chat_id, "   ")
        assert_problem(blank, 400, "VALIDATION_FAILED")
        assert blank.headers["X-RateLimit-Remaining"] == "19"
        outsider = await api.user("c")
        refused = await outsider.send(chat_id)
        assert_problem(refused, 403, "NOT_PARTICIPANT")
        assert refused.headers["X-RateLimit-Remaining"] == "20"
