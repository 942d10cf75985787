"""Faults and operations: an unreachable store, refusing to start unsafely, graceful
shutdown, and the per-request log line."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import socketio

from conftest import Api, assert_problem
from impl.app import ChatApp, create_app
from impl.launcher import Launched, server_env
from impl.settings import Settings
from impl.tokens import issue_token

ROOT = Path(__file__).resolve().parent.parent


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def unreachable_store_settings(timeout_ms: int = 300) -> Settings:
    return Settings(
        mongo_uri=f"mongodb://127.0.0.1:{closed_port()}/",
        mongo_timeout_ms=timeout_ms,
        jwt_secret="a-test-secret-that-is-long-enough-for-hs256",
    )


@pytest.fixture
def offline_app() -> Iterator[ChatApp]:
    app = create_app(unreachable_store_settings())
    yield app
    app.close()


class TestUnreachableStore:
    async def test_requests_get_503_with_retry_after_quickly(self, offline_app: ChatApp) -> None:
        app = offline_app
        settings = app.services.settings
        token = issue_token(settings, "0123456789abcdef01234567")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            started = time.monotonic()
            r = await client.get("/api/chat", headers={"Authorization": f"Bearer {token}"})
            elapsed = time.monotonic() - started
        assert_problem(r, 503, "STORE_UNAVAILABLE")
        assert int(r.headers["Retry-After"]) >= 1
        assert elapsed < settings.mongo_timeout_ms / 1000 + 1

    async def test_a_hundred_concurrent_requests_each_get_503_within_the_bound(self) -> None:
        # the default timeout, as a deployment runs it: queued waves would take 4-7 s
        offline_app = create_app(unreachable_store_settings(timeout_ms=2000))
        settings = offline_app.services.settings
        token = issue_token(settings, "0123456789abcdef01234567")
        headers = {"Authorization": f"Bearer {token}"}
        bound = settings.mongo_timeout_ms / 1000 + 1
        transport = httpx.ASGITransport(app=offline_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:

            async def timed() -> tuple[int, float]:
                started = time.monotonic()
                r = await client.get("/api/chat", headers=headers)
                return r.status_code, time.monotonic() - started

            answers = await asyncio.gather(*(timed() for _ in range(100)))
        offline_app.close()
        assert {status for status, _ in answers} == {503}
        assert max(elapsed for _, elapsed in answers) < bound

    async def test_dev_endpoints_are_off_with_a_real_store(self, offline_app: ChatApp) -> None:
        transport = httpx.ASGITransport(app=offline_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            r = await client.post("/api/dev/users", json={"name": "x"})
        assert_problem(r, 404, "NOT_FOUND")


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m impl ARGS` to its end, with the environment a launched server gets."""
    return subprocess.run(
        [sys.executable, "-m", "impl", *args],
        capture_output=True,
        text=True,
        env=server_env(env),
        timeout=60,
        cwd=ROOT,
    )


def test_real_store_without_jwt_secret_refuses_to_start() -> None:
    env = {"MONGODB_URI": "mongodb://127.0.0.1:1/"}
    done = run_cli("serve", "--port", str(closed_port()), env=env)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        "error: JWT_SECRET must be set when MONGODB_URI points at a real store"
    )


async def line(server: Launched, text: str, within: float = 20) -> str:
    return await asyncio.to_thread(server.wait_for, text, within)


async def test_sigterm_lets_an_in_flight_request_finish() -> None:
    # At trace level the server logs every ASGI message it hands the app: the test sees
    # the first half of the body arrive, then the stop begin, and only then sends the rest.
    server = Launched("--log-level", "trace")
    try:
        await asyncio.to_thread(server.start)
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
            made = (await client.post("/api/dev/users", json={"name": "slow"})).json()["data"]

            async def slow_body():  # type: ignore[no-untyped-def]
                yield b'{"na'
                await line(server, "'more_body': True")
                server.signal(signal.SIGTERM)
                await line(server, "Shutting down")
                yield b'me": "late"}'

            response = await client.post(
                "/api/dev/users", content=slow_body(), headers={"Content-Type": "application/json"}
            )
        assert made["user"]["name"] == "slow"
        assert response.status_code == 201
        assert response.json()["data"]["user"]["name"] == "late"
        assert await asyncio.to_thread(server.wait, 20) == 0
    finally:
        await asyncio.to_thread(server.stop)


@pytest.mark.parametrize("transport", ["polling", "websocket"])
async def test_sigterm_with_connected_sockets_stops_promptly(transport: str) -> None:
    server = Launched()
    sio = socketio.AsyncClient(reconnection=False)
    dropped = asyncio.Event()
    sio.on("disconnect", lambda *_: dropped.set())
    try:
        await asyncio.to_thread(server.start)
        async with httpx.AsyncClient(base_url=server.url) as client:
            made = (await client.post("/api/dev/users", json={"name": "on"})).json()["data"]
        await sio.connect(server.url, auth={"token": made["token"]}, transports=[transport])
        await line(server, "socket connected")
        signalled = time.monotonic()
        server.signal(signal.SIGTERM)
        await line(server, "stopped by SIGTERM", within=10)
        assert time.monotonic() - signalled < 3.0
        assert await asyncio.to_thread(server.wait, 20) == 0
        await asyncio.wait_for(dropped.wait(), 5)
    finally:
        await sio.shutdown()
        await asyncio.to_thread(server.stop)


async def test_one_log_line_per_request_without_the_token(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    user = await api.user("logged")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="impl.access"):
        await user.get("/api/chat", headers={"X-Request-ID": "req-123"})
    records = [r for r in caplog.records if r.name == "impl.access"]
    assert len(records) == 1
    line = vars(records[0])
    assert line["requestId"] == "req-123"
    assert line["userId"] == user.id
    assert (line["method"], line["path"], line["status"]) == ("GET", "/api/chat", 200)
    assert line["durationMs"] >= 0
    assert records[0].getMessage().startswith("GET /api/chat 200 ")
    assert "request=req-123" in records[0].getMessage()
    assert user.token not in caplog.text
