"""One command for the whole benchmark: ``python -m benchmarks.run [--quick]``.

Starts every server under uvicorn (uvloop + httptools) pinned to one core, drives each
configuration from a separate load process pinned to the other core (wrk when installed,
else ``benchmarks.loadgen``), interleaves the configurations rep by rep (the order rotates
every rep), and writes ``results.json``, ``results.png`` and ``README.md``.

Servers:
  reference  bare Starlette (GET, POST), bare Connexion 3 AsyncApp (ping, echo, validation
             on), the Prism mock of openapi.yaml (when node is installed), and a bare
             python-socketio server for fan-out;
  ours       the Chat API built by ``seeded_server.py``: a reader with 50 chats and the
             history sizes, a write server re-seeded before each rep, a fan-out server.

``--quick`` is a smoke run of a few seconds (1 s loads, small stores, one rep) and writes
into a temporary directory unless ``--out`` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # ``python benchmarks/run.py``: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp

from benchmarks import goals, machine, procs, report, seed
from benchmarks.fanout import FanoutSpec, node_client_available, run_fanout
from benchmarks.loadgen import LoadSpec, run_load, wrk_available
from benchmarks.stats import median

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RATE_LIMIT = 1_000_000
OUR_ENV = {"CHAT_RATE_LIMIT": str(RATE_LIMIT), "LOG_LEVEL": "warning"}
REF_CHAT_ID = "5f0c0ffee0c0ffee0c0ffee0"
SEND_BODY = '{"content": "benchmark message"}'
INVALID_BODY = '{"text": "the required content member is missing"}'
REF_TOKEN = "Bearer reference-token"
PROBE_404 = "/bench-idle-probe"  # unknown path: routed, answered 404, touches no store
SERVER_CORE, LOAD_CORE = 0, 1
FANOUT_RETRY_WAIT_S = 180


@dataclass(frozen=True)
class Plan:
    """Sizes and durations of one run."""

    quick: bool
    reps: int
    duration_s: float
    connections: int
    history_sizes: tuple[int, ...]
    fanout_sizes: tuple[int, ...]
    fanout_messages: int
    fanout_warmup: int
    writers: int
    send_cap: int
    warmup_s: float
    history_duration_s: float = 15
    history_requests: int = 20
    reader_chats: int = 50
    history_connections: int = 1
    load_timeout_s: float = 15.0


FULL = Plan(
    quick=False,
    reps=5,
    duration_s=3,
    connections=32,
    history_sizes=(1_000, 10_000, 100_000),
    fanout_sizes=(10, 100, 500),
    fanout_messages=30,
    fanout_warmup=3,
    writers=20,
    send_cap=20_000,
    warmup_s=1,
)
QUICK = Plan(
    quick=True,
    reps=1,
    duration_s=1,
    connections=8,
    history_sizes=(100, 1_000),
    fanout_sizes=(100,),
    fanout_messages=5,
    fanout_warmup=1,
    writers=2,
    send_cap=2_000,
    warmup_s=0,
    history_duration_s=2,
    history_requests=10,
    reader_chats=10,
)


@dataclass
class ServerSpec:
    """How to start one server and how to know it is ready."""

    name: str
    kind: str  # "reference" or "ours"
    command: Callable[[int, Path], list[str]]  # (port, fixture path) -> argv
    ready_path: str = "/health"  # HTTP probe; "" means: wait for the fixture file
    env: dict[str, str] = field(default_factory=dict)
    idle_probe: str = "/health"  # a cheap path: answered fast once the server is idle


@dataclass
class Row:
    """One HTTP configuration: a URL of a server under one kind of load."""

    key: str
    label: str
    group: str  # "reference", "ours" or "history"
    server: str
    load: LoadSpec
    expect: str = "2xx"  # or "400"
    reseed_writers: int = 0  # >0: rebuild the write fixture before every rep
    use_wrk: bool | None = None  # None: wrk when installed; False: the count-bounded loadgen
    reps: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Fanout:
    """One fan-out configuration: a room of N clients on one server."""

    key: str
    target: str  # "ours" or "ref"
    n: int
    spec: FanoutSpec
    reps: list[dict[str, Any]] = field(default_factory=list)


# --- servers -----------------------------------------------------------------------------


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
    return path if shutil.which("node") and path.exists() else None


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
    specs.append(ServerSpec("ours-write", "ours", _seeded(), "", OUR_ENV, PROBE_404))
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


# --- configurations ----------------------------------------------------------------------


def _load(plan: Plan, base: str, path: str, **kw: Any) -> LoadSpec:
    spec = LoadSpec(
        url=base + path,
        connections=plan.connections,
        duration_s=plan.duration_s,
        timeout_s=plan.load_timeout_s,
    )
    return replace(spec, **kw)


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def reference_rows(plan: Plan, fleet: Fleet) -> list[Row]:
    """Rows of the bare servers that are up."""
    rows: list[Row] = []
    ref = {"Authorization": REF_TOKEN}
    post = {"method": "POST", "body": SEND_BODY, "headers": ref}
    if fleet.status.get("starlette") == "ok":
        base = fleet.servers["starlette"].base
        rows += [
            Row(
                "ref.starlette.get",
                "Starlette GET /ping",
                "reference",
                "starlette",
                _load(plan, base, "/ping", headers=ref),
            ),
            Row(
                "ref.starlette.post",
                "Starlette POST /echo",
                "reference",
                "starlette",
                _load(plan, base, "/echo", **post),
            ),
        ]
    if fleet.status.get("connexion") == "ok":
        base = fleet.servers["connexion"].base
        rows += [
            Row(
                "ref.connexion.ping",
                "Connexion GET /ping",
                "reference",
                "connexion",
                _load(plan, base, "/ping", headers=ref),
            ),
            Row(
                "ref.connexion.echo",
                "Connexion POST /echo",
                "reference",
                "connexion",
                _load(plan, base, "/echo", **post),
            ),
        ]
    if fleet.status.get("prism") == "ok":
        base = fleet.servers["prism"].base
        send = f"/api/chat/{REF_CHAT_ID}/messages"
        rows += [
            Row(
                "ref.prism.list_chats",
                "Prism mock GET /api/chat",
                "reference",
                "prism",
                _load(plan, base, "/api/chat", headers=ref),
            ),
            Row(
                "ref.prism.send",
                "Prism mock POST /api/chat/{id}/messages",
                "reference",
                "prism",
                _load(plan, base, send, **post),
            ),
        ]
    return rows


def our_rows(plan: Plan, fleet: Fleet) -> list[Row]:
    """Rows of the Chat API servers that are up."""
    rows: list[Row] = []
    reader_server = f"ours-{plan.history_sizes[0]}"
    if fleet.status.get(reader_server) == "ok":
        base = fleet.servers[reader_server].base
        reader = fleet.fixtures[reader_server]["reader"]
        auth = _auth(reader["token"])
        history = f"/api/chat/{reader['historyChatId']}/messages"
        rows += [
            Row(
                "ours.list_chats",
                f"GET /api/chat ({plan.reader_chats} chats)",
                "ours",
                reader_server,
                _load(plan, base, "/api/chat", headers=auth),
            ),
            Row(
                "ours.messages",
                f"GET /api/chat/{{id}}/messages?limit=20 ({plan.history_sizes[0]:,} stored)",
                "ours",
                reader_server,
                _load(plan, base, history + "?limit=20", headers=auth),
            ),
            Row(
                "ours.invalid_send",
                "POST /api/chat/{id}/messages, invalid body (400)",
                "ours",
                reader_server,
                _load(plan, base, history, method="POST", body=INVALID_BODY, headers=auth),
                expect="400",
            ),
        ]
    if fleet.status.get("ours-write") == "ok":
        base = fleet.servers["ours-write"].base
        rows.append(
            Row(
                "ours.send",
                f"POST /api/chat/{{id}}/messages ({plan.writers} senders)",
                "ours",
                "ours-write",
                _load(plan, base, "/", method="POST", body=SEND_BODY, max_requests=plan.send_cap),
                reseed_writers=plan.writers,
            )
        )
    return rows + history_rows(plan, fleet)


def history_rows(plan: Plan, fleet: Fleet) -> list[Row]:
    """Latency of the first history page at every store size, one connection."""
    rows = []
    for size in plan.history_sizes:
        name = f"ours-{size}"
        if fleet.status.get(name) != "ok":
            continue
        reader = fleet.fixtures[name]["reader"]
        path = f"/api/chat/{reader['historyChatId']}/messages?limit=20"
        load = _load(plan, fleet.servers[name].base, path, headers=_auth(reader["token"]))
        load = replace(
            load,
            connections=plan.history_connections,
            duration_s=plan.history_duration_s,
            max_requests=plan.history_requests,
            timeout_s=30,
        )
        label = f"history page at {size:,} stored messages (1 connection)"
        rows.append(Row(history_key(size), label, "history", name, load, use_wrk=False))
    return rows


def history_key(size: int) -> str:
    """Row key of the history measurement at ``size`` stored messages."""
    return f"history.{size}"


def fanouts(plan: Plan, fleet: Fleet) -> list[Fanout]:
    """Fan-out configurations of every server that is up."""
    configs = []
    for n in plan.fanout_sizes:
        if fleet.status.get("ours-fanout") == "ok":
            fx = fleet.fixtures["ours-fanout"]["fanout"]
            base = fleet.servers["ours-fanout"].base
            chat = fx["chats"][str(n)]
            spec = FanoutSpec(
                url=base,
                chatId=chat,
                tokens=fx["tokens"][:n],
                senderToken=fx["senderToken"],
                sendUrl=f"{base}/api/chat/{chat}/messages",
                messages=plan.fanout_messages,
                warmup=plan.fanout_warmup,
            )
            configs.append(Fanout(f"fanout.ours.{n}", "ours", n, spec))
        if fleet.status.get("socketio") == "ok":
            base = fleet.servers["socketio"].base
            spec = FanoutSpec(
                url=base,
                chatId=REF_CHAT_ID,
                tokens=["reference-token"] * n,
                senderToken="reference-token",
                sendUrl=f"{base}/api/chat/{REF_CHAT_ID}/messages",
                messages=plan.fanout_messages,
                warmup=plan.fanout_warmup,
            )
            configs.append(Fanout(f"fanout.ref.{n}", "ref", n, spec))
    return configs


# --- running -----------------------------------------------------------------------------


async def _reseed_writers(base: str, writers: int) -> tuple[tuple[str, str], ...]:
    async with aiohttp.ClientSession() as session:
        seeder = seed.Seeder(session, base)
        await seeder.reset()
        fixture = await seed.writer_fixture(seeder, writers)
    return tuple(
        (f"/api/chat/{t['chatId']}/messages", f"Bearer {t['token']}") for t in fixture["targets"]
    )


def _problem(row: Row, result: dict[str, Any]) -> str:
    if result.get("failed"):
        return str(result["failed"])
    if result["error_count"]:
        return f"{result['error_count']} socket errors"
    if row.expect == "400":
        other = {k: v for k, v in result["statuses"].items() if k != "400"}
        return f"statuses other than 400: {other}" if other else ""
    return f"{result['non_2xx']} non-2xx: {result['statuses']}" if result["non_2xx"] else ""


def run_row(
    row: Row, fleet: Fleet, core: int | None, duration_s: float | None = None
) -> dict[str, Any]:
    """One bounded load of one row, then wait until its server is idle again.

    Failures are recorded, never raised. The wait matters: requests still queued when the
    load generator stops keep the server's core busy, and would slow the next row.
    """
    load = row.load if duration_s is None else replace(row.load, duration_s=duration_s)
    server = fleet.servers[row.server]
    try:
        if row.reseed_writers:
            targets = asyncio.run(_reseed_writers(server.base, row.reseed_writers))
            load = replace(load, targets=targets)
        result = run_load(load, core=core, use_wrk=row.use_wrk)
    except Exception as err:  # a failed rep is data, not a crash of the whole run
        result = {"failed": f"{type(err).__name__}: {err}"[:400]}
    else:
        result["problem"] = _problem(row, result)
    result["drain_s"] = procs.wait_idle(server, fleet.probes[row.server], timeout_s=60)
    return result


def _fanout_with_retry(config: Fanout, core: int | None) -> dict[str, Any]:
    """Run the client; when node could not load ``socket.io-client``, wait and retry once.

    Seen on a shared machine: another job's ``npm ci`` empties node_modules for a while.
    """
    try:
        return run_fanout(config.spec, core)
    except RuntimeError as err:
        if "node_modules" not in str(err) and "MODULE_NOT_FOUND" not in str(err):
            raise
    deadline = time.monotonic() + FANOUT_RETRY_WAIT_S
    marker = REPO / "node_modules" / "socket.io-client" / "package.json"
    while time.monotonic() < deadline and not marker.exists():
        time.sleep(2)
    time.sleep(5)  # let the reinstall finish writing the package's files
    return run_fanout(config.spec, core)


def run_fanout_config(config: Fanout, core: int | None) -> dict[str, Any]:
    """One fan-out measurement; failures are recorded, never raised."""
    try:
        result = _fanout_with_retry(config, core)
    except Exception as err:  # a failed rep is data, not a crash of the whole run
        return {"failed": f"{type(err).__name__}: {err}"[:400]}
    problems = []
    if result["non_2xx"]:
        problems.append(f"non-2xx sends {result['statuses']}")
    if result["missed_deliveries"]:
        problems.append(f"{result['missed_deliveries']} deliveries missed")
    result["problem"] = "; ".join(problems)
    return result


def rotated(items: list[Any], rep: int) -> list[Any]:
    """The items starting at position ``rep`` (mod len): each rep starts elsewhere."""
    if not items:
        return items
    shift = rep % len(items)
    return items[shift:] + items[:shift]


def warm_up(
    plan: Plan, rows: list[Row], configs: list[Fanout], fleet: Fleet, core: int | None
) -> None:
    """One short unrecorded pass over every configuration."""
    if plan.warmup_s <= 0:
        return
    for row in rows:
        run_row(row, fleet, core, plan.warmup_s)
    for config in configs:
        short = replace(config.spec, messages=2, warmup=0)
        run_fanout_config(replace(config, spec=short), core)


def run_reps(
    plan: Plan, rows: list[Row], configs: list[Fanout], fleet: Fleet, core: int | None
) -> None:
    """Interleave every configuration, rep by rep, in a rotating order."""
    for rep in range(plan.reps):
        for position, row in enumerate(rotated(rows, rep)):
            result = run_row(row, fleet, core)
            row.reps.append({"rep": rep, "position": position, **result})
            _progress(rep, row.key, result)
        for position, config in enumerate(rotated(configs, rep)):
            result = run_fanout_config(config, core)
            config.reps.append({"rep": rep, "position": position, **result})
            _progress(rep, config.key, result)


def _progress(rep: int, key: str, result: dict[str, Any]) -> None:
    if "failed" in result:
        text = f"FAILED {result['failed']}"
    elif "rps" in result:
        text = f"{result['rps']:>9.1f} req/s  p50 {result['latency_ms']['p50']:.2f} ms"
    else:
        text = f"p50 {result['p50_ms']:.2f} ms  p99 {result['p99_ms']:.2f} ms"
    flag = f"  !! {result['problem']}" if result.get("problem") else ""
    print(f"[bench] rep {rep + 1} {key:<24} {text}{flag}", flush=True)


# --- summarising -------------------------------------------------------------------------


def summarise_row(row: Row) -> dict[str, Any]:
    """The row's record in results.json, with medians over the reps that completed."""
    done = [r for r in row.reps if "failed" not in r]
    problems = sorted({r["problem"] for r in row.reps if r.get("problem")})
    record: dict[str, Any] = {
        "key": row.key,
        "label": row.label,
        "group": row.group,
        "server": row.server,
        "method": row.load.method,
        "path": row.load.url.split("/", 3)[-1],
        "connections": row.load.connections,
        "expect": row.expect,
        "reps": row.reps,
        "problem": "; ".join(problems)[:600],
        "requests": sum(r["requests"] for r in done),
        "errors": sum(r["error_count"] for r in done),
        "non_2xx": sum(r["non_2xx"] for r in done),
        "capped": any(r["capped"] and r["tool"] == "wrk" for r in done),
    }
    if done:
        record["median"] = {
            "rps": round(median([r["rps"] for r in done]), 1),
            "p50_ms": round(median([r["latency_ms"]["p50"] for r in done]), 3),
            "p99_ms": round(median([r["latency_ms"]["p99"] for r in done]), 3),
        }
    return record


def summarise_fanout(config: Fanout) -> dict[str, Any]:
    """The fan-out record in results.json, with medians over the reps that completed."""
    done = [r for r in config.reps if "failed" not in r]
    problems = sorted({r["problem"] for r in config.reps if r.get("problem")})
    record: dict[str, Any] = {
        "key": config.key,
        "target": config.target,
        "n": config.n,
        "messages_per_rep": config.spec.messages,
        "reps": config.reps,
        "problem": "; ".join(problems)[:600],
        "missed_deliveries": sum(r["missed_deliveries"] for r in done),
        "non_2xx": sum(r["non_2xx"] for r in done),
    }
    if done:
        record["median"] = {
            "p50_ms": round(median([r["p50_ms"] for r in done]), 3),
            "p99_ms": round(median([r["p99_ms"] for r in done]), 3),
            "rest_p50_ms": round(median([r["rest_p50_ms"] for r in done]), 3),
            "connect_ms": round(median([r["connect_ms"] for r in done]), 1),
        }
    return record


def _history_goal_keys(plan: Plan) -> tuple[str, str]:
    sizes = sorted(plan.history_sizes)
    return history_key(sizes[-2]), history_key(sizes[-1])


def _settings(plan: Plan, pinned: bool) -> dict[str, Any]:
    return {
        "quick": plan.quick,
        "reps": plan.reps,
        "duration_s": plan.duration_s,
        "connections": plan.connections,
        "history_connections": plan.history_connections,
        "history_sizes": list(plan.history_sizes),
        "reader_chats": plan.reader_chats,
        "writers": plan.writers,
        "send_cap_per_rep": plan.send_cap,
        "fanout_sizes": list(plan.fanout_sizes),
        "fanout_messages": plan.fanout_messages,
        "fanout_warmup": plan.fanout_warmup,
        "warmup_s": plan.warmup_s,
        "history_duration_s": plan.history_duration_s,
        "history_requests": plan.history_requests,
        "our_env": OUR_ENV,
        "load_tool": "wrk" if wrk_available() else "aiohttp (benchmarks/loadgen.py)",
        "fanout_client": "node socket.io-client" if node_client_available() else "python-socketio",
        "pinning": {"server_core": SERVER_CORE, "load_core": LOAD_CORE} if pinned else None,
    }


# --- entry point -------------------------------------------------------------------------


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run of a few seconds")
    parser.add_argument("--reps", type=int, help="interleaved reps (default 5; quick 1)")
    parser.add_argument("--duration", type=float, help="seconds per load (default 4)")
    parser.add_argument("--out", type=Path, help="output directory (default benchmarks/)")
    parser.add_argument("--no-ours", action="store_true", help="reference servers only")
    return parser.parse_args(argv)


def make_plan(args: argparse.Namespace) -> tuple[Plan, Path]:
    """The plan and output directory the arguments ask for."""
    plan = QUICK if args.quick else FULL
    if args.reps:
        plan = replace(plan, reps=max(1, args.reps))
    if args.duration:
        plan = replace(plan, duration_s=max(1.0, args.duration))
    out = args.out or (Path(tempfile.mkdtemp(prefix="bench-quick-")) if args.quick else HERE)
    return plan, out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit status 0 when it ran (goals may still be unmet)."""
    args = _parse_args(argv)
    plan, out = make_plan(args)
    out.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    load_before = machine.load_average()
    pinned = bool(shutil.which("taskset")) and machine.usable_cpus() >= 2
    server_core, load_core = (SERVER_CORE, LOAD_CORE) if pinned else (None, None)
    with_ours = impl_available() and not args.no_ours
    specs = server_specs(plan, with_ours)
    with tempfile.TemporaryDirectory(prefix="bench-run-") as work:
        fleet = start_fleet(specs, Path(work), server_core)
        try:
            rows = reference_rows(plan, fleet) + our_rows(plan, fleet)
            configs = fanouts(plan, fleet)
            warm_up(plan, rows, configs, fleet, load_core)
            run_reps(plan, rows, configs, fleet, load_core)
        finally:
            stop_fleet(fleet)
    if not with_ours:
        reason = "impl.app is not importable" if not args.no_ours else "--no-ours"
        fleet.status["ours"] = f"not run: {reason}"
    if prism_binary() is None and "prism" not in fleet.status:
        fleet.status["prism"] = "not run: node or node_modules/.bin/prism is missing"
    row_records = [summarise_row(r) for r in rows]
    fan_records = [summarise_fanout(c) for c in configs]
    results = {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine.describe(),
        "settings": _settings(plan, pinned),
        "servers": fleet.status,
        "fixtures": {k: _fixture_summary(v) for k, v in fleet.fixtures.items()},
        "rows": row_records,
        "fanout": fan_records,
        "goals": goals.evaluate(row_records, fan_records, _history_goal_keys(plan)),
        "elapsed_s": round(time.monotonic() - began, 1),
        "load_average": {"before": load_before, "after": machine.load_average()},
    }
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    report.write(results, out)
    print(f"[bench] done in {results['elapsed_s']} s; results in {out}", flush=True)
    return 0


def _fixture_summary(fixture: dict[str, Any]) -> dict[str, Any]:
    summary: dict[str, Any] = {
        k: fixture[k] for k in ("storedMessages", "bulkInsert") if k in fixture
    }
    if "reader" in fixture:
        summary["readerChats"] = len(fixture["reader"]["chatIds"])
    if "fanout" in fixture:
        summary["fanoutRooms"] = sorted(int(n) for n in fixture["fanout"]["chats"])
    return summary


if __name__ == "__main__":
    sys.exit(main())
