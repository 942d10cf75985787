"""Sandboxes: one world per `X-Chat-Sandbox` name, chosen by the token for API calls.

Each test drives the public API only: users made in a sandbox get tokens that carry it,
and nothing of one sandbox is visible from another (404/403 exactly as for unknown or
foreign resources); reset and the clock touch only the named sandbox.
"""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest

from conftest import Api, User, assert_problem
from impl.app import ChatApp, create_app
from impl.settings import Settings


async def sandbox_user(api: Api, sandbox: str | None, name: str = "u") -> User:
    headers = {"X-Chat-Sandbox": sandbox} if sandbox else {}
    r = await api.client.post("/api/dev/users", json={"name": name}, headers=headers)
    assert r.status_code == 201, r.text
    data = r.json()["data"]
    return User(api.client, data["user"]["_id"], data["token"], "user")


def in_sandbox(name: str) -> dict[str, str]:
    return {"X-Chat-Sandbox": name}


class TestIsolation:
    async def test_chats_of_one_sandbox_are_unknown_in_another(self, api: Api) -> None:
        a, b = await sandbox_user(api, "w1", "a"), await sandbox_user(api, "w1", "b")
        chat_id = await a.direct_chat(b)
        await a.sent(chat_id, "secret")
        other = await sandbox_user(api, "w2")
        assert_problem(await other.get(f"/api/chat/{chat_id}/info"), 404, "NOT_FOUND")
        assert_problem(await other.get(f"/api/chat/{chat_id}/messages"), 404, "NOT_FOUND")
        listed = await other.get("/api/chat")
        assert listed.json()["data"]["chats"] == []

    async def test_default_sandbox_sees_nothing_of_a_named_one(self, api: Api) -> None:
        a, b = await sandbox_user(api, "w1", "a"), await sandbox_user(api, "w1", "b")
        chat_id = await a.direct_chat(b)
        plain = await api.user()
        assert_problem(await plain.get(f"/api/chat/{chat_id}/events"), 404, "NOT_FOUND")

    async def test_users_of_another_sandbox_are_unknown(self, api: Api) -> None:
        a = await sandbox_user(api, "w1")
        stranger = await sandbox_user(api, "w2")
        r = await a.post("/api/chat", json={"participantIds": [stranger.id]})
        assert_problem(r, 404, "NOT_FOUND")

    async def test_header_on_an_api_call_does_not_switch_sandbox(self, api: Api) -> None:
        a, b = await sandbox_user(api, "w1", "a"), await sandbox_user(api, "w1", "b")
        await a.direct_chat(b)
        r = await a.get("/api/chat", headers=in_sandbox("w2"))
        assert r.json()["data"]["pagination"]["total"] == 1

    async def test_rate_limits_are_per_sandbox(self, api: Api) -> None:
        await api.client.post("/api/dev/clock", json={"advanceSeconds": 0})
        a, b = await sandbox_user(api, "w1", "a"), await sandbox_user(api, "w1", "b")
        chat_id = await a.direct_chat(b)
        for _ in range(20):
            await a.sent(chat_id)
        limited = await a.send(chat_id)
        assert_problem(limited, 429, "RATE_LIMITED")
        assert int(limited.headers["Retry-After"]) >= 1
        c, d = await sandbox_user(api, "w2", "c"), await sandbox_user(api, "w2", "d")
        fine = await c.send(await c.direct_chat(d))
        assert fine.status_code == 201, fine.text
        assert fine.headers["X-RateLimit-Remaining"] == "19"


class TestResetAndClock:
    async def test_reset_in_a_sandbox_leaves_the_others(self, api: Api) -> None:
        a = await sandbox_user(api, "w1")
        keep = await sandbox_user(api, "w2")
        plain = await api.user()
        r = await api.client.post("/api/dev/reset", headers=in_sandbox("w1"))
        assert r.status_code == 200
        assert_problem(await a.get("/api/chat"), 401, "UNAUTHORIZED")
        assert (await keep.get("/api/chat")).status_code == 200
        assert (await plain.get("/api/chat")).status_code == 200

    async def test_clock_moves_only_the_named_sandbox(self, api: Api) -> None:
        r = await api.client.post(
            "/api/dev/clock", json={"advanceSeconds": 86400}, headers=in_sandbox("w1")
        )
        moved = datetime.fromisoformat(r.json()["data"]["now"])
        a, b = await sandbox_user(api, "w2", "a"), await sandbox_user(api, "w2", "b")
        message = await a.sent(await a.direct_chat(b))
        assert (moved - datetime.fromisoformat(message["createdAt"])).total_seconds() > 80000
        default = await api.client.post("/api/dev/clock", json={"advanceSeconds": 0})
        now = datetime.fromisoformat(default.json()["data"]["now"])
        assert (moved - now).total_seconds() > 80000


class TestLifecycle:
    async def test_sandboxes_are_created_by_a_creating_call_and_listed(self, api: Api) -> None:
        r = await api.client.get("/api/dev/sandboxes")
        assert [s["name"] for s in r.json()["data"]["sandboxes"]] == ["default"]
        await sandbox_user(api, "w2")
        fault = {"operationId": "list_chats", "status": 503}
        await api.client.post("/api/dev/faults", json=fault, headers=in_sandbox("w1"))
        await api.client.post(
            "/api/dev/clock", json={"advanceSeconds": 1}, headers=in_sandbox("w3")
        )
        r = await api.client.get("/api/dev/sandboxes")
        names = [s["name"] for s in r.json()["data"]["sandboxes"]]
        assert names == ["default", "w1", "w2", "w3"]

    @pytest.mark.parametrize(
        ("method", "path", "body"),
        [
            ("GET", "/api/dev/nonexistent", None),
            ("POST", "/api/dev/faults", {"operationId": "nope", "status": 503}),
            ("POST", "/api/dev/users", {"name": ""}),
            ("POST", "/api/dev/clock", {"advanceSeconds": -5}),
            ("GET", "/api/dev/faults", None),
            ("GET", "/api/dev/requests", None),
            ("GET", "/api/dev/clock", None),
            ("POST", "/api/dev/reset", None),
            ("DELETE", "/api/dev/faults", None),
        ],
    )
    async def test_failing_and_reading_calls_create_no_sandbox(
        self, api: Api, method: str, path: str, body: object
    ) -> None:
        await api.client.request(method, path, json=body, headers=in_sandbox("ghost"))
        r = await api.client.get("/api/dev/sandboxes")
        assert [s["name"] for s in r.json()["data"]["sandboxes"]] == ["default"]

    async def test_reads_of_a_sandbox_that_does_not_exist_answer_as_an_empty_one(
        self, api: Api
    ) -> None:
        ghost = in_sandbox("ghost")
        assert (await api.client.get("/api/dev/faults", headers=ghost)).json()["data"] == {
            "faults": []
        }
        r = await api.client.get("/api/dev/requests", headers=ghost)
        assert r.json()["data"] == {"requests": []}

    async def test_removed_sandbox_is_gone_and_its_tokens_refused(self, api: Api) -> None:
        a = await sandbox_user(api, "w1")
        r = await api.client.delete("/api/dev/sandboxes/w1")
        assert r.json() == {"success": True, "data": {"name": "w1"}}
        assert_problem(await a.get("/api/chat"), 401, "UNAUTHORIZED")
        names = [
            s["name"]
            for s in (await api.client.get("/api/dev/sandboxes")).json()["data"]["sandboxes"]
        ]
        assert names == ["default"]

    async def test_a_new_sandbox_of_the_same_name_starts_empty(self, api: Api) -> None:
        a = await sandbox_user(api, "w1")
        await api.client.delete("/api/dev/sandboxes/w1")
        await sandbox_user(api, "w1")
        assert_problem(await a.get("/api/chat"), 401, "UNAUTHORIZED")

    async def test_removing_an_unknown_sandbox_is_404(self, api: Api) -> None:
        assert_problem(await api.client.delete("/api/dev/sandboxes/nope"), 404, "NOT_FOUND")

    async def test_default_cannot_be_removed(self, api: Api) -> None:
        r = await api.client.delete("/api/dev/sandboxes/default")
        assert_problem(r, 400, "VALIDATION_FAILED")


class TestBadInput:
    @pytest.mark.parametrize("name", ["UPPER", "a b", "x" * 41, "dot.ted", ""])
    async def test_header_not_matching_the_pattern_is_400(self, api: Api, name: str) -> None:
        r = await api.client.post("/api/dev/users", json={"name": "a"}, headers=in_sandbox(name))
        assert_problem(r, 400, "VALIDATION_FAILED")
        sandboxes = (await api.client.get("/api/dev/sandboxes")).json()["data"]["sandboxes"]
        assert len(sandboxes) == 1

    async def test_bad_name_in_the_path_is_400(self, api: Api) -> None:
        r = await api.client.delete("/api/dev/sandboxes/Bad_Name")
        assert_problem(r, 400, "VALIDATION_FAILED")


class TestCaps:
    @pytest.fixture(scope="class")
    @classmethod
    def app(cls) -> ChatApp:
        return create_app(Settings(validate_responses=True, max_sandboxes=3, max_faults=2))

    async def test_past_the_cap_a_new_sandbox_is_409_naming_it(self, api: Api) -> None:
        for n in range(3):
            await sandbox_user(api, f"s{n}")
        r = await api.client.post("/api/dev/users", json={"name": "x"}, headers=in_sandbox("s3"))
        assert_problem(r, 409, "SANDBOX_LIMIT", detail="at most 3 sandboxes")
        await sandbox_user(api, "s1", "again")  # an existing one still takes calls
        assert (await api.client.delete("/api/dev/sandboxes/s0")).status_code == 200
        await sandbox_user(api, "s3")

    async def test_past_the_cap_a_new_fault_is_409_naming_it(self, api: Api) -> None:
        fault = {"operationId": "list_chats", "status": 503, "times": 1000}
        for _ in range(2):
            r = await api.client.post("/api/dev/faults", json=fault)
            assert r.status_code == 201
        r = await api.client.post("/api/dev/faults", json=fault)
        assert_problem(r, 409, "FAULT_LIMIT", detail="at most 2 faults")
        assert (await api.client.delete("/api/dev/faults")).json()["data"] == {"cleared": 2}
        assert (await api.client.post("/api/dev/faults", json=fault)).status_code == 201


class TestDevOff:
    @pytest.fixture(scope="class")
    @classmethod
    def app(cls) -> ChatApp:
        return create_app(Settings(validate_responses=True, dev=False))

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("GET", "/api/dev/sandboxes"),
            ("DELETE", "/api/dev/sandboxes/w1"),
            ("GET", "/api/dev/users"),
            ("GET", "/api/dev/faults"),
            ("POST", "/api/dev/sockets/disconnect"),
            ("GET", "/api/dev/requests"),
            ("DELETE", "/api/dev/requests"),
            ("DELETE", "/api/dev/faults"),
        ],
    )
    async def test_every_kit_path_is_404(self, api: Api, method: str, path: str) -> None:
        r = await api.client.request(method, path, headers=in_sandbox("w1"))
        assert_problem(r, 404, "NOT_FOUND")

    @pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
    @pytest.mark.parametrize(
        "path", ["/api/dev", "/api/dev/", "/api/dev/users", "/api/dev/clock", "/api/dev/x/y"]
    )
    async def test_any_method_body_and_header_is_one_404(
        self, api: Api, method: str, path: str
    ) -> None:
        headers = {"X-Chat-Sandbox": "Not A Name!", "Content-Type": "application/json"}
        r = await api.client.request(method, path, content=b'{"name": 5}', headers=headers)
        body = assert_problem(r, 404, "NOT_FOUND")
        assert "Allow" not in r.headers and "name" not in body["detail"]
        oversized = await api.client.request(method, path, content=b"x" * (2 << 20))
        assert_problem(oversized, 404, "NOT_FOUND")

    async def test_served_specs_leave_the_dev_tag_out(self, api: Api) -> None:
        spec = (await api.client.get("/openapi.json")).json()
        assert not [p for p in spec["paths"] if p.startswith("/api/dev")]
        assert "dev" not in [t["name"] for t in spec["tags"]]
        assert "/api/chat" in spec["paths"]

    async def test_fault_creation_is_404(self, api: Api) -> None:
        r = await api.client.post(
            "/api/dev/faults", json={"operationId": "list_chats", "status": 500}
        )
        assert_problem(r, 404, "NOT_FOUND")

    async def test_a_sandbox_token_is_refused(self, app: ChatApp) -> None:
        on, off = create_app(Settings()), app
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=on), base_url="http://t"
        ) as c:
            r = await c.post("/api/dev/users", json={"name": "a"}, headers=in_sandbox("w1"))
            token = r.json()["data"]["token"]
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=off), base_url="http://t"
        ) as c:
            r = await c.get("/api/chat", headers={"Authorization": f"Bearer {token}"})
            assert_problem(r, 401, "UNAUTHORIZED")
