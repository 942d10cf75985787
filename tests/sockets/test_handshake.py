"""Socket.IO handshake against a real uvicorn server and real python-socketio clients:
who may connect (a valid token of an active user), how a refusal reads, what a ban does
to open sockets, and the transports.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import jwt

from conftest import Api
from impl.app import ChatApp, create_app
from impl.settings import Settings
from impl.tokens import issue_token
from sockets.support import UNKNOWN_ID, Sockets, direct_chat, free_port, serving, set_status


def b64url(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def alg_none_token(user_id: str) -> str:
    now = int(time.time())
    header = b64url({"alg": "none", "typ": "JWT"})
    claims = b64url({"sub": user_id, "iat": now, "exp": now + 600})
    return f"{header}.{claims}."


class TestHandshake:
    async def test_connect_without_token_is_refused_as_unauthorized(self, sockets: Sockets) -> None:
        for auth in (None, {}, {"token": ""}, {"token": 42}, "just-a-string"):
            error = await sockets.refused(auth)
            assert error["data"]["code"] == "UNAUTHORIZED", auth

    async def test_connect_with_malformed_token_is_refused(self, sockets: Sockets) -> None:
        error = await sockets.refused({"token": "not.a.jwt"})
        assert error["data"]["code"] == "UNAUTHORIZED"

    async def test_connect_with_wrongly_signed_token_is_refused(
        self, api: Api, sockets: Sockets
    ) -> None:
        user = await api.user("u")
        now = int(time.time())
        claims = {"sub": user.id, "iat": now, "exp": now + 600}
        forged = jwt.encode(
            claims, "another-secret-that-is-long-enough-for-hs256", algorithm="HS256"
        )
        error = await sockets.refused({"token": forged})
        assert error["data"]["code"] == "UNAUTHORIZED"

    async def test_connect_with_expired_token_is_refused(
        self, api: Api, settings: Settings, sockets: Sockets
    ) -> None:
        user = await api.user("u")
        expired = issue_token(settings, user.id, ttl_seconds=-60)
        error = await sockets.refused({"token": expired})
        assert error["data"] == {"code": "UNAUTHORIZED", "detail": "token has expired"}

    async def test_connect_with_alg_none_token_is_refused(self, api: Api, sockets: Sockets) -> None:
        user = await api.user("u")
        error = await sockets.refused({"token": alg_none_token(user.id)})
        assert error["data"]["code"] == "UNAUTHORIZED"

    async def test_connect_for_unknown_user_is_refused(
        self, settings: Settings, sockets: Sockets
    ) -> None:
        error = await sockets.refused({"token": issue_token(settings, UNKNOWN_ID)})
        assert error["data"]["code"] == "UNAUTHORIZED"

    async def test_connect_for_banned_user_is_refused(self, api: Api, sockets: Sockets) -> None:
        user = await api.user("u")
        await set_status(api, user, "banned")
        error = await sockets.refused({"token": user.token})
        assert error["data"] == {"code": "UNAUTHORIZED", "detail": "this user is banned"}

    async def test_banning_disconnects_every_open_socket_of_that_user_at_once(
        self, api: Api, sockets: Sockets
    ) -> None:
        banned, bystander = await api.user("banned"), await api.user("bystander")
        first, second = await sockets.open(banned), await sockets.open(banned)
        other = await sockets.open(bystander)
        await set_status(api, banned, "banned")
        await asyncio.wait_for(first.disconnected.wait(), 2)
        await asyncio.wait_for(second.disconnected.wait(), 2)
        await other.barrier()
        assert not other.disconnected.is_set()

    async def test_connect_while_the_store_is_unreachable_is_refused_as_store_unavailable(
        self,
    ) -> None:
        settings = Settings(
            mongo_uri=f"mongodb://127.0.0.1:{free_port()}/",
            mongo_timeout_ms=300,
            jwt_secret="a-test-secret-that-is-long-enough-for-hs256",
        )
        app = create_app(settings)
        try:
            async with serving(app) as url:
                opened = Sockets(url)
                error = await opened.refused({"token": issue_token(settings, UNKNOWN_ID)})
                await opened.close_all()
        finally:
            app.close()
        assert error["data"]["code"] == "STORE_UNAVAILABLE"

    async def test_long_polling_without_websocket_connects_and_gets_events(
        self, app: ChatApp, api: Api, sockets: Sockets
    ) -> None:
        a, b, chat_id = await direct_chat(api)
        polling = await sockets.open(b, transports=["polling"])
        await polling.join(chat_id)
        sent = await a.sent(chat_id, "over polling")
        got = await polling.next("new-message")
        assert got["message"]["_id"] == sent["_id"]
        # python-engineio answers a long-poll the client abandoned only at the ping
        # timeout (tens of seconds), so this connection is closed from the server's side.
        await app.sio.eio.disconnect(app.sio.manager.eio_sid_from_sid(polling.sid, "/"))
        await asyncio.wait_for(polling.disconnected.wait(), 2)
