"""Interoperability with the JavaScript client: tests/node/interop.mjs, using the
socket.io-client of package.json from node_modules, talks to the live server. It connects
with `auth: {token}`, joins with an acknowledgement and receives a room broadcast; a bad
token gives it a `connect_error` carrying the documented `data`.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from asyncapi_contract import validate_ack, validate_schema, validate_server_event
from conftest import Api

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).resolve().parents[1] / "node" / "interop.mjs"
CLIENT_PACKAGE = ROOT / "node_modules" / "socket.io-client" / "package.json"
NODE = shutil.which("node")
STEP_TIMEOUT = 10.0

pytestmark = [
    pytest.mark.node,
    pytest.mark.skipif(NODE is None, reason="node is not installed"),
    pytest.mark.skipif(
        not CLIENT_PACKAGE.exists(), reason="node_modules lacks socket.io-client (run npm ci)"
    ),
]


class NodeClient:
    """The script as a subprocess; `step()` reads its next JSON line."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def step(self) -> tuple[str, Any]:
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), STEP_TIMEOUT)
        assert line, f"the node client ended early: {await self.stderr()}"
        reported = json.loads(line)
        return reported["step"], reported["data"]

    async def stderr(self) -> str:
        assert self.process.stderr is not None
        return (await self.process.stderr.read()).decode(errors="replace")

    async def exit_code(self) -> int:
        return await asyncio.wait_for(self.process.wait(), STEP_TIMEOUT)


RunNode = Callable[..., Awaitable[NodeClient]]


@pytest.fixture
async def run_node() -> AsyncIterator[RunNode]:
    started: list[asyncio.subprocess.Process] = []

    async def run(*args: str) -> NodeClient:
        assert NODE is not None
        process = await asyncio.create_subprocess_exec(
            NODE,
            str(SCRIPT),
            *args,
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        started.append(process)
        return NodeClient(process)

    yield run
    for process in started:
        if process.returncode is None:
            process.kill()
        await process.wait()


def test_the_client_package_is_the_pinned_version() -> None:
    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"]
    installed = json.loads(CLIENT_PACKAGE.read_text())["version"]
    assert installed == pinned["socket.io-client"]


async def test_socket_io_client_joins_with_an_ack_and_receives_a_room_broadcast(
    api: Api, live: str, run_node: RunNode
) -> None:
    a, b = await api.user("a"), await api.user("b")
    chat_id = await a.direct_chat(b)
    node = await run_node(live, b.token, chat_id)
    step, ack = await node.step()
    assert step == "joined", ack
    validate_ack(ack)
    assert ack == {"success": True}
    sent = await a.sent(chat_id, "hello from Python")
    step, payload = await node.step()
    assert step == "new-message", payload
    validate_server_event("new-message", payload)
    assert payload == {"chatId": chat_id, "seq": 1, "message": sent}
    assert await node.exit_code() == 0


async def test_socket_io_client_gets_the_documented_connect_error_for_a_bad_token(
    live: str, run_node: RunNode
) -> None:
    node = await run_node(live, "not-a-token", "65f000000000000000000000")
    step, error = await node.step()
    assert step == "connect_error", error
    validate_schema("ConnectError", error)
    assert error["data"]["code"] == "UNAUTHORIZED"
    assert await node.exit_code() == 0
