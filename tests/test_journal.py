"""The request journal (`/api/dev/requests`): each sandbox's API requests, newest first,
with JSON bodies, multipart summaries, and never a header or a token."""

from __future__ import annotations

import json

import pytest
from test_sandboxes import in_sandbox, sandbox_user

from conftest import Api, assert_problem
from impl.web.journal import BODY_LIMIT, CAPACITY, Journal


async def journal(api: Api, sandbox: str, **query: object) -> list[dict[str, object]]:
    r = await api.client.get("/api/dev/requests", params=query, headers=in_sandbox(sandbox))
    assert r.status_code == 200, r.text
    entries: list[dict[str, object]] = r.json()["data"]["requests"]
    return entries


async def test_records_what_the_ui_did_newest_first(api: Api) -> None:
    a, b = await sandbox_user(api, "w1", "a"), await sandbox_user(api, "w1", "b")
    chat_id = await a.direct_chat(b)
    sent = await a.sent(chat_id, "hi")
    await b.request(
        "PATCH", f"/api/chat/{chat_id}/messages/read", json={"messageIds": [sent["_id"]]}
    )
    entries = await journal(api, "w1")
    assert [e["operationId"] for e in entries] == [
        "mark_messages_read",
        "send_message",
        "create_chat",
    ]
    read = entries[0]
    assert read["method"] == "PATCH" and read["path"] == f"/api/chat/{chat_id}/messages/read"
    assert read["userId"] == b.id and read["status"] == 200
    assert read["body"] == {"messageIds": [sent["_id"]]}


async def test_filter_by_operation_and_limit(api: Api) -> None:
    a = await sandbox_user(api, "w1")
    for page in (1, 2, 3):
        await a.get("/api/chat", params={"page": page})
    await a.get("/api/chat/config")
    entries = await journal(api, "w1", operationId="list_chats", limit=2)
    assert [e["query"] for e in entries] == [{"page": "3"}, {"page": "2"}]


async def test_unknown_operation_filter_is_400(api: Api) -> None:
    r = await api.client.get("/api/dev/requests", params={"operationId": "nope"})
    assert_problem(r, 400, "VALIDATION_FAILED")


async def test_no_token_ever_appears(api: Api) -> None:
    r = await api.client.post("/api/dev/users", json={"name": "a"}, headers=in_sandbox("w1"))
    token = r.json()["data"]["token"]
    headers = {"Authorization": f"Bearer {token}"}
    await api.client.get("/api/chat", params={"token": token}, headers=headers)
    await api.client.post("/api/chat", json={"participantIds": [], "token": token}, headers=headers)
    raw = (await api.client.get("/api/dev/requests", headers=in_sandbox("w1"))).text
    assert token not in raw and token.split(".")[1] not in raw
    assert len(json.loads(raw)["data"]["requests"]) == 2


async def test_dev_calls_are_not_recorded(api: Api) -> None:
    await sandbox_user(api, "w1")
    await api.client.post("/api/dev/clock", json={"advanceSeconds": 1}, headers=in_sandbox("w1"))
    await journal(api, "w1")
    assert await journal(api, "w1") == []


async def test_multipart_shows_the_file_not_its_bytes(api: Api) -> None:
    a, b = await sandbox_user(api, "w1", "a"), await sandbox_user(api, "w1", "b")
    chat_id = await a.direct_chat(b)
    await a.post(
        f"/api/chat/{chat_id}/messages/file",
        files={"file": ("note.txt", b"hello there", "text/plain")},
        data={"content": "caption"},
    )
    entry = (await journal(api, "w1", operationId="send_file_message"))[0]
    assert entry["body"] == {
        "content": "caption",
        "file": {"filename": "note.txt", "mimeType": "text/plain", "size": 11},
    }


async def test_large_json_body_is_cut(api: Api) -> None:
    a, b = await sandbox_user(api, "w1", "a"), await sandbox_user(api, "w1", "b")
    chat_id = await a.direct_chat(b)
    await a.send(chat_id, "x" * 4000, metadata={"pad": "y" * 15000})
    entry = (await journal(api, "w1", operationId="send_message"))[0]
    assert entry["bodyTruncated"] is True
    assert isinstance(entry["body"], str) and len(entry["body"].encode()) <= BODY_LIMIT


async def test_faulted_requests_are_marked(api: Api) -> None:
    a = await sandbox_user(api, "w1")
    await api.client.post(
        "/api/dev/faults",
        json={"operationId": "list_chats", "status": 503},
        headers=in_sandbox("w1"),
    )
    await a.get("/api/chat")
    entry = (await journal(api, "w1"))[0]
    assert (entry["status"], entry["faulted"], entry["userId"]) == (503, True, a.id)


async def test_journals_are_per_sandbox_and_cleared(api: Api) -> None:
    a = await sandbox_user(api, "w1")
    plain = await api.user()
    await a.get("/api/chat")
    await plain.get("/api/chat/config")
    assert [e["operationId"] for e in await journal(api, "w1")] == ["list_chats"]
    r = await api.client.get("/api/dev/requests")
    assert [e["operationId"] for e in r.json()["data"]["requests"]] == ["get_chat_config"]
    r = await api.client.delete("/api/dev/requests", headers=in_sandbox("w1"))
    assert r.json()["data"] == {"cleared": 1}
    assert await journal(api, "w1") == []


@pytest.mark.parametrize("extra", [0, 1, 250])
def test_journal_keeps_the_last_thousand(extra: int) -> None:
    kept = Journal()
    for n in range(CAPACITY + extra):
        kept.add({"n": n, "operationId": "list_chats"})
    entries = kept.recent()
    assert len(entries) == CAPACITY
    assert entries[0]["n"] == CAPACITY + extra - 1
