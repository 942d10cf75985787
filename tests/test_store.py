"""The store edge: how many store calls each hot operation makes, and sends that are
all-or-nothing when a store call fails half-way.

Both use the query observer that `create_app` takes: it sees every store call before it
is made, so it can count them, and raising from it makes that call fail as a store
failure would.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from conftest import Api, User, assert_problem
from impl.app import ChatApp, create_app
from impl.errors import StoreUnavailable
from impl.settings import Settings
from impl.store import Index


class Calls:
    """Records store calls; can make the n-th call of one kind fail."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self.fail_on: tuple[str, str] | None = None

    def __call__(self, collection: str, op: str, index: Index, query: Mapping[str, Any]) -> None:
        self.seen.append((collection, op))
        if self.fail_on == (collection, op):
            self.fail_on = None
            raise StoreUnavailable("injected", retry_after=1)

    def counting(self) -> Calls:
        self.seen.clear()
        return self

    def after_auth(self) -> list[tuple[str, str]]:
        """The calls of the operation itself: without the caller's lookup."""
        assert self.seen[0] == ("users", "find_one"), self.seen
        return self.seen[1:]


@pytest.fixture(scope="module")
def observer() -> Calls:
    return Calls()


@pytest.fixture(scope="module")
def app(settings: Settings, observer: Calls) -> ChatApp:
    return create_app(settings, query_observer=observer)


@pytest.fixture
def calls(observer: Calls, client: object) -> Calls:
    """The module app's observer, failing nothing and with what earlier tests (and the
    reset before this one) did forgotten."""
    observer.fail_on = None
    return observer.counting()


async def two_users_and_a_chat(api: Api) -> tuple[User, User, str]:
    a, b = await api.user("a"), await api.user("b")
    return a, b, await a.direct_chat(b)


class TestRoundTrips:
    async def test_a_send_makes_at_most_six_store_calls(self, api: Api, calls: Calls) -> None:
        a, _, chat_id = await two_users_and_a_chat(api)
        await a.sent(chat_id, "warm up")
        calls.counting()
        await a.sent(chat_id, "counted")
        sends = [c for c in calls.after_auth() if c[0] != "notifications"]
        assert len(sends) <= 6, calls.seen
        assert sends.count(("chats", "find_one_and_update")) == 1, calls.seen
        # the allowance: a read, then a compare-and-set of what was read
        allowance = [c for c in sends if c[0] == "ratelimits"]
        assert allowance == [("ratelimits", "find_one"), ("ratelimits", "update_one")]

    async def test_a_history_page_makes_two(self, api: Api, calls: Calls) -> None:
        a, _, chat_id = await two_users_and_a_chat(api)
        for n in range(3):
            await a.sent(chat_id, f"m{n}")
        calls.counting()
        r = await a.get(f"/api/chat/{chat_id}/messages", params={"limit": 2})
        assert r.json()["data"]["pagination"] == {"page": 1, "limit": 2, "total": 3, "pages": 2}
        assert len(calls.after_auth()) == 2, calls.seen

    async def test_the_chat_list_makes_two(self, api: Api, calls: Calls) -> None:
        a, _, _ = await two_users_and_a_chat(api)
        calls.counting()
        assert (await a.get("/api/chat")).status_code == 200
        assert len(calls.after_auth()) == 2, calls.seen

    async def test_mark_read_with_nothing_unread_looks_at_no_message(
        self, api: Api, calls: Calls
    ) -> None:
        a, b, chat_id = await two_users_and_a_chat(api)
        await a.sent(chat_id, "one")
        r = await b.request("PATCH", f"/api/chat/{chat_id}/messages/read")
        assert r.json()["data"] == {"modifiedCount": 1}
        calls.counting()
        r = await b.request("PATCH", f"/api/chat/{chat_id}/messages/read")
        assert r.json()["data"] == {"modifiedCount": 0}
        assert [c for c in calls.seen if c[0] == "messages"] == []


FAILING_STEPS = [
    ("ratelimits", "find_one"),
    ("ratelimits", "update_one"),
    ("messages", "insert_one"),
    ("chats", "find_one_and_update"),
]


class TestAllOrNothingSend:
    @pytest.mark.parametrize("step", FAILING_STEPS, ids=lambda s: f"{s[0]}.{s[1]}")
    async def test_a_failed_step_leaves_nothing_a_client_can_see(
        self, api: Api, calls: Calls, step: tuple[str, str]
    ) -> None:
        a, b, chat_id = await two_users_and_a_chat(api)
        await a.sent(chat_id, "before")
        calls.fail_on = step
        r = await a.send(chat_id, "lost", clientMessageId="retry-me")
        assert_problem(r, 503, "STORE_UNAVAILABLE")
        assert r.headers["x-ratelimit-remaining"] == "19"

        info = await b.chat(chat_id)
        assert info["unreadCount"] == 1
        assert info["lastMessage"]["content"] == "before"
        history = (await b.get(f"/api/chat/{chat_id}/messages")).json()["data"]
        assert [m["content"] for m in history["messages"]] == ["before"]
        assert history["pagination"]["total"] == 1
        events = (await b.get(f"/api/chat/{chat_id}/events")).json()["data"]
        assert [e["seq"] for e in events["events"]] == list(range(1, events["latestSeq"] + 1))

        retried = await a.send(chat_id, "lost", clientMessageId="retry-me")
        assert retried.status_code == 201, retried.text
        assert retried.headers["x-ratelimit-remaining"] == "18"
        assert (await b.chat(chat_id))["unreadCount"] == 2

    async def test_a_failed_event_write_is_tried_again(self, api: Api, calls: Calls) -> None:
        a, b, chat_id = await two_users_and_a_chat(api)
        calls.fail_on = ("events", "insert_one")
        assert (await a.send(chat_id, "kept")).status_code == 201
        events = (await b.get(f"/api/chat/{chat_id}/events")).json()["data"]
        assert [e["event"] for e in events["events"]] == ["new-message"]
        assert events["latestSeq"] == 1
