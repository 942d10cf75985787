"""The per-user allowance of new chats: `CHAT_CREATE_RATE_LIMIT` per window, the same
429 shape as messages, and no allowance used by a chat that already existed or by a
refused request."""

from __future__ import annotations

import pytest

from conftest import Api, User, assert_problem
from impl.settings import Settings

LIMIT = 3


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings(validate_responses=True, chat_create_rate_limit=LIMIT)


async def users(api: Api, n: int) -> list[User]:
    return [await api.user(f"u{i}") for i in range(n)]


async def test_the_chat_after_the_allowance_is_429_with_retry_after(api: Api) -> None:
    a, *others = await users(api, LIMIT + 2)
    for other in others[:LIMIT]:
        await a.direct_chat(other)
    r = await a.post("/api/chat", json={"participantIds": [others[LIMIT].id]})
    body = assert_problem(r, 429, "RATE_LIMITED", "new chats")
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    assert body["retryAfter"] == int(r.headers["Retry-After"])
    assert r.headers["X-RateLimit-Limit"] == str(LIMIT)
    assert r.headers["X-RateLimit-Remaining"] == "0"


async def test_every_kind_of_creation_counts(api: Api) -> None:
    a, b, c = await users(api, 3)
    support = await api.user("agent", "support")
    await a.direct_chat(b)
    await a.group_chat(b, c)
    pr = {"purchaseRequestId": "665f1c2e9b1e8a3d4c5b6a90", "sellerId": b.id}
    assert (await a.post("/api/chat/purchase-request", json=pr)).status_code == 201
    r = await a.post("/api/chat/support", json={})
    assert_problem(r, 429, "RATE_LIMITED", "new chats")
    assert int(r.headers["Retry-After"]) >= 1
    assert (await support.get("/api/chat")).json()["data"]["chats"] == []


async def test_an_existing_chat_returned_uses_no_allowance(api: Api) -> None:
    a, b, *rest = await users(api, LIMIT + 1)
    for _ in range(LIMIT + 2):
        await a.direct_chat(b)
    for other in rest[: LIMIT - 1]:
        r = await a.post("/api/chat", json={"participantIds": [other.id]})
        assert r.status_code == 201, r.text


async def test_a_refused_creation_uses_no_allowance(api: Api) -> None:
    a, b, *rest = await users(api, LIMIT + 1)
    unknown = "0123456789abcdef01234567"
    for _ in range(LIMIT + 2):
        r = await a.post("/api/chat", json={"participantIds": [unknown]})
        assert_problem(r, 404, "NOT_FOUND")
    for other in [b, *rest[: LIMIT - 1]]:
        assert (await a.post("/api/chat", json={"participantIds": [other.id]})).status_code == 201


async def test_the_config_reports_the_allowance(api: Api) -> None:
    (a,) = await users(api, 1)
    config = (await a.get("/api/chat/config")).json()["data"]["rateLimit"]
    assert config == {"messages": 20, "chats": LIMIT, "windowSeconds": 60}


async def test_the_window_slides_on_the_dev_clock(api: Api) -> None:
    a, *others = await users(api, LIMIT + 2)
    for other in others[:LIMIT]:
        await a.direct_chat(other)
    await api.advance(61)
    r = await a.post("/api/chat", json={"participantIds": [others[LIMIT].id]})
    assert r.status_code == 201, r.text
