"""`POST /api/dev/provider-states`: Pact's state-change requests. Each setup makes what
its state says in a fresh sandbox, through the product's own rules, and answers the
values the interaction needs in the envelope and at the top level (where Pact reads
them); a teardown removes that sandbox. Pact's own verifier runs against it in
tests/pact."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from conftest import Api, assert_problem
from impl.app import create_app, load_spec
from impl.devkit.provider_states import MOST_SENDS, STATES
from impl.settings import Settings

CHAT = "buyer and seller have a direct chat with 3 messages"


async def state(api: Api, name: str, action: str = "setup") -> dict[str, Any]:
    r = await api.client.post(
        "/api/dev/provider-states", json={"state": name, "params": {}, "action": action}
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert body["success"] is True
    assert {k: v for k, v in body.items() if k not in ("success", "data")} == body["data"]
    return body["data"]


def bearer(values: dict[str, Any], who: str = "buyer") -> dict[str, str]:
    return {"Authorization": f"Bearer {values[who + 'Token']}"}


def test_the_spec_lists_exactly_the_states_the_server_has() -> None:
    schema = load_spec()["components"]["schemas"]["ProviderStateRequest"]
    assert schema["properties"]["state"]["enum"] == ["", *STATES]


async def test_a_chat_with_three_messages_in_a_fresh_sandbox(api: Api) -> None:
    values = await state(api, CHAT)
    assert values["sandbox"].startswith("state-chat-")
    r = await api.client.get(f"/api/chat/{values['chatId']}/messages", headers=bearer(values))
    listed = r.json()["data"]["messages"]
    assert [m["_id"] for m in listed] == values["messageIds"][::-1]
    assert [m["senderId"] for m in listed] == [
        values[k] for k in ("buyerId", "sellerId", "buyerId")
    ]
    assert values["messageId"] == values["messageIds"][-1]
    r = await api.client.get(f"/api/chat/{values['chatId']}/info", headers=bearer(values))
    unread = r.json()["data"]["chat"]["unreadCounts"]
    assert (unread[values["buyerId"]], unread[values["sellerId"]]) == (1, 2)


async def test_each_setup_is_its_own_sandbox(api: Api) -> None:
    first, second = await state(api, CHAT), await state(api, CHAT)
    assert first["sandbox"] != second["sandbox"]
    r = await api.client.get(f"/api/chat/{first['chatId']}/info", headers=bearer(second))
    assert_problem(r, 404, "NOT_FOUND")


async def test_the_rate_limit_used_up_refuses_the_next_send(api: Api) -> None:
    values = await state(api, "the buyer's rate limit is used up")
    url = f"/api/chat/{values['chatId']}/messages"
    r = await api.client.post(url, json={"content": "one more"}, headers=bearer(values))
    assert_problem(r, 429, "RATE_LIMITED")
    r = await api.client.post(
        url, json={"content": "the seller may"}, headers=bearer(values, "seller")
    )
    assert r.status_code == 201


@pytest.mark.parametrize(
    ("name", "status", "code"),
    [
        ("a message older than the edit window", 403, "EDIT_WINDOW_EXPIRED"),
        ("a message the buyer deleted", 409, "MESSAGE_DELETED"),
    ],
)
async def test_an_edit_is_refused_as_the_rules_say(
    api: Api, name: str, status: int, code: str
) -> None:
    values = await state(api, name)
    r = await api.client.put(
        f"/api/chat/{values['chatId']}/messages/{values['messageId']}",
        json={"content": "changed"},
        headers=bearer(values),
    )
    assert_problem(r, status, code)


async def test_teardown_removes_the_oldest_sandbox_of_that_state(api: Api) -> None:
    first, second = await state(api, CHAT), await state(api, CHAT)
    assert await state(api, CHAT, "teardown") == {"removed": first["sandbox"]}
    r = await api.client.get("/api/chat", headers=bearer(first))
    assert_problem(r, 401, "UNAUTHORIZED")
    assert (await api.client.get("/api/chat", headers=bearer(second))).status_code == 200
    assert await state(api, CHAT, "teardown") == {"removed": second["sandbox"]}
    assert await state(api, CHAT, "teardown") == {"removed": None}


async def test_the_empty_state_makes_nothing(api: Api) -> None:
    assert await state(api, "") == {}
    r = await api.client.get("/api/dev/sandboxes")
    assert [s["name"] for s in r.json()["data"]["sandboxes"]] == ["default"]


async def test_an_unknown_state_is_refused(api: Api) -> None:
    r = await api.client.post("/api/dev/provider-states", json={"state": "a unicorn"})
    assert_problem(r, 400, "VALIDATION_FAILED")


async def test_a_rate_limit_too_high_to_use_up_is_refused_and_leaves_nothing() -> None:
    app = create_app(Settings(rate_limit=MOST_SENDS + 1))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        r = await client.post(
            "/api/dev/provider-states", json={"state": "the buyer's rate limit is used up"}
        )
        assert_problem(r, 409, "STATE_TOO_COSTLY")
        listed = (await client.get("/api/dev/sandboxes")).json()["data"]["sandboxes"]
        assert [s["name"] for s in listed] == ["default"]
