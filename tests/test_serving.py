"""The edge of a served app (impl.web.serving, body_limits and early_auth): slow
clients are cut off within the configured bounds, and anonymous uploads are refused before
their bodies are read. Each test runs the real server on a socket of its own, with 1 s
bounds so that generous upper limits still prove the bound on a loaded machine."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest

from conftest import assert_problem, empty_server
from impl.app import ChatApp, create_app
from impl.auth import issue_token
from impl.services import bind_services, unbind_services
from impl.settings import Settings
from impl.web.serving import bind, server_for

BOUND = 1  # seconds, the configured header and body timeouts
WITHIN = 8.0  # how long a test waits for the bound to show, load included
UNKNOWN_CHAT = "0123456789abcdef01234567"


@dataclass
class Served:
    app: ChatApp
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@asynccontextmanager
async def served(settings: Settings, shared: ChatApp | None = None) -> AsyncIterator[Served]:
    """A real server for `settings` on a free port: of the `shared` app (built with those
    settings) when given, else of an app of its own, closed afterwards."""
    app = shared or create_app(settings)
    listener = bind("127.0.0.1", 0)
    server = server_for(app, settings, log_level="warning")
    task = asyncio.create_task(server.serve(sockets=[listener]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield Served(app, "127.0.0.1", listener.getsockname()[1])
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)
        listener.close()
        if shared is None:
            app.close()


BOUNDED = Settings(header_timeout_seconds=BOUND, body_timeout_seconds=BOUND)


@pytest.fixture(scope="module")
def bounded_app() -> ChatApp:
    return create_app(BOUNDED)


@pytest.fixture
async def server(bounded_app: ChatApp) -> AsyncIterator[Served]:
    async with served(BOUNDED, bounded_app) as s:
        async with httpx.AsyncClient(base_url=s.url) as client:
            await empty_server(client)
        yield s


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def problem(self) -> dict[str, object]:
        assert self.headers["content-type"] == "application/problem+json"
        document: dict[str, object] = json.loads(self.body)
        return document


async def read_response(reader: asyncio.StreamReader) -> RawResponse:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").strip().split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return RawResponse(int(status_line.split()[1]), headers, body)


async def connect(server: Served) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(server.host, server.port)


class TestHeaderDeadline:
    async def test_unfinished_headers_get_408_and_the_connection_is_closed(
        self, server: Served
    ) -> None:
        reader, writer = await connect(server)
        writer.write(b"GET /api/chat HTTP/1.1\r\nHost: t\r\nX-Slow: ")
        started = time.monotonic()
        response = await asyncio.wait_for(read_response(reader), WITHIN)
        assert await asyncio.wait_for(reader.read(), WITHIN) == b""
        assert time.monotonic() - started < WITHIN
        assert response.status == 408
        assert response.problem()["code"] == "REQUEST_TIMEOUT"
        writer.close()

    async def test_a_connection_that_sends_nothing_is_closed(self, server: Served) -> None:
        reader, writer = await connect(server)
        assert await asyncio.wait_for(reader.read(), WITHIN) == b""
        writer.close()

    async def test_the_deadline_restarts_for_each_request_on_a_connection(
        self, server: Served
    ) -> None:
        async with httpx.AsyncClient(base_url=server.url) as client:
            for _ in range(2):
                response = await client.get("/openapi.json")
                assert response.status_code == 200


class TestBodyDeadline:
    @pytest.mark.parametrize(
        "framing",
        [b"Content-Length: 500\r\n", b"Transfer-Encoding: chunked\r\n"],
        ids=["declared-length", "chunked"],
    )
    async def test_a_stalled_body_gets_408_and_a_close(
        self, server: Served, framing: bytes
    ) -> None:
        reader, writer = await connect(server)
        first = b'{"name": "slo'
        if b"chunked" in framing:
            first = b"%x\r\n%s\r\n" % (len(first), first)
        writer.write(
            b"POST /api/dev/users HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            + framing
            + b"\r\n"
            + first
        )
        started = time.monotonic()
        response = await asyncio.wait_for(read_response(reader), WITHIN)
        assert time.monotonic() - started < WITHIN
        assert response.status == 408
        assert response.problem()["code"] == "REQUEST_TIMEOUT"
        assert response.headers["connection"] == "close"
        assert await asyncio.wait_for(reader.read(), WITHIN) == b""
        writer.close()

    async def test_a_body_that_keeps_coming_is_not_cut_off(self, server: Served) -> None:
        async def paced() -> AsyncIterator[bytes]:
            for part in (b'{"name": ', b'"steady"}'):
                yield part
                await asyncio.sleep(BOUND / 4)

        async with httpx.AsyncClient(base_url=server.url) as client:
            response = await client.post(
                "/api/dev/users", content=paced(), headers={"Content-Type": "application/json"}
            )
        assert response.status_code == 201


def upload_head(authorization: bytes | None, framing: bytes) -> bytes:
    head = (
        f"POST /api/chat/{UNKNOWN_CHAT}/messages/file HTTP/1.1\r\nHost: t\r\n".encode()
        + b"Content-Type: multipart/form-data; boundary=b\r\n"
        + framing
    )
    if authorization is not None:
        head += b"Authorization: " + authorization + b"\r\n"
    return head + b"\r\n"


def bad_authorizations(settings: Settings) -> dict[str, bytes | None]:
    expired = issue_token(settings, UNKNOWN_CHAT, ttl_seconds=-60)
    forged = issue_token(
        Settings(jwt_secret="another-secret-that-is-long-enough-for-hs256"), UNKNOWN_CHAT
    )
    return {
        "missing": None,
        "basic": b"Basic dXNlcjpwdw==",
        "empty-bearer": b"Bearer ",
        "garbage": b"Bearer not-a-token",
        "expired": f"Bearer {expired}".encode(),
        "wrong-signature": f"Bearer {forged}".encode(),
    }


class TestAnonymousUploads:
    @pytest.mark.parametrize("framing", ["chunked", "declared-length"])
    @pytest.mark.parametrize("authorization", list(bad_authorizations(Settings())))
    async def test_get_401_before_the_body_is_sent(
        self, server: Served, framing: str, authorization: str
    ) -> None:
        """Only the head and 1 KiB of a 10 MiB upload are sent: the answer must come anyway."""
        header = bad_authorizations(server.app.services.settings)[authorization]
        size = 10 * 1024 * 1024
        if framing == "chunked":
            head = upload_head(header, b"Transfer-Encoding: chunked\r\n")
            part = b"400\r\n" + b"x" * 1024 + b"\r\n"
        else:
            head = upload_head(header, f"Content-Length: {size}\r\n".encode())
            part = b"x" * 1024
        reader, writer = await connect(server)
        writer.write(head + part)
        response = await asyncio.wait_for(read_response(reader), WITHIN)
        writer.close()
        assert response.status == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.problem()["code"] == "UNAUTHORIZED"

    @pytest.mark.parametrize("authorization", list(bad_authorizations(Settings())))
    async def test_the_refusal_is_the_one_connexion_security_gives(
        self, bounded_app: ChatApp, authorization: str
    ) -> None:
        app = bounded_app
        header = bad_authorizations(app.services.settings)[authorization]
        headers = {} if header is None else {"Authorization": header.decode()}
        token = bind_services(app.services)
        try:
            answers = []
            for asgi in (app, app.connexion_app):
                transport = httpx.ASGITransport(app=asgi)
                async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                    answers.append(await client.get("/api/chat", headers=headers))
        finally:
            unbind_services(token)
        edge, connexion = answers
        assert_problem(edge, 401, "UNAUTHORIZED")
        assert edge.json() == connexion.json()
        assert edge.headers["www-authenticate"] == connexion.headers["www-authenticate"]
        assert edge.headers["content-type"] == connexion.headers["content-type"]

    async def test_a_valid_token_still_reaches_the_handler(self, server: Served) -> None:
        async with httpx.AsyncClient(base_url=server.url) as client:
            made = (await client.post("/api/dev/users", json={"name": "ok"})).json()["data"]
            response = await client.get(
                "/api/chat", headers={"Authorization": f"Bearer {made['token']}"}
            )
        assert response.status_code == 200
