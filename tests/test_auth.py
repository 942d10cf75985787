"""Bearer tokens: every way a token can be wrong is a 401 with `WWW-Authenticate`, and
roles and bans come from the stored user, never from the token."""

from __future__ import annotations

import time

import jwt
import pytest

from conftest import Api, assert_problem
from impl.settings import DEV_JWT_SECRET, Settings
from impl.tokens import issue_token


def forged(claims: dict[str, object], secret: str = DEV_JWT_SECRET, alg: str = "HS256") -> str:
    return jwt.encode(claims, secret, algorithm=alg)


def now() -> int:
    return int(time.time())


async def status_with(api: Api, token: str):  # type: ignore[no-untyped-def]
    return await api.client.get("/api/chat", headers={"Authorization": f"Bearer {token}"})


class TestBearerToken:
    async def test_missing_header_is_401_with_challenge(self, api: Api) -> None:
        r = await api.client.get("/api/chat")
        assert_problem(r, 401, "UNAUTHORIZED")
        assert r.headers["WWW-Authenticate"] == "Bearer"

    async def test_malformed_token_is_401(self, api: Api) -> None:
        r = await status_with(api, "not-a-jwt")
        assert_problem(r, 401, "UNAUTHORIZED")
        assert r.headers["WWW-Authenticate"] == "Bearer"

    async def test_expired_token_is_401(self, api: Api) -> None:
        user = await api.user()
        token = forged({"sub": user.id, "iat": now() - 100, "exp": now() - 10})
        assert_problem(await status_with(api, token), 401, "UNAUTHORIZED", "expired")

    async def test_token_without_exp_is_401(self, api: Api) -> None:
        user = await api.user()
        assert_problem(
            await status_with(api, forged({"sub": user.id, "iat": now()})), 401, "UNAUTHORIZED"
        )

    async def test_wrong_signature_is_401(self, api: Api) -> None:
        user = await api.user()
        token = forged({"sub": user.id, "iat": now(), "exp": now() + 60}, secret="x" * 32)
        assert_problem(await status_with(api, token), 401, "UNAUTHORIZED")

    async def test_alg_none_is_401(self, api: Api) -> None:
        user = await api.user()
        token = jwt.encode(
            {"sub": user.id, "iat": now(), "exp": now() + 60}, None, algorithm="none"
        )
        assert_problem(await status_with(api, token), 401, "UNAUTHORIZED")

    @pytest.mark.parametrize("sub", ["0123456789abcdef01234567", "not-an-id", 42])
    async def test_unknown_or_odd_subject_is_401(self, api: Api, sub: object) -> None:
        token = forged({"sub": sub, "iat": now(), "exp": now() + 60})
        assert_problem(await status_with(api, token), 401, "UNAUTHORIZED")

    async def test_banned_user_is_401_at_once(self, api: Api) -> None:
        user = await api.user()
        assert (await user.get("/api/chat")).status_code == 200
        await api.client.patch(f"/api/dev/users/{user.id}", json={"status": "banned"})
        r = await user.get("/api/chat")
        assert_problem(r, 401, "UNAUTHORIZED", "banned")
        assert r.headers["WWW-Authenticate"] == "Bearer"

    async def test_role_comes_from_the_stored_user(self, api: Api) -> None:
        user = await api.user()
        admin = await api.user("admin", "admin")
        chat_id = await admin.group_chat(user, await api.user("x"))
        token = forged({"sub": user.id, "iat": now(), "exp": now() + 60, "role": "admin"})
        r = await api.client.post(
            f"/api/chat/{chat_id}/messages",
            json={"content": "fake notice", "type": "system"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert_problem(r, 403, "FORBIDDEN", "system messages")
        await api.client.patch(f"/api/dev/users/{user.id}", json={"role": "admin"})
        again = await user.send(chat_id, "real notice", type="system")
        assert again.status_code == 201


def test_issued_tokens_carry_sub_iat_and_exp() -> None:
    settings = Settings()
    claims = jwt.decode(
        issue_token(settings, "0123456789abcdef01234567"), DEV_JWT_SECRET, algorithms=["HS256"]
    )
    assert claims["sub"] == "0123456789abcdef01234567"
    assert claims["exp"] - claims["iat"] == settings.token_ttl_seconds
