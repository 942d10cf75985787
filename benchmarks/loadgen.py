"""Drive HTTP load from a separate process: wrk when installed, else a small aiohttp loop.

``run_load(spec)`` is what the runner calls; it always starts a child process (pinned to
the load core when ``taskset`` exists) and returns one normalised result dict::

    {"tool", "requests", "duration_s", "rps", "latency_ms": {p50, p90, p99, mean, max},
     "statuses": {"200": n, ...}, "errors": {connect, read, write, timeout},
     "error_count", "non_2xx", "capped"}

Run as ``python -m benchmarks.loadgen --url ... --duration 5`` it is the aiohttp
generator itself (bounded by ``--duration`` and ``--max-requests``), printing the same
``BENCH_JSON`` line that ``wrk_report.lua`` prints.

Two options exist only in the aiohttp generator (rows that need them set ``use_wrk=False``):
a *prelude*, one unmeasured request sent on the same connection before every measured one
(the mark-read rows: another participant sends, then the reader marks read), and an
*expected body* substring, so that a 200 answering the wrong thing is counted as a
problem (``unexpected_bodies``), not as a success.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
WRK_SCRIPT = HERE / "wrk_report.lua"
MARKER = "BENCH_JSON "


@dataclass(frozen=True)
class LoadSpec:
    """One load run against one URL."""

    url: str
    method: str = "GET"
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    connections: int = 32
    duration_s: float = 5.0
    max_requests: int = 200_000
    timeout_s: float = 5.0
    targets: tuple[tuple[str, str], ...] = ()  # (path, Authorization value), round robin
    prelude: tuple[str, str, str, str] = ()  # (method, path, body, Authorization): unmeasured
    expect_body: str = ""  # substring every measured 2xx answer must contain


def wrk_available() -> bool:
    """True when a wrk binary is on PATH and ``BENCH_NO_WRK`` is not set."""
    return shutil.which("wrk") is not None and not os.environ.get("BENCH_NO_WRK")


def pin_prefix(core: int | None) -> list[str]:
    """``taskset -c CORE`` when taskset exists and a core is given, else nothing."""
    if core is None or shutil.which("taskset") is None:
        return []
    return ["taskset", "-c", str(core)]


def _wrk_command(spec: LoadSpec) -> list[str]:
    seconds = max(1, round(spec.duration_s))
    cmd = ["wrk", "-t1", f"-c{spec.connections}", f"-d{seconds}s"]
    cmd += [f"--timeout={max(1, round(spec.timeout_s))}s", "-s", str(WRK_SCRIPT)]
    for name, value in spec.headers.items():
        cmd += ["-H", f"{name}: {value}"]
    return [*cmd, spec.url]


def _aiohttp_command(spec: LoadSpec, targets_path: str) -> list[str]:
    cmd = [sys.executable, "-m", "benchmarks.loadgen", "--url", spec.url]
    if targets_path:
        cmd += ["--targets", targets_path]
    cmd += ["--method", spec.method, "--connections", str(spec.connections)]
    cmd += ["--duration", str(spec.duration_s), "--max-requests", str(spec.max_requests)]
    cmd += ["--timeout", str(spec.timeout_s)]
    if spec.prelude:
        cmd += ["--prelude", json.dumps(list(spec.prelude))]
    if spec.expect_body:
        cmd += ["--expect-body", spec.expect_body]
    if spec.body:
        cmd += ["--body", spec.body]
    for name, value in spec.headers.items():
        cmd += ["--header", f"{name}: {value}"]
    return cmd


def _parse_marker(stdout: str) -> dict[str, Any]:
    for line in stdout.splitlines():
        if line.startswith(MARKER):
            parsed: dict[str, Any] = json.loads(line[len(MARKER) :])
            return parsed
    raise RuntimeError(f"load generator printed no result: {stdout[-500:]!r}")


def normalise(raw: dict[str, Any], tool: str) -> dict[str, Any]:
    """Turn a raw ``BENCH_JSON`` record (microseconds) into the runner's result shape."""
    duration_s = raw["duration_us"] / 1e6
    statuses = {str(k): int(v) for k, v in raw["statuses"].items()}
    errors = {k: int(raw["errors"].get(k, 0)) for k in ("connect", "read", "write", "timeout")}
    non_2xx = sum(v for k, v in statuses.items() if not k.startswith("2"))
    prelude = {str(k): int(v) for k, v in raw.get("prelude_statuses", {}).items()}
    latency = {k: round(float(v) / 1000.0, 3) for k, v in raw["latency_us"].items()}
    return {
        "tool": tool,
        "requests": int(raw["requests"]),
        "duration_s": round(duration_s, 3),
        "rps": round(raw["requests"] / duration_s, 1) if duration_s else 0.0,
        "latency_ms": latency,
        "statuses": statuses,
        "errors": errors,
        "error_count": sum(errors.values()),
        "non_2xx": non_2xx,
        "capped": bool(raw.get("capped")),
        "prelude_statuses": prelude,
        "prelude_non_2xx": sum(v for k, v in prelude.items() if not k.startswith("2")),
        "unexpected_bodies": int(raw.get("unexpected_bodies", 0)),
    }


def run_load(
    spec: LoadSpec, core: int | None = None, use_wrk: bool | None = None
) -> dict[str, Any]:
    """Run one bounded load in a child process and return the normalised result."""
    wrk = wrk_available() if use_wrk is None else use_wrk
    if wrk and (spec.prelude or spec.expect_body):
        raise ValueError("a prelude or an expected body needs the aiohttp generator")
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        targets_path = ""
        if spec.targets:
            targets_path = str(Path(tmp) / "targets.tsv")
            Path(targets_path).write_text("".join(f"{p}\t{a}\n" for p, a in spec.targets))
        tool_cmd = _wrk_command(spec) if wrk else _aiohttp_command(spec, targets_path)
        env = dict(os.environ)
        env.update(
            BENCH_METHOD=spec.method,
            BENCH_BODY=spec.body,
            BENCH_MAX_REQUESTS=str(spec.max_requests),
            BENCH_TARGETS=targets_path,
        )
        limit = spec.duration_s + spec.timeout_s + 30
        done = subprocess.run(
            pin_prefix(core) + tool_cmd,
            capture_output=True,
            text=True,
            env=env,
            timeout=limit,
            check=False,
            cwd=HERE.parent,
        )
    if done.returncode != 0:
        raise RuntimeError(f"{tool_cmd[0]} exited {done.returncode}: {done.stderr[-500:]}")
    return normalise(_parse_marker(done.stdout), "wrk" if wrk else "aiohttp")


# --- the aiohttp generator (child process) -------------------------------------------------


@dataclass
class _Tally:
    latencies_us: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    prelude_statuses: Counter[str] = field(default_factory=Counter)
    unexpected_bodies: int = 0
    started: int = 0


def _targets(args: argparse.Namespace) -> list[tuple[str, dict[str, str]]]:
    """(url, headers) pairs to cycle through: the targets file, else the one URL."""
    headers = dict(h.split(": ", 1) for h in args.header)
    if args.body:
        headers.setdefault("Content-Type", "application/json")
    if not args.targets:
        return [(args.url, headers)]
    origin = args.url.split("/", 3)
    base = "/".join(origin[:3])
    pairs = []
    for line in Path(args.targets).read_text().splitlines():
        path, auth = line.split("\t", 1)
        pairs.append((base + path, {**headers, "Authorization": auth}))
    return pairs


async def _prelude(session: Any, args: argparse.Namespace, base: str, tally: _Tally) -> None:
    """The unmeasured request before a measured one; its status is tallied apart."""
    method, path, body, auth = json.loads(args.prelude)
    headers = {"Authorization": auth}
    if body:
        headers["Content-Type"] = "application/json"
    async with session.request(
        method, base + path, data=body.encode() or None, headers=headers
    ) as r:
        await r.read()
        tally.prelude_statuses[str(r.status)] += 1


async def _worker(
    session: Any,
    args: argparse.Namespace,
    tally: _Tally,
    deadline: float,
    targets: list[tuple[str, dict[str, str]]],
) -> None:
    import aiohttp

    data = args.body.encode() if args.body else None
    base = "/".join(args.url.split("/", 3)[:3])
    while time.perf_counter() < deadline and tally.started < args.max_requests:
        url, headers = targets[tally.started % len(targets)]
        tally.started += 1
        try:
            if args.prelude:
                await _prelude(session, args, base, tally)
            begin = time.perf_counter()
            async with session.request(args.method, url, data=data, headers=headers) as r:
                answer = await r.read()
                tally.statuses[str(r.status)] += 1
            if args.expect_body and r.status < 300 and args.expect_body not in answer.decode():
                tally.unexpected_bodies += 1
        except TimeoutError:
            tally.errors["timeout"] += 1
            continue
        except aiohttp.ClientConnectorError:
            tally.errors["connect"] += 1
            await asyncio.sleep(0.01)
            continue
        except aiohttp.ClientError:
            tally.errors["read"] += 1
            continue
        tally.latencies_us.append((time.perf_counter() - begin) * 1e6)


def _percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def _record(tally: _Tally, elapsed_s: float, capped: bool) -> dict[str, Any]:
    lat = tally.latencies_us
    return {
        "requests": sum(tally.statuses.values()),
        "duration_us": int(elapsed_s * 1e6),
        "errors": {**{k: 0 for k in ("connect", "read", "write", "timeout")}, **tally.errors},
        "latency_us": {
            "p50": _percentile(lat, 50),
            "p90": _percentile(lat, 90),
            "p99": _percentile(lat, 99),
            "mean": statistics.fmean(lat) if lat else 0.0,
            "max": max(lat, default=0.0),
        },
        "statuses": dict(tally.statuses),
        "prelude_statuses": dict(tally.prelude_statuses),
        "unexpected_bodies": tally.unexpected_bodies,
        "capped": int(capped),
    }


async def _generate(args: argparse.Namespace) -> dict[str, Any]:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=args.connections, force_close=False)
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    tally = _Tally()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        begin = time.perf_counter()
        deadline = begin + args.duration
        targets = _targets(args)
        workers = [
            _worker(session, args, tally, deadline, targets) for _ in range(args.connections)
        ]
        await asyncio.gather(*workers)
        elapsed = time.perf_counter() - begin
    return _record(tally, elapsed, tally.started >= args.max_requests)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--method", default="GET")
    parser.add_argument("--body", default="")
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--targets", default="", help="file of path<TAB>Authorization lines")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--prelude", default="", help="JSON [method, path, body, auth]")
    parser.add_argument("--expect-body", default="", help="substring of every 2xx answer")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the aiohttp load generator process."""
    args = _parse_args(argv)
    try:
        import uvloop
    except ImportError:
        record = asyncio.run(_generate(args))
    else:
        record = uvloop.run(_generate(args))
    print(MARKER + json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
