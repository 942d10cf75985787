"""Browser origins: REST and Socket.IO follow one rule (CONTRACT.md, Running). An allowed
origin gets its origin echoed and `Access-Control-Allow-Credentials: true` on both; a
foreign one gets no `Access-Control-*` header on either, and its socket handshake is
refused with one WARNING line and an answer every client reads as a refusal."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator

import aiohttp
import httpx
import pytest
import socketio

from conftest import empty_server
from impl.app import ChatApp, create_app
from impl.settings import Settings
from inprocess import served

LOCAL = "http://localhost:5173"
FOREIGN = "https://evil.example"
CONFIGURED = "https://app.example"
HANDSHAKE = "/socket.io/?EIO=4&transport=polling"


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


@pytest.fixture(scope="module")
def apps() -> Iterator[dict[Settings, ChatApp]]:
    """The module's apps, one per settings a test asks for."""
    built: dict[Settings, ChatApp] = {}
    yield built
    for app in built.values():
        app.close()


@pytest.fixture
async def asgi_client(
    request: pytest.FixtureRequest, apps: dict[Settings, ChatApp]
) -> AsyncIterator[httpx.AsyncClient]:
    settings = getattr(request, "param", Settings())
    if settings not in apps:
        apps[settings] = create_app(settings)
    app = apps[settings]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        await empty_server(client)
        made = (await client.post("/api/dev/users", json={"name": "cors"})).json()["data"]
        client.headers["Authorization"] = f"Bearer {made['token']}"
        yield client
    # An accepted handshake starts python-engineio's client monitor in this test's loop.
    if app.sio.eio.service_task_handle is not None:
        await app.sio.shutdown()


async def rest(client: httpx.AsyncClient, origin: str) -> httpx.Response:
    return await client.get("/api/chat", headers={"Origin": origin})


async def preflight(client: httpx.AsyncClient, origin: str) -> httpx.Response:
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    return await client.options("/api/chat", headers=headers)


async def handshake(client: httpx.AsyncClient, origin: str) -> httpx.Response:
    return await client.get(HANDSHAKE, headers={"Origin": origin})


ASKS = [rest, preflight, handshake]


class TestAllowedOrigin:
    @pytest.mark.parametrize("ask", ASKS)
    async def test_gets_its_origin_and_credentials(
        self, asgi_client: httpx.AsyncClient, ask
    ) -> None:  # type: ignore[no-untyped-def]
        response = await ask(asgi_client, LOCAL)
        assert response.status_code == 200, response.text
        granted = cors_headers(response)
        assert granted["access-control-allow-origin"] == LOCAL
        assert granted["access-control-allow-credentials"] == "true"


class TestForeignOrigin:
    @pytest.mark.parametrize("ask", ASKS)
    async def test_gets_no_cors_grant(self, asgi_client: httpx.AsyncClient, ask) -> None:  # type: ignore[no-untyped-def]
        response = await ask(asgi_client, FOREIGN)
        assert cors_headers(response) == {}
        assert "Origin" in response.headers["vary"]

    async def test_socket_handshake_is_refused_with_a_declared_length(
        self, asgi_client: httpx.AsyncClient
    ) -> None:
        response = await handshake(asgi_client, FOREIGN)
        assert response.status_code == 403
        assert response.headers["content-length"] == str(len(response.content))
        assert "transfer-encoding" not in response.headers


@pytest.mark.parametrize("asgi_client", [Settings(cors_origins=(CONFIGURED,))], indirect=True)
class TestConfiguredOrigins:
    @pytest.mark.parametrize("ask", ASKS)
    async def test_a_listed_origin_is_allowed(self, asgi_client: httpx.AsyncClient, ask) -> None:  # type: ignore[no-untyped-def]
        response = await ask(asgi_client, CONFIGURED)
        assert cors_headers(response)["access-control-allow-origin"] == CONFIGURED

    @pytest.mark.parametrize("ask", ASKS)
    async def test_the_local_default_is_replaced(self, asgi_client: httpx.AsyncClient, ask) -> None:  # type: ignore[no-untyped-def]
        response = await ask(asgi_client, LOCAL)
        assert cors_headers(response) == {}


class TestSocketRefusalOverTheNetwork:
    """python-socketio's client against a real server: every refused handshake raises its
    `ConnectionError` (a refusal), never another error; the server logs each once, at WARNING."""

    ATTEMPTS = 15

    @pytest.mark.parametrize("transports", [None, ["polling"], ["websocket"]])
    async def test_client_reports_a_refusal_and_the_server_one_warning(
        self, caplog: pytest.LogCaptureFixture, transports: list[str] | None
    ) -> None:
        app = create_app(Settings())
        async with served(app) as server:
            async with httpx.AsyncClient(base_url=server.url) as client:
                made = (await client.post("/api/dev/users", json={"name": "x"})).json()["data"]
            caplog.clear()
            # A refused websocket-only client leaves its own HTTP session open: hand it one
            # to close. Polling clients keep their own, since how they close it on a
            # refusal is what makes a badly delimited answer fail them.
            websocket_http = aiohttp.ClientSession() if transports == ["websocket"] else None
            with caplog.at_level(logging.INFO):
                for _ in range(self.ATTEMPTS):
                    sio = socketio.AsyncClient(reconnection=False, http_session=websocket_http)
                    with pytest.raises(socketio.exceptions.ConnectionError):
                        await sio.connect(
                            server.url,
                            auth={"token": made["token"]},
                            headers={"Origin": FOREIGN},
                            transports=transports,
                            wait_timeout=5,
                        )
                    await sio.shutdown()
            if websocket_http is not None:
                await websocket_http.close()
        refusals = [r for r in caplog.records if FOREIGN in r.getMessage()]
        assert len(refusals) == self.ATTEMPTS
        assert {r.levelno for r in refusals} == {logging.WARNING}
        assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
