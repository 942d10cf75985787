"""Fan-out clients in Python, used when node is not installed.

Same config file and output as ``fanout_client.mjs`` (``python -m benchmarks.fanout_client
CONFIG.json``): N python-socketio AsyncClients connect with ``auth={token}``, join the chat
room with an acknowledged ``join-chat-room``, and each REST send is timed until the last
client has its ``new-message``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import socketio

MARKER = "BENCH_JSON "


class Receivers:
    """Counts, for one message, how many clients still have to receive it."""

    def __init__(self, expected: int) -> None:
        self.marker = ""
        self.remaining = expected
        self.done = asyncio.Event()
        self.finished_at = 0.0

    def arm(self, marker: str, expected: int) -> None:
        """Wait for ``marker`` on ``expected`` clients."""
        self.marker, self.remaining = marker, expected
        self.done.clear()

    def seen(self, payload: Any) -> None:
        """Handle one client's ``new-message``."""
        message = payload.get("message") if isinstance(payload, dict) else None
        if not isinstance(message, dict) or message.get("content") != self.marker:
            return
        self.remaining -= 1
        if self.remaining == 0:
            self.finished_at = time.perf_counter()
            self.done.set()


async def _connect(config: dict[str, Any], token: str, receivers: Receivers) -> Any:
    client = socketio.AsyncClient(reconnection=False)
    client.on("new-message", receivers.seen)
    await client.connect(
        config["url"], auth={"token": token}, transports=["websocket"], wait_timeout=10
    )
    ack = await client.call("join-chat-room", config["chatId"], timeout=10)
    if not isinstance(ack, dict) or ack.get("success") is not True:
        raise RuntimeError(f"join refused: {ack!r}")
    return client


async def _connect_all(config: dict[str, Any], receivers: Receivers) -> list[Any]:
    clients: list[Any] = []
    batch = int(config.get("connectBatch", 50))
    tokens = config["tokens"]
    for start in range(0, len(tokens), batch):
        group = [_connect(config, t, receivers) for t in tokens[start : start + batch]]
        clients += await asyncio.gather(*group)
    return clients


async def _send(
    http: aiohttp.ClientSession, config: dict[str, Any], marker: str, tally: dict[str, Any]
) -> tuple[float, float] | None:
    headers = {"Authorization": f"Bearer {config['senderToken']}"}
    started = time.perf_counter()
    try:
        async with http.post(config["sendUrl"], json={"content": marker}, headers=headers) as r:
            await r.read()
            status = str(r.status)
    except aiohttp.ClientError:
        status = "error"
    rest_ms = (time.perf_counter() - started) * 1000
    tally["statuses"][status] = tally["statuses"].get(status, 0) + 1
    return (started, rest_ms) if status.startswith("2") else None


async def _run(config: dict[str, Any]) -> dict[str, Any]:
    tokens = config["tokens"]
    receivers = Receivers(len(tokens))
    tally: dict[str, Any] = {"statuses": {}, "missed": 0}
    result: dict[str, Any] = {"n": len(tokens), "samples_ms": [], "rest_ms": [], "tally": tally}
    begin = time.perf_counter()
    clients = await asyncio.wait_for(_connect_all(config, receivers), 60)
    result["connected"] = len(clients)
    result["connect_ms"] = (time.perf_counter() - begin) * 1000
    warmup = int(config.get("warmup", 0))
    timeout_s = float(config.get("timeoutMs", 5000)) / 1000
    async with aiohttp.ClientSession() as http:
        for index in range(warmup + int(config["messages"])):
            marker = f"fan-out py {index}"
            receivers.arm(marker, len(clients))
            sent = await _send(http, config, marker, tally)
            if sent is None:
                continue
            try:
                await asyncio.wait_for(receivers.done.wait(), timeout_s)
            except TimeoutError:
                tally["missed"] += receivers.remaining
                continue
            if index >= warmup:
                result["samples_ms"].append((receivers.finished_at - sent[0]) * 1000)
                result["rest_ms"].append(sent[1])
    await asyncio.gather(*(c.disconnect() for c in clients))
    return result


def main() -> None:
    """Entry point: ``python -m benchmarks.fanout_client CONFIG.json``."""
    config = json.loads(Path(sys.argv[1]).read_text())
    print(MARKER + json.dumps(asyncio.run(_run(config))), flush=True)


if __name__ == "__main__":
    main()
