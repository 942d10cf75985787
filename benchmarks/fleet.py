"""The servers of a run: which to start, how, and how to know each is ready.

Reference servers run under ``uvicorn`` directly; the Chat API runs under
``seeded_server.py``, which writes a fixture file once its store is seeded. Prism runs when
node and the repository's ``node_modules/.bin/prism`` are there.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import procs
from benchmarks.plan import ALLOWANCE_ENV, HERE, OUR_ENV, PLAIN_ENV, PROBE_404, REPO, Plan


@dataclass
class ServerSpec:
    """How to start one server and how to know it is ready."""

    name: str
    kind: str  # "reference" or "ours"
    command: Callable[[int, Path], list[str]]  # (port, fixture path) -> argv
    ready_path: str = "/health"  # HTTP probe; "" means: wait for the fixture file
    env: dict[str, str] = field(default_factory=dict)
    idle_probe: str = "/health"  # a cheap path: answered fast once the server is idle


def impl_available() -> bool:
    """True when ``impl.app`` can be imported from the repository."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    try:
        return importlib.util.find_spec("impl.app") is not None
    except ModuleNotFoundError:
        return False


def prism_binary() -> Path | None:
    """The repository's Prism CLI when node can run it."""
    path = REPO / "node_modules" / ".bin" / "prism"
    if os.environ.get("BENCH_NO_NODE") or not shutil.which("node"):
        return None
    return path if path.exists() else None


def _uvicorn(app: str) -> Callable[[int, Path], list[str]]:
    return lambda port, _fixture: procs.uvicorn_command(app, port)


def _seeded(*flags: str) -> Callable[[int, Path], list[str]]:
    script = str(HERE / "seeded_server.py")
    return lambda port, fixture: [
        sys.executable,
        script,
        "--port",
        str(port),
        "--fixture",
        str(fixture),
        *flags,
    ]


def _prism(binary: Path) -> Callable[[int, Path], list[str]]:
    spec = str(REPO / "openapi.yaml")
    return lambda port, _fixture: [
        str(binary),
        "mock",
        spec,
        "-h",
        procs.HOST,
        "-p",
        str(port),
        "-v",
        "error",
    ]


def server_specs(plan: Plan, with_ours: bool) -> list[ServerSpec]:
    """Every server of the run."""
    specs = [
        ServerSpec("starlette", "reference", _uvicorn("benchmarks.ref_starlette:app")),
        ServerSpec("connexion", "reference", _uvicorn("benchmarks.ref_connexion:app")),
        ServerSpec("socketio", "reference", _uvicorn("benchmarks.ref_socketio:app")),
    ]
    binary = prism_binary()
    if binary is not None:
        specs.append(ServerSpec("prism", "reference", _prism(binary), "/", {}, PROBE_404))
    if not with_ours:
        return specs
    chats = str(plan.reader_chats)
    for size in plan.history_sizes:
        flags = ("--chats", chats, "--history", str(size))
        specs.append(ServerSpec(f"ours-{size}", "ours", _seeded(*flags), "", OUR_ENV, PROBE_404))
    for size in plan.plain_sizes:
        flags = ("--chats", chats, "--history", str(size))
        spec = ServerSpec(f"plain-{size}", "ours", _seeded(*flags), "", PLAIN_ENV, PROBE_404)
        specs.append(spec)
    specs.append(ServerSpec("ours-write", "ours", _seeded(), "", OUR_ENV, PROBE_404))
    specs.append(ServerSpec("ours-traffic", "ours", _seeded(), "", OUR_ENV, PROBE_404))
    specs.append(ServerSpec("ours-allowance", "ours", _seeded(), "", ALLOWANCE_ENV, PROBE_404))
    sizes = ",".join(str(n) for n in plan.fanout_sizes)
    fanout = _seeded("--fanout", sizes)
    specs.append(ServerSpec("ours-fanout", "ours", fanout, "", OUR_ENV, PROBE_404))
    return specs


def _wait_fixture(server: procs.Server, path: Path, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists():
            fixture: dict[str, Any] = json.loads(path.read_text())
            return fixture
        if not server.alive():
            raise RuntimeError(f"{server.name} exited early:\n{server.log_tail()}")
        time.sleep(0.2)
    raise RuntimeError(f"{server.name}: no fixture after {timeout_s:.0f}s\n{server.log_tail()}")


@dataclass
class Fleet:
    """The started servers, their fixtures, and why any of them is missing."""

    servers: dict[str, procs.Server] = field(default_factory=dict)
    probes: dict[str, str] = field(default_factory=dict)
    fixtures: dict[str, dict[str, Any]] = field(default_factory=dict)
    status: dict[str, str] = field(default_factory=dict)


def start_fleet(specs: list[ServerSpec], work: Path, core: int | None) -> Fleet:
    """Start every server at once, then wait for each to be ready (or record why not)."""
    fleet = Fleet()
    for spec in specs:
        port = procs.free_port()
        command = spec.command(port, work / f"{spec.name}.fixture.json")
        fleet.servers[spec.name] = procs.start(spec.name, command, port, work, core, spec.env)
        fleet.probes[spec.name] = spec.idle_probe
    for spec in specs:
        server = fleet.servers[spec.name]
        try:
            if spec.ready_path:
                procs.wait_ready(server, spec.ready_path, timeout_s=60)
            else:
                fixture_path = work / f"{spec.name}.fixture.json"
                fleet.fixtures[spec.name] = _wait_fixture(server, fixture_path, 420)
            fleet.status[spec.name] = "ok"
        except RuntimeError as err:
            fleet.status[spec.name] = f"failed: {err}"
            procs.stop(server)
            print(f"[bench] {spec.name} did not start: {err}", file=sys.stderr)
    return fleet


def stop_fleet(fleet: Fleet) -> None:
    """Stop every server this run started."""
    for server in fleet.servers.values():
        procs.stop(server)
