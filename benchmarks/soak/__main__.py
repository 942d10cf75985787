"""``python -m benchmarks.soak [--duration 600] [--freeze 20] [--json PATH]``: run the soak
and exit 0 when every check passed, 1 when one failed, 2 when it could not run."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import procs
from benchmarks.soak import checks, services, world
from benchmarks.soak.load import Limits, Load
from benchmarks.soak.report import (
    MARKER,
    checks_json,
    readable,
    request_latency,
    send_latency,
)
from benchmarks.soak.traffic import Ledger, Traffic
from impl.launcher import Launched

SETTLE_S = 10.0  # at most this long for the last socket events to arrive


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.soak",
        description="Mixed load on one server for --duration seconds, Redis frozen for "
        "--freeze seconds in the middle, then checks through the public API.",
    )
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of load")
    parser.add_argument("--freeze", type=float, default=20.0, help="seconds Redis is stopped")
    parser.add_argument("--users", type=int, default=12, help="users, one actor and socket each")
    parser.add_argument(
        "--think", type=float, default=0.5, help="mean seconds between a user's actions"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the actors' choices")
    parser.add_argument("--max-requests", type=int, default=200_000, help="request cap")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    parser.add_argument("--rss-every", type=float, default=None, help="seconds between samples")
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    parser.add_argument("--log-dir", type=Path, default=None, help="server and Redis logs")
    return parser


async def _settle(the_world: world.World) -> None:
    """Wait until no socket has received anything new for a second (or SETTLE_S)."""
    deadline = time.monotonic() + SETTLE_S
    last = -1
    while time.monotonic() < deadline:
        total = sum(
            sum(u.listener.received.values()) for u in the_world.users if u.listener is not None
        )
        if total == last:
            return
        last = total
        await asyncio.sleep(1.0)


async def _limits(traffic: Traffic, token: str) -> Limits:
    answer = await traffic.call("setup", "GET", "/api/chat/config", token, budgeted=False)
    if not answer.ok:
        raise world.SetupFailed(f"GET /api/chat/config: {answer.status}")
    data = answer.data
    rate = data["rateLimit"]
    return Limits(rate["messages"], float(rate["windowSeconds"]), float(data["editWindowSeconds"]))


async def soak(
    args: argparse.Namespace, redis_server: procs.Server, chat_api: Launched
) -> dict[str, Any]:
    rss_every = args.rss_every or min(5.0, max(0.5, args.duration / 60))
    setup_began = time.monotonic()
    async with Traffic(chat_api.url, args.max_requests, args.timeout) as traffic:
        the_world = await world.build(traffic, args.users)
        limits = await _limits(traffic, the_world.users[0].token)
        ledger = Ledger()
        freeze = services.Freeze((args.duration - args.freeze) / 2, args.freeze)
        began = time.monotonic()
        load = Load(
            traffic,
            the_world,
            ledger,
            freeze,
            limits,
            began,
            began + args.duration,
            args.think,
            args.freeze + 60.0,
            args.seed,
        )
        async with services.sampling_rss(
            chat_api.pid, rss_every, began, ledger.acknowledged
        ) as rss:
            freezer = asyncio.create_task(services.freeze_redis(redis_server, freeze, began))
            await load.run()
            await freezer
            load_s = round(time.monotonic() - began, 1)
        verify_began = time.monotonic()
        await _settle(the_world)
        state = await checks.read_state(traffic, the_world)
        found = [
            checks.no_server_errors(traffic),
            checks.state_readable(state),
            checks.sends_acknowledged(ledger),
            checks.none_lost(ledger, state),
            checks.none_duplicated(ledger, state),
            checks.edits_applied(ledger, state),
            checks.unread_exact(the_world, state),
            checks.seq_without_gaps(state),
            checks.rss_flat(rss, args.duration),
            checks.sockets_connected(the_world),
            checks.Check("server stayed up", chat_api.running, {"pid": chat_api.pid}),
        ]
        delivery = checks.socket_delivery(the_world, ledger, state, freeze)
        verify_s = round(time.monotonic() - verify_began, 1)
        await world.close(the_world)
    return {
        "config": {
            "duration_s": args.duration,
            "freeze_s": args.freeze,
            "users": args.users,
            "chats": len(the_world.chats),
            "think_s": args.think,
            "seed": args.seed,
            "max_requests": args.max_requests,
            "request_timeout_s": args.timeout,
            "rate_limit": {"messages": limits.messages, "window_s": limits.window_s},
            "sends_per_window_per_user": limits.sends_per_window,
        },
        "timeline": {
            "freeze_planned_at_s": round(freeze.planned_at_s, 1),
            "freeze_began_s": round(freeze.began_s or 0.0, 1),
            "freeze_ended_s": round(freeze.ended_s or 0.0, 1),
            "setup_s": round(began - setup_began, 1),
            "load_s": load_s,
            "verify_s": verify_s,
        },
        "requests": {
            "total": sum(traffic.counts.values()),
            "by_status": traffic.by_status(),
            "by_kind": traffic.by_kind(),
        },
        "send_latency": send_latency(ledger),
        "request_latency": request_latency(traffic.timings, began, freeze.phase),
        "rss_samples": rss.samples,
        "socket_delivery": delivery,
        "checks": checks_json(found),
        "passed": all(c.passed for c in found),
    }


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not 0 <= args.freeze < args.duration:
        print("error: --freeze must be at least 0 and shorter than --duration", file=sys.stderr)
        return 2
    if not services.redis_available():
        print("error: redis-server is not on PATH (apt-get install redis-server)", file=sys.stderr)
        return 2
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="chat-soak-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    print(f"soak: logs in {log_dir}", file=sys.stderr, flush=True)
    load_before = os.getloadavg()
    started = time.monotonic()
    try:
        with services.running(log_dir) as (redis_server, chat_api):
            report = asyncio.run(soak(args, redis_server, chat_api))
    except (services.ServiceFailed, world.SetupFailed) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report["machine"] = {
        "nproc": os.cpu_count(),
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
        "log_dir": str(log_dir),
    }
    report["timeline"]["total_s"] = round(time.monotonic() - started, 1)
    text = json.dumps(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    print(MARKER + text, flush=True)
    print(readable(report), flush=True)
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
