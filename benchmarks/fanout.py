"""Run one fan-out measurement from a separate client process.

The client is ``fanout_client.mjs`` under node when node and ``socket.io-client`` are
installed, else ``python -m benchmarks.fanout_client``. Both read the same config file and
print the same ``BENCH_JSON`` record, summarised here into p50/p99 of the time from the
REST send to the last receiver's ``new-message``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.loadgen import pin_prefix
from benchmarks.stats import percentile

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
MARKER = "BENCH_JSON "


@dataclass(frozen=True)
class FanoutSpec:
    """N clients in one chat room of one server, and how many sends to time."""

    url: str
    chatId: str  # noqa: N815 - the client config uses the wire names
    tokens: list[str]
    senderToken: str  # noqa: N815
    sendUrl: str  # noqa: N815
    messages: int = 20
    warmup: int = 3
    timeoutMs: int = 5000  # noqa: N815
    connectBatch: int = 50  # noqa: N815


def node_client_available() -> bool:
    """True when node and the repo's socket.io-client are there and ``BENCH_NO_NODE`` is not set."""
    if os.environ.get("BENCH_NO_NODE"):
        return False
    return bool(shutil.which("node")) and (REPO / "node_modules" / "socket.io-client").is_dir()


def _command(config_path: Path, use_node: bool) -> list[str]:
    if use_node:
        return ["node", str(HERE / "fanout_client.mjs"), str(config_path)]
    return [sys.executable, "-m", "benchmarks.fanout_client", str(config_path)]


def _summary(raw: dict[str, Any], tool: str) -> dict[str, Any]:
    samples = [float(x) for x in raw["samples_ms"]]
    statuses = {str(k): int(v) for k, v in raw["tally"]["statuses"].items()}
    return {
        "tool": tool,
        "n": int(raw["n"]),
        "connected": int(raw.get("connected", 0)),
        "connect_ms": round(float(raw.get("connect_ms", 0.0)), 1),
        "samples": len(samples),
        "p50_ms": round(percentile(samples, 50), 3),
        "p99_ms": round(percentile(samples, 99), 3),
        "rest_p50_ms": round(percentile([float(x) for x in raw["rest_ms"]], 50), 3),
        "statuses": statuses,
        "missed_deliveries": int(raw["tally"]["missed"]),
        "non_2xx": sum(v for k, v in statuses.items() if not k.startswith("2")),
    }


def run_fanout(spec: FanoutSpec, core: int | None, use_node: bool | None = None) -> dict[str, Any]:
    """Run the client process once and return its summary."""
    node = node_client_available() if use_node is None else use_node
    with tempfile.TemporaryDirectory(prefix="bench-fanout-") as tmp:
        config_path = Path(tmp) / "config.json"
        config_path.write_text(json.dumps(asdict(spec)))
        limit = 120 + (spec.messages + spec.warmup) * spec.timeoutMs / 1000
        done = subprocess.run(
            pin_prefix(core) + _command(config_path, node),
            capture_output=True,
            text=True,
            timeout=limit,
            check=False,
            cwd=REPO,
        )
    if done.returncode != 0:
        raise RuntimeError(f"fan-out client exited {done.returncode}: {done.stderr[-800:]}")
    for line in done.stdout.splitlines():
        if line.startswith(MARKER):
            return _summary(json.loads(line[len(MARKER) :]), "node" if node else "python")
    raise RuntimeError(f"fan-out client printed no result: {done.stdout[-500:]!r}")
