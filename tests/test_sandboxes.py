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
    async def test_sandboxes_are_created_on_first_use_and_listed(self, api: Api) -> None:
        r = await api.client.get("/api/dev/sandboxes")
        assert [s["name"] for s in r.json()["data"]["sandboxes"]] == ["default"]
        await sandbox_user(api, "w2")
        await api.client.get("/api/dev/faults", headers=in_sandbox("w1"))
        r = await api.client.get("/api/dev/sandboxes")
        assert [s["name"] for s in r.json()["data"]["sandboxes"]] == ["default", "w1", "w2"]

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
