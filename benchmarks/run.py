"""One command for the whole benchmark: ``python -m benchmarks.run [--quick]``.

Starts every server under uvicorn (uvloop + httptools) pinned to one core, drives each
configuration from a separate load process pinned to the other core (wrk when installed,
else ``benchmarks.loadgen``), interleaves the configurations rep by rep (the order rotates
every rep), and writes ``results.json``, ``results.png`` and ``README.md``.

Servers (``fleet.py``):
  reference  bare Starlette (GET, POST), bare Connexion 3 AsyncApp (ping, echo, validation
             on), the Prism mock of openapi.yaml (when node is installed), and a bare
             python-socketio server for fan-out;
  ours       the Chat API built by ``seeded_server.py``: a reader with 50 chats and the
             history sizes (on the engine, and on plain mongomock for the record), a
             fresh write server and one holding 10,000 earlier posts (both re-seeded
             before each rep), a fan-out server.
Configurations (``configs.py``), sizes and durations (``plan.py``), goals (``goals.py``),
rendering (``report.py``).

``--quick`` is a smoke run of a few seconds (1 s loads, small stores, one rep) and writes
into a temporary directory unless ``--out`` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # ``python benchmarks/run.py``: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp

from benchmarks import goals, machine, procs, report, seed
from benchmarks.configs import Fanout, Row, fanouts, our_rows, reference_rows
from benchmarks.fanout import node_client_available, run_fanout
from benchmarks.fleet import (
    Fleet,
    ServerSpec,
    impl_available,
    prism_binary,
    server_specs,
    start_fleet,
    stop_fleet,
)
from benchmarks.loadgen import run_load, wrk_available
from benchmarks.plan import (
    ALLOWANCE_LIMIT,
    FANOUT_RETRY_WAIT_S,
    FULL,
    HERE,
    LOAD_CORE,
    OUR_ENV,
    QUICK,
    REPO,
    SERVER_CORE,
    Plan,
)
from benchmarks.stats import median

# --- running -----------------------------------------------------------------------------


async def _reseed_writers(row: Row, base: str) -> tuple[tuple[str, str], ...]:
    async with aiohttp.ClientSession() as session:
        seeder = seed.Seeder(session, base)
        await seeder.reset()
        fixture = await seed.writer_fixture(
            seeder, row.reseed_writers, row.earlier_posts, row.in_window
        )
    return tuple(
        (f"/api/chat/{t['chatId']}/messages", f"Bearer {t['token']}") for t in fixture["targets"]
    )


def _problem(row: Row, result: dict[str, Any]) -> str:
    if result.get("failed"):
        return str(result["failed"])
    if result["error_count"]:
        return f"{result['error_count']} socket errors"
    if result.get("prelude_non_2xx"):
        return f"unmeasured requests before each: {result['prelude_statuses']}"
    if result.get("unexpected_bodies"):
        return f"{result['unexpected_bodies']} 2xx answers without {row.load.expect_body!r}"
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
            targets = asyncio.run(_reseed_writers(row, server.base))
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


def _settings(plan: Plan, pinned: bool) -> dict[str, Any]:
    return {
        "quick": plan.quick,
        "reps": plan.reps,
        "duration_s": plan.duration_s,
        "connections": plan.connections,
        "history_connections": plan.history_connections,
        "history_sizes": list(plan.history_sizes),
        "plain_sizes": list(plan.plain_sizes),
        "plain_slow_size": plan.plain_slow_size,
        "plain_slow_requests": plan.plain_slow_requests,
        "markread_sizes": list(plan.markread_sizes),
        "earlier_posts": plan.earlier_posts,
        "window_posts": plan.window_posts,
        "allowance_requests": plan.allowance_requests,
        "allowance_limit": ALLOWANCE_LIMIT,
        "reader_chats": plan.reader_chats,
        "writers": plan.writers,
        "send_cap_per_rep": plan.send_cap,
        "fanout_sizes": list(plan.fanout_sizes),
        "fanout_messages": plan.fanout_messages,
        "fanout_warmup": plan.fanout_warmup,
        "warmup_s": plan.warmup_s,
        "history_duration_s": plan.history_duration_s,
        "history_requests": plan.history_requests,
        "plain_requests": plan.plain_requests,
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
    parser.add_argument(
        "--servers",
        help="comma list: start only these servers and run only their configurations "
        "(e.g. ours-allowance); goals missing a side are reported as not run",
    )
    parser.add_argument("--no-wrk", action="store_true", help="use the aiohttp load generator")
    parser.add_argument(
        "--no-node", action="store_true", help="python-socketio fan-out clients, no Prism"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 1 when a configuration failed or had errors/unexpected statuses",
    )
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
    """Run the benchmark; exit status 0 when it ran (goals may still be unmet).

    With ``--check`` the status is 1 when a configuration failed or was not clean.
    """
    args = _parse_args(argv)
    if args.no_wrk:
        os.environ["BENCH_NO_WRK"] = "1"
    if args.no_node:
        os.environ["BENCH_NO_NODE"] = "1"
    plan, out = make_plan(args)
    out.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    load_before = machine.load_average()
    pinned = bool(shutil.which("taskset")) and machine.usable_cpus() >= 2
    server_core, load_core = (SERVER_CORE, LOAD_CORE) if pinned else (None, None)
    with_ours = impl_available() and not args.no_ours
    specs = only(server_specs(plan, with_ours), args.servers)
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
        fleet.status["prism"] = "not run: no node, no node_modules/.bin/prism, or --no-node"
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
        "goals": goals.evaluate(row_records, fan_records, goals.Sizes.of(plan)),
        "elapsed_s": round(time.monotonic() - began, 1),
        "load_average": {"before": load_before, "after": machine.load_average()},
    }
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    report.write(results, out)
    print(f"[bench] done in {results['elapsed_s']} s; results in {out}", flush=True)
    return 1 if args.check and not _clean(results) else 0


def only(specs: list[ServerSpec], names: str | None) -> list[ServerSpec]:
    """The specs named in the comma list ``names`` (all of them when it is None)."""
    if names is None:
        return specs
    wanted = {n.strip() for n in names.split(",") if n.strip()}
    unknown = wanted - {s.name for s in specs}
    if unknown:
        known = ", ".join(s.name for s in specs)
        raise SystemExit(f"unknown server(s) {', '.join(sorted(unknown))}; known: {known}")
    return [s for s in specs if s.name in wanted]


def _clean(results: dict[str, Any]) -> bool:
    """True when every configuration ran every rep without errors or unexpected statuses."""
    failed = [
        c["key"]
        for c in results["rows"] + results["fanout"]
        if not c["reps"] or any("failed" in r for r in c["reps"])
    ]
    clean = next(g for g in results["goals"] if g["key"] == "clean_load")
    for key in failed:
        print(f"[bench] check: {key} did not complete", file=sys.stderr)
    if clean["met"] is False:
        print(f"[bench] check: {clean['detail']}", file=sys.stderr)
    return not failed and clean["met"] is not False


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
