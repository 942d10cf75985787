"""`GET /api/dev/requests.har`: the sandbox's REST exchanges as HAR 1.2, responses
included, with what the journal may keep and nothing more (no token: a placeholder
`Authorization`; bodies cut and redacted as in the journal). The npm `har-validator`
check and the offline replay with Playwright's `routeFromHAR` are in tests/browser."""

from __future__ import annotations

import json
from typing import Any

from test_sandboxes import in_sandbox, sandbox_user

from conftest import Api
from impl.devkit.har import BEARER_PLACEHOLDER, CUT
from impl.devkit.journal import BODY_LIMIT


async def har(api: Api, sandbox: str) -> dict[str, Any]:
    r = await api.client.get("/api/dev/requests.har", headers=in_sandbox(sandbox))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    document: dict[str, Any] = r.json()
    return document


async def test_a_session_as_har_oldest_first_with_its_responses(api: Api) -> None:
    buyer, seller = await sandbox_user(api, "w1", "b"), await sandbox_user(api, "w1", "s")
    chat_id = await buyer.direct_chat(seller)
    sent = await buyer.send(chat_id, "hi")
    await buyer.get("/api/chat", params={"page": 1})
    log = (await har(api, "w1"))["log"]
    assert log["version"] == "1.2" and log["creator"]["name"] == "chat-api-reference"
    create, send, listing = log["entries"]
    assert create["request"]["method"] == "POST"
    assert create["request"]["url"] == "http://testserver/api/chat"
    assert create["request"]["postData"] == {
        "mimeType": "application/json",
        "text": json.dumps({"participantIds": [seller.id]}, separators=(",", ":")),
    }
    assert create["response"]["status"] == 201 and create["response"]["statusText"] == "Created"
    assert json.loads(create["response"]["content"]["text"])["data"]["chat"]["_id"] == chat_id
    headers = {h["name"]: h["value"] for h in send["response"]["headers"]}
    assert headers["x-ratelimit-remaining"] == sent.headers["x-ratelimit-remaining"]
    assert listing["request"]["url"] == "http://testserver/api/chat?page=1"
    assert listing["request"]["queryString"] == [{"name": "page", "value": "1"}]


async def test_no_token_only_a_placeholder(api: Api) -> None:
    r = await api.client.post("/api/dev/users", json={"name": "a"}, headers=in_sandbox("w1"))
    token = r.json()["data"]["token"]
    await api.client.get("/api/chat", headers={"Authorization": f"Bearer {token}"})
    raw = (await api.client.get("/api/dev/requests.har", headers=in_sandbox("w1"))).text
    assert token not in raw and token.split(".")[1] not in raw
    (entry,) = json.loads(raw)["log"]["entries"]
    assert entry["request"]["headers"] == [{"name": "Authorization", "value": BEARER_PLACEHOLDER}]


async def test_large_bodies_are_cut_and_say_so(api: Api) -> None:
    a, b = await sandbox_user(api, "w1", "a"), await sandbox_user(api, "w1", "b")
    chat_id = await a.direct_chat(b)
    for n in range(5):
        await a.send(chat_id, f"{n}" * 4000)
    await a.get(f"/api/chat/{chat_id}/messages")
    listing = (await har(api, "w1"))["log"]["entries"][-1]
    content = listing["response"]["content"]
    assert content["comment"] == CUT and len(content["text"].encode()) <= BODY_LIMIT
    assert content["size"] > BODY_LIMIT and listing["response"]["bodySize"] == content["size"]


async def test_socket_entries_and_other_sandboxes_are_left_out(api: Api) -> None:
    one, two = await sandbox_user(api, "w1"), await sandbox_user(api, "w2")
    await one.get("/api/chat/config")
    await two.get("/api/chat")
    urls = [e["request"]["url"] for e in (await har(api, "w1"))["log"]["entries"]]
    assert urls == ["http://testserver/api/chat/config"]
    assert (await har(api, "empty"))["log"]["entries"] == []
