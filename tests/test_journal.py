"""The request journal (`/api/dev/requests`): each sandbox's API requests, newest first,
with JSON bodies, multipart summaries, and never a header, a token or a secret, in any
form a body arrives in; bounded per entry and as a whole; always strict JSON."""

from __future__ import annotations

import json

import pytest
from test_sandboxes import in_sandbox, sandbox_user

from conftest import Api, assert_problem
from impl.app import ChatApp
from impl.devkit.journal import BODY_LIMIT, CAPACITY, QUERY_LIMIT, Filter, Journal, JournalBudget
from impl.devkit.redaction import REDACTED, cut_utf8


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


SECRET = "hunter2-secret-value"
SECRET_KEYS = (
    "password",
    "Passwd",
    "pwd",
    "secret",
    "accessToken",
    "jwt",
    "apiKey",
    "api_key",
    "Authorization",
    "auth",
    "cookie",
    "credentials",
    "SESSION",
)


def strict_json(text: str) -> object:
    def refuse(name: str) -> object:
        raise AssertionError(f"{name} in the journal's JSON")

    return json.loads(text, parse_constant=refuse)


async def raw_journal(api: Api, sandbox: str) -> str:
    r = await api.client.get("/api/dev/requests", headers=in_sandbox(sandbox))
    assert r.status_code == 200, r.text
    strict_json(r.text)
    return r.text


class TestSecretsNeverKept:
    async def test_secret_keys_in_a_parsed_body(self, api: Api) -> None:
        a = await sandbox_user(api, "w1")
        body = {key: SECRET for key in SECRET_KEYS} | {"participantIds": [], "title": "kept"}
        body["credentials"] = {"user": "u", "pass": SECRET}
        await a.post("/api/chat", json=body)
        entry = (await journal(api, "w1"))[0]
        assert entry["body"]["title"] == "kept"
        assert all(entry["body"][key] == REDACTED for key in SECRET_KEYS)
        assert SECRET not in await raw_journal(api, "w1")

    @pytest.mark.parametrize(
        "shape",
        ["cut", "unparsable", "too-deep", "nan"],
    )
    async def test_secrets_in_bodies_that_are_kept_as_text(self, api: Api, shape: str) -> None:
        a = await sandbox_user(api, "w1")
        pair = f'"password": "{SECRET}", "content": "{a.token}", "jwt": {{"a": ["{SECRET}"]}}'
        raw = {
            "cut": "{" + pair + ', "pad": "' + "x" * (BODY_LIMIT + 100) + '"}',
            "unparsable": "{" + pair + ", oops",
            "too-deep": "{" + pair + ', "deep": ' + "[" * 5000 + "]" * 5000 + "}",
            "nan": "{" + pair + ', "n": NaN}',
        }[shape]
        headers = {"Content-Type": "application/json"}
        await a.post("/api/chat", content=raw.encode(), headers=headers)
        text = await raw_journal(api, "w1")
        assert len(strict_json(text)["data"]["requests"]) == 1  # type: ignore[index]
        assert SECRET not in text and a.token not in text
        assert a.token.split(".")[1] not in text and a.token.split(".")[2] not in text

    async def test_jwt_shaped_strings_and_the_callers_token(self, api: Api) -> None:
        a, b = await sandbox_user(api, "w1", "a"), await sandbox_user(api, "w1", "b")
        chat_id = await a.direct_chat(b)
        await a.send(chat_id, f"mine {a.token} and theirs {b.token}")
        text = await raw_journal(api, "w1")
        assert a.token not in text and b.token not in text
        assert (await journal(api, "w1"))[0]["body"]["content"] == (
            f"mine {REDACTED} and theirs {REDACTED}"
        )

    async def test_query_keys_and_values(self, api: Api) -> None:
        a = await sandbox_user(api, "w1")
        params = {"apiKey": SECRET, "session": SECRET, "page": "1", "q": a.token}
        await a.get("/api/chat", params=params)
        entry = (await journal(api, "w1"))[0]
        assert entry["query"] == {
            "apiKey": REDACTED,
            "session": REDACTED,
            "page": "1",
            "q": REDACTED,
        }

    async def test_multipart_fields(self, api: Api) -> None:
        a, b = await sandbox_user(api, "w1", "a"), await sandbox_user(api, "w1", "b")
        chat_id = await a.direct_chat(b)
        await a.post(
            f"/api/chat/{chat_id}/messages/file",
            files={"file": (f"{a.token}.txt", b"hello", "text/plain")},
            data={"content": "caption", "pwd": SECRET, "cookie": SECRET},
        )
        text = await raw_journal(api, "w1")
        assert SECRET not in text and a.token not in text
        body = (await journal(api, "w1"))[0]["body"]
        assert (body["pwd"], body["cookie"], body["content"]) == (REDACTED, REDACTED, "caption")


class TestBoundedEntries:
    @pytest.mark.parametrize("offset", range(9))
    async def test_a_cut_body_ends_on_a_character(self, api: Api, offset: int) -> None:
        a = await sandbox_user(api, "w1")
        raw = ('{"title": "' + "a" * offset + "€😀é" * 3000 + '"}').encode()
        await a.post("/api/chat", content=raw, headers={"Content-Type": "application/json"})
        entry = (await journal(api, "w1"))[0]
        assert entry["bodyTruncated"] is True
        body = entry["body"]
        assert "\ufffd" not in body and len(body.encode()) <= BODY_LIMIT
        assert len(body.encode()) > BODY_LIMIT - 4

    async def test_json_of_tiny_containers_is_kept_compact(self, api: Api, app: ChatApp) -> None:
        a = await sandbox_user(api, "w1")
        raw = ("[" + ",".join(["{}"] * (BODY_LIMIT // 3 - 1)) + "]").encode()
        assert len(raw) <= BODY_LIMIT
        await a.post("/api/chat", content=raw, headers={"Content-Type": "application/json"})
        assert (await journal(api, "w1"))[0]["body"] == [{}] * (BODY_LIMIT // 3 - 1)
        kept = app.sandboxes.open("w1").journal
        assert len(kept) == 1 and kept.retained_bytes < BODY_LIMIT + 1024

    async def test_multipart_fields_together_fit_the_body_limit(self, api: Api) -> None:
        a, b = await sandbox_user(api, "w1", "a"), await sandbox_user(api, "w1", "b")
        chat_id = await a.direct_chat(b)
        fields = {f"f{n}": "z" * 8000 for n in range(40)}
        await a.post(
            f"/api/chat/{chat_id}/messages/file",
            files={"file": ("note.txt", b"hello", "text/plain")},
            data=fields,
        )
        entry = (await journal(api, "w1"))[0]
        assert entry["bodyTruncated"] is True
        assert len(json.dumps(entry["body"], separators=(",", ":")).encode()) <= BODY_LIMIT

    async def test_a_long_query_keeps_whole_pairs_within_its_limit(self, api: Api) -> None:
        query = "&".join(f"k{n}=v{n}" for n in range(4000))
        await api.client.get(f"/api/nowhere?{query}")  # anonymous: the default sandbox
        r = await api.client.get("/api/dev/requests")
        entry = r.json()["data"]["requests"][0]
        assert entry["operationId"] is None and entry["queryTruncated"] is True
        kept = json.dumps(entry["query"], separators=(",", ":")).encode()
        assert 0 < len(kept) <= QUERY_LIMIT
        assert all(entry["query"][f"k{n}"] == f"v{n}" for n in range(len(entry["query"])))


def test_cut_utf8_never_splits_and_never_exceeds() -> None:
    for text in ("a€b", "😀" * 5, "x\udcff"):
        raw = text.encode("utf-8", "surrogateescape")
        for limit in range(len(raw) + 2):
            cut = cut_utf8(raw, limit)
            assert len(cut.encode()) <= limit
            assert raw.decode("utf-8", "replace").startswith(cut) or "\ufffd" in cut


class TestBudget:
    def test_the_oldest_entry_of_any_journal_goes_first(self) -> None:
        budget = JournalBudget(max_bytes=1000)
        one, two = Journal(budget), Journal(budget)
        for n in range(10):
            (one if n % 2 == 0 else two).add({"n": n, "pad": "x" * 150, "operationId": "op"})
        kept = sorted(e["n"] for j in (one, two) for e in j.recent())
        assert kept == list(range(10 - len(kept), 10)) and len(kept) < 10
        assert budget.used == one.retained_bytes + two.retained_bytes <= 1000

    def test_count_eviction_and_clearing_give_bytes_back(self) -> None:
        budget = JournalBudget(max_bytes=10**9)
        journal = Journal(budget, capacity=5)
        for n in range(50):
            journal.add({"n": n, "operationId": "op"})
        assert len(journal) == 5 and budget.used == journal.retained_bytes
        assert len(budget._order) == 5
        journal.clear()
        assert budget.used == 0 and not budget._order


async def test_a_removed_sandboxs_journal_frees_its_bytes(api: Api, app: ChatApp) -> None:
    budget = app.sandboxes.journal_budget
    before = budget.used
    a = await sandbox_user(api, "gone")
    await a.get("/api/chat")
    assert budget.used > before
    r = await api.client.delete("/api/dev/sandboxes/gone")
    assert r.status_code == 200
    assert budget.used == before


async def test_a_rest_entry_keeps_its_kind_and_its_response(api: Api) -> None:
    a, b = await sandbox_user(api, "w1", "a"), await sandbox_user(api, "w1", "b")
    chat_id = await a.direct_chat(b)
    sent = await a.send(chat_id, "hi")
    entry = (await journal(api, "w1", operationId="send_message"))[0]
    assert (entry["kind"], entry["bearer"], entry["contentType"]) == (
        "rest",
        True,
        "application/json",
    )
    response = entry["response"]
    assert response["body"] == sent.json() and response["bodyTruncated"] is False
    assert response["size"] == len(sent.content)
    assert response["headers"]["x-ratelimit-limit"] == sent.headers["x-ratelimit-limit"]
    assert set(response["headers"]) <= {"content-type", "x-ratelimit-limit"} | {
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    }


def test_each_kind_keeps_its_own_last_entries() -> None:
    kept = Journal(capacity=2)
    kept.add({"kind": "rest", "operationId": "list_chats", "n": 0})
    for n in range(1, 6):
        kept.add({"kind": "socket", "event": "new-message", "n": n})
    assert [e["n"] for e in kept.recent()] == [5, 4, 0]
    assert [e["n"] for e in kept.recent(Filter(kind="socket"))] == [5, 4]
    assert [e["n"] for e in kept.oldest_first(Filter(kind="rest"))] == [0]
