"""The soak report: one JSON document (written with ``--json``, and printed after the
``SOAK_JSON`` marker) and the same figures as readable tables."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from benchmarks.soak.checks import Check
from benchmarks.soak.traffic import Ledger
from benchmarks.stats import percentile

MARKER = "SOAK_JSON "
PHASES = ("before", "during", "after")


def _latency(seconds: list[float]) -> dict[str, Any]:
    ms = [s * 1000 for s in seconds]
    return {
        "count": len(ms),
        "p50_ms": round(percentile(ms, 50), 1),
        "p99_ms": round(percentile(ms, 99), 1),
        "max_ms": round(max(ms), 1) if ms else 0.0,
    }


def send_latency(ledger: Ledger) -> dict[str, Any]:
    """Per phase of the freeze: whole sends (first attempt to final answer, retries
    included; by when the send began) and single attempts (by when each began)."""
    whole: dict[str, list[float]] = {p: [] for p in PHASES}
    for send in ledger.sends.values():
        if send.acknowledged:
            whole[send.phase].append(send.seconds)
    return {
        "sends": {p: _latency(whole[p]) for p in PHASES},
        "attempts": {p: _latency(ledger.attempt_seconds.get(p, [])) for p in PHASES},
    }


def request_latency(
    timings: list[tuple[str, float, float]], began: float, phase: Callable[[float], str]
) -> dict[str, dict[str, Any]]:
    """Per kind of request, then per phase of the freeze (by when each request began)."""
    grouped: dict[str, dict[str, list[float]]] = {}
    for kind, started, seconds in timings:
        by_phase = grouped.setdefault(kind, {p: [] for p in PHASES})
        by_phase[phase(started - began)].append(seconds)
    return {
        kind: {p: _latency(v) for p, v in by_phase.items()}
        for kind, by_phase in sorted(grouped.items())
    }


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    cells = [[str(c) for c in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def _compact(figures: dict[str, Any]) -> str:
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in figures.items())


def readable(report: dict[str, Any]) -> str:
    """The report as text tables."""
    config, timeline = report["config"], report["timeline"]
    lines = [
        f"Soak: {config['duration_s']:g} s of load, {config['users']} users, "
        f"Redis frozen {timeline['freeze_began_s']} s to {timeline['freeze_ended_s']} s "
        f"(planned {config['freeze_s']:g} s); load ran {timeline['load_s']} s, "
        f"{report['requests']['total']} requests; setup {timeline['setup_s']} s, "
        f"checks {timeline['verify_s']} s, {timeline.get('total_s', '-')} s in all",
        "",
        "Requests by status:",
        *_table(["status", "count"], list(report["requests"]["by_status"].items())),
        "",
        "Requests by kind:",
        *_table(
            ["kind", "statuses"],
            [[k, _compact(v)] for k, v in report["requests"]["by_kind"].items()],
        ),
        "",
        "Send latency by phase of the freeze (whole send with retries / single attempt):",
    ]
    latency = report["send_latency"]
    rows = []
    for phase in PHASES:
        whole, one = latency["sends"][phase], latency["attempts"][phase]
        rows.append(
            [
                phase,
                whole["count"],
                whole["p50_ms"],
                whole["p99_ms"],
                whole["max_ms"],
                one["count"],
                one["p50_ms"],
                one["p99_ms"],
            ]
        )
    header = ["phase", "sends", "p50 ms", "p99 ms", "max ms", "attempts", "p50 ms", "p99 ms"]
    lines += _table(header, rows)
    lines += ["", "Request latency by kind and phase (count p50/p99 ms):"]
    lines += _table(
        ["kind", *PHASES],
        [
            [kind, *(f"{v[p]['count']} {v[p]['p50_ms']}/{v[p]['p99_ms']}" for p in PHASES)]
            for kind, v in report["request_latency"].items()
            if kind not in ("setup", "verify")
        ],
    )
    lines += ["", f"Socket delivery (figures only): {_compact(report['socket_delivery'])}", ""]
    lines += ["Checks:"]
    lines += _table(
        ["check", "result", "figures"],
        [
            [c["name"], "PASS" if c["passed"] else "FAIL", _compact(c["figures"])]
            for c in report["checks"]
        ],
    )
    lines += ["", "SOAK PASSED" if report["passed"] else "SOAK FAILED"]
    return "\n".join(lines)


def checks_json(checks: list[Check]) -> list[dict[str, Any]]:
    return [{"name": c.name, "passed": c.passed, "figures": c.figures} for c in checks]
