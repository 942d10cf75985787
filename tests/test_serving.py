"""The edge of a served app (impl.serve, body_limits and early_auth): slow
clients are cut off within the configured bounds, request heads are bounded in size
whichever HTTP parser runs, and anonymous uploads are refused before their bodies are
read. Each test runs the real server on a socket of its own, with 1 s bounds so that
generous upper limits still prove the bound on a loaded machine."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
import httpx
import pytest
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from benchmarks.soak.services import rss_kib
from conftest import assert_problem, empty_server
from impl.app import ChatApp, create_app
from impl.launcher import Launched
from impl.settings import MIB, Settings
from impl.tokens import issue_token
from impl.web.context import bind_services, unbind_services
from inprocess import Served, served

BOUND = 1  # seconds, the configured header and body timeouts
WITHIN = 8.0  # how long a test waits for the bound to show, load included
UNKNOWN_CHAT = "0123456789abcdef01234567"


BOUNDED = Settings(header_timeout_seconds=BOUND, body_timeout_seconds=BOUND)


@pytest.fixture(scope="module")
def bounded_app() -> ChatApp:
    return create_app(BOUNDED)


@pytest.fixture
async def server(bounded_app: ChatApp) -> AsyncIterator[Served]:
    async with served(bounded_app) as s:
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


HEAD_CAP = Settings().max_header_bytes
LINES_CAP = Settings().max_header_count
PARSERS = {"httptools": HttpToolsProtocol, "h11": H11Protocol}


def request_head(size: int, lines: int = 2) -> bytes:
    """`GET /` with `lines` header lines (`Host`, then fillers, the last one padded): a
    head of exactly `size` bytes, request line and closing blank line included."""
    start = b"GET / HTTP/1.1\r\n"
    fields = [b"Host: t", *(b"X-Fill-%d: " % n for n in range(1, lines))]
    unpadded = len(start) + sum(len(f) + 2 for f in fields) + 2
    assert size >= unpadded, "a head that small cannot hold those lines"
    fields[-1] += b"a" * (size - unpadded)
    return start + b"".join(f + b"\r\n" for f in fields) + b"\r\n"


@pytest.fixture(params=list(PARSERS))
async def any_parser(request: pytest.FixtureRequest, bounded_app: ChatApp) -> AsyncIterator[Served]:
    """The bounded app served with each of uvicorn's HTTP parsers in turn."""
    async with served(bounded_app, PARSERS[request.param]) as s:
        yield s


Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@asynccontextmanager
async def connection(server: Served) -> AsyncIterator[Stream]:
    """A raw connection to the server, closed whatever the test found."""
    reader, writer = await connect(server)
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def answer_to(server: Served, head: bytes) -> RawResponse:
    async with connection(server) as (reader, writer):
        writer.write(head)
        return await asyncio.wait_for(read_response(reader), WITHIN)


class TestHeadLimits:
    async def test_a_head_of_exactly_the_byte_cap_is_served(self, any_parser: Served) -> None:
        assert (await answer_to(any_parser, request_head(HEAD_CAP))).status == 200

    @pytest.mark.parametrize("ending", ["whole", "unfinished"])
    async def test_a_head_over_the_byte_cap_gets_431_and_a_close(
        self, any_parser: Served, ending: str
    ) -> None:
        """An unfinished head is refused as soon as it is too large, not when it ends."""
        head = request_head(HEAD_CAP + 1 if ending == "whole" else 2 * HEAD_CAP)
        async with connection(any_parser) as (reader, writer):
            writer.write(head[: HEAD_CAP + 1])
            response = await asyncio.wait_for(read_response(reader), WITHIN)
            assert response.status == 431
            assert response.problem()["code"] == "HEADERS_TOO_LARGE"
            assert response.headers["connection"] == "close"
            assert await asyncio.wait_for(reader.read(), WITHIN) == b""

    async def test_the_most_header_lines_are_served(self, any_parser: Served) -> None:
        assert (await answer_to(any_parser, request_head(4096, LINES_CAP))).status == 200

    async def test_one_header_line_more_gets_431(self, any_parser: Served) -> None:
        response = await answer_to(any_parser, request_head(4096, LINES_CAP + 1))
        assert response.status == 431
        assert response.problem()["code"] == "HEADERS_TOO_LARGE"

    async def test_each_request_on_a_connection_has_the_whole_allowance(
        self, any_parser: Served
    ) -> None:
        async with connection(any_parser) as (reader, writer):
            for _ in range(3):
                writer.write(request_head(HEAD_CAP))
                assert (await asyncio.wait_for(read_response(reader), WITHIN)).status == 200
            writer.write(request_head(HEAD_CAP) * 2)  # pipelined
            for _ in range(2):
                assert (await asyncio.wait_for(read_response(reader), WITHIN)).status == 200

    async def test_a_body_still_arriving_after_an_early_answer_is_not_taken_for_a_head(
        self, any_parser: Served
    ) -> None:
        """An anonymous upload is answered 401 before its body is read; the body that
        follows is the body's, and the connection then serves the next request."""
        size = 4 * HEAD_CAP
        async with connection(any_parser) as (reader, writer):
            writer.write(upload_head(None, f"Content-Length: {size}\r\n".encode()))
            assert (await asyncio.wait_for(read_response(reader), WITHIN)).status == 401
            writer.write(b"\n" * size + request_head(HEAD_CAP))
            assert (await asyncio.wait_for(read_response(reader), WITHIN)).status == 200

    async def test_websocket_frames_after_the_upgrade_are_not_counted_as_a_head(
        self, any_parser: Served
    ) -> None:
        url = f"ws://{any_parser.host}:{any_parser.port}/socket.io/?EIO=4&transport=websocket"
        async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
            assert (await asyncio.wait_for(ws.receive_str(), WITHIN)).startswith("0")
            for _ in range(4):  # Engine.IO pongs padded to half the cap
                await ws.send_str("3" + "x" * (HEAD_CAP // 2))
            await ws.send_str("40")  # a Socket.IO connect without a token: refused, not cut off
            assert (await asyncio.wait_for(ws.receive_str(), WITHIN)).startswith("44")


class TestSettledHeap:
    def test_a_started_server_takes_its_start_up_objects_out_of_the_collectors_walks(
        self,
    ) -> None:
        """`serve` freezes what start-up built (gc.freeze), so full collections do not walk
        the modules, specs and app again and again; it says so at debug level."""
        with Launched(settings={"LOG_LEVEL": "debug"}) as server:
            said = [line for line in server.lines if "heap settled:" in line]  # before Docs:
        assert len(said) == 1, server.lines
        frozen = int(said[0].split("heap settled:")[1].split()[0])
        assert frozen > 50_000, said  # the modules, Connexion and the parsed spec


class TestHeadMemory:
    def test_a_client_streaming_header_lines_does_not_grow_the_server(self) -> None:
        """50 MiB of 1 KiB header lines on one connection: the server refuses the head once
        it passes the cap and reads no further, so its memory stays where it was."""
        line = b"X-Line: " + b"a" * 1014 + b"\r\n"
        chunk = line * 1024
        sent = 0
        with Launched() as server:
            host, port = server.url.removeprefix("http://").split(":")
            baseline = rss_kib(server.pid) or 0
            peak = baseline
            with socket.create_connection((host, int(port)), timeout=WITHIN) as client:
                try:
                    client.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n")
                    while sent < 50 * MIB:
                        client.sendall(chunk)
                        sent += len(chunk)
                        peak = max(peak, rss_kib(server.pid) or 0)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                time.sleep(0.5)  # what arrived last is parsed
                peak = max(peak, rss_kib(server.pid) or 0)
        grown = (peak - baseline) / 1024
        assert grown < 8, f"the server grew by {grown:.0f} MiB while {sent // MIB} MiB were sent"
        assert sent < 8 * MIB, f"the server read {sent // MIB} MiB of one request head"


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
