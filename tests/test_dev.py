"""The dev endpoints: users with tokens, role and ban changes, the clock, reset; and CORS."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from conftest import Api, assert_problem


class TestDevUsers:
    async def test_created_user_gets_a_working_token(self, api: Api) -> None:
        r = await api.client.post(
            "/api/dev/users", json={"name": "Zoe", "role": "support", "email": "z@example.com"}
        )
        assert r.status_code == 201
        data = r.json()["data"]
        assert data["user"]["name"] == "Zoe"
        assert (data["user"]["role"], data["user"]["status"]) == ("support", "active")
        me = await api.client.get("/api/chat", headers={"Authorization": f"Bearer {data['token']}"})
        assert me.status_code == 200

    async def test_blank_name_is_400(self, api: Api) -> None:
        r = await api.client.post("/api/dev/users", json={"name": "   "})
        assert_problem(r, 400, "VALIDATION_FAILED")

    async def test_update_changes_role(self, api: Api) -> None:
        user = await api.user()
        r = await api.client.patch(f"/api/dev/users/{user.id}", json={"role": "admin"})
        assert r.json()["data"]["user"]["role"] == "admin"

    async def test_update_of_unknown_user_is_404(self, api: Api) -> None:
        r = await api.client.patch(
            "/api/dev/users/0123456789abcdef01234567", json={"role": "admin"}
        )
        assert_problem(r, 404, "NOT_FOUND")

    async def test_empty_update_is_400(self, api: Api) -> None:
        user = await api.user()
        r = await api.client.patch(f"/api/dev/users/{user.id}", json={})
        assert_problem(r, 400, "VALIDATION_FAILED")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class TestDevUserList:
    async def test_lists_every_user_oldest_first_with_a_working_token(self, api: Api) -> None:
        first, second = await api.user("first"), await api.user("second", "admin")
        r = await api.client.get("/api/dev/users")
        assert r.status_code == 200
        users = r.json()["data"]["users"]
        assert [(u["user"]["_id"], u["user"]["name"]) for u in users] == [
            (first.id, "first"),
            (second.id, "second"),
        ]
        assert users[1]["user"]["role"] == "admin" and users[1]["user"]["status"] == "active"
        for entry in users:
            me = await api.client.get("/api/chat", headers=bearer(entry["token"]))
            assert me.status_code == 200, entry["user"]["name"]

    async def test_limit_keeps_the_oldest(self, api: Api) -> None:
        oldest = await api.user("oldest")
        await api.user("newer")
        r = await api.client.get("/api/dev/users", params={"limit": 1})
        assert [u["user"]["_id"] for u in r.json()["data"]["users"]] == [oldest.id]

    async def test_an_empty_world_lists_no_one(self, api: Api) -> None:
        r = await api.client.get("/api/dev/users")
        assert r.json() == {"success": True, "data": {"users": []}}

    async def test_a_banned_user_is_listed_and_its_token_refused(self, api: Api) -> None:
        user = await api.user("soon banned")
        await api.client.patch(f"/api/dev/users/{user.id}", json={"status": "banned"})
        (entry,) = (await api.client.get("/api/dev/users")).json()["data"]["users"]
        assert entry["user"]["status"] == "banned"
        r = await api.client.get("/api/chat", headers=bearer(entry["token"]))
        assert_problem(r, 401, "UNAUTHORIZED")

    async def test_a_sandbox_lists_only_its_users_with_tokens_of_it(self, api: Api) -> None:
        outside = await api.user("outside")
        created = await api.client.post(
            "/api/dev/users", json={"name": "inside"}, headers={"X-Chat-Sandbox": "s1"}
        )
        inside_id = created.json()["data"]["user"]["_id"]
        r = await api.client.get("/api/dev/users", headers={"X-Chat-Sandbox": "s1"})
        (entry,) = r.json()["data"]["users"]
        assert entry["user"]["_id"] == inside_id
        default = (await api.client.get("/api/dev/users")).json()["data"]["users"]
        assert [u["user"]["_id"] for u in default] == [outside.id]
        # the user exists in s1 only: a token without s1's claim would be a 401
        sees = await api.client.get("/api/chat", headers=bearer(entry["token"]))
        assert sees.status_code == 200

    @pytest.mark.parametrize("limit", ["0", "1001", "-1", "many", "1.5"])
    async def test_a_bad_limit_is_400(self, api: Api, limit: str) -> None:
        r = await api.client.get("/api/dev/users", params={"limit": limit})
        assert_problem(r, 400, "VALIDATION_FAILED")

    async def test_a_bad_sandbox_name_is_400(self, api: Api) -> None:
        r = await api.client.get("/api/dev/users", headers={"X-Chat-Sandbox": "Not Valid"})
        assert_problem(r, 400, "VALIDATION_FAILED")


class TestDevClock:
    async def test_advancing_moves_now_and_created_at(self, api: Api) -> None:
        a, b = await api.user("a"), await api.user("b")
        chat_id = await a.direct_chat(b)
        before = await a.sent(chat_id)
        r = await api.client.post("/api/dev/clock", json={"advanceSeconds": 3600})
        now = datetime.fromisoformat(r.json()["data"]["now"])
        after = await a.sent(chat_id)
        created = datetime.fromisoformat(after["createdAt"])
        assert (created - datetime.fromisoformat(before["createdAt"])).total_seconds() >= 3600
        assert abs((created - now).total_seconds()) < 5

    async def test_reading_the_clock_gives_its_time_and_moves_nothing(self, api: Api) -> None:
        before = await self.read(api)
        moved = await api.client.post("/api/dev/clock", json={"advanceSeconds": 7200})
        read = await self.read(api)
        assert (read - datetime.fromisoformat(moved.json()["data"]["now"])).total_seconds() >= 0
        assert 7200 <= (read - before).total_seconds() < 7260
        assert 0 <= (await self.read(api) - read).total_seconds() < 60

    async def test_a_sandbox_reads_its_own_clock(self, api: Api) -> None:
        sandbox = {"X-Chat-Sandbox": "clock-reader"}
        default_before, own_before = await self.read(api), await self.read(api, sandbox)
        await api.client.post("/api/dev/clock", json={"advanceSeconds": 86400}, headers=sandbox)
        own, default = await self.read(api, sandbox), await self.read(api)
        assert 86400 <= (own - own_before).total_seconds() < 86460
        assert 0 <= (default - default_before).total_seconds() < 60

    @staticmethod
    async def read(api: Api, headers: dict[str, str] | None = None) -> datetime:
        r = await api.client.get("/api/dev/clock", headers=headers)
        assert r.status_code == 200, r.text
        return datetime.fromisoformat(r.json()["data"]["now"])

    async def test_negative_advance_is_400(self, api: Api) -> None:
        r = await api.client.post("/api/dev/clock", json={"advanceSeconds": -1})
        assert_problem(r, 400, "VALIDATION_FAILED")


async def test_reset_empties_everything(api: Api) -> None:
    a, b = await api.user("a"), await api.user("b")
    await a.direct_chat(b)
    r = await api.client.post("/api/dev/reset")
    assert r.json() == {"success": True, "data": {}}
    assert_problem(await a.get("/api/chat"), 401, "UNAUTHORIZED")


async def test_reset_returns_the_clock_to_real_time(api: Api) -> None:
    """A reset gives a fresh world, clock included: tests assert durations from there."""
    moved = await api.client.post("/api/dev/clock", json={"advanceSeconds": 86400})
    assert (datetime.fromisoformat(moved.json()["data"]["now"]) - datetime.now(UTC)).days >= 0
    assert (await api.client.post("/api/dev/reset")).status_code == 200
    r = await api.client.get("/api/dev/clock")
    now = datetime.fromisoformat(r.json()["data"]["now"])
    assert abs((now - datetime.now(UTC)).total_seconds()) < 60


class TestClockBounds:
    async def test_an_advance_past_what_the_server_can_represent_is_400(self, api: Api) -> None:
        year = {"advanceSeconds": 315360000}  # ten years, the most one call may move
        before = (await api.client.get("/api/dev/clock")).json()["data"]["now"]
        moved = 0
        while True:
            r = await api.client.post("/api/dev/clock", json=year)
            if r.status_code != 200:
                break
            moved += 1
            assert moved < 1000, "the clock never stopped"
        assert_problem(r, 400, "VALIDATION_FAILED", detail="cannot pass 9998-12-31")
        assert 790 <= moved <= 800
        a, b = await api.user("a"), await api.user("b")
        chat_id = await a.direct_chat(b)
        assert (await a.sent(chat_id, "still works"))["content"] == "still works"
        assert (await a.get(f"/api/chat/{chat_id}/messages")).status_code == 200
        assert (await api.client.post("/api/dev/reset")).status_code == 200
        after = (await api.client.get("/api/dev/clock")).json()["data"]["now"]
        assert after[:4] == before[:4]


class TestCors:
    async def test_local_origin_is_allowed_by_default(self, api: Api) -> None:
        r = await api.client.options(
            "/api/chat",
            headers={"Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST"},
        )
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == "http://localhost:5173"

    async def test_foreign_origin_is_not(self, api: Api) -> None:
        user = await api.user()
        r = await user.get("/api/chat", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in r.headers

    async def test_rate_limit_headers_are_exposed(self, api: Api) -> None:
        user = await api.user()
        r = await user.get("/api/chat", headers={"Origin": "http://127.0.0.1:3000"})
        exposed = r.headers["access-control-expose-headers"]
        assert "X-RateLimit-Remaining" in exposed and "Retry-After" in exposed
