"""The issue's performance goals, evaluated on the medians of a run.

Each goal is a ratio of two medians over the interleaved reps, compared with a threshold
(this decides met / not met). The median of the per-rep ratios (both sides measured in the
same rep, so under the same background load) is reported next to it. A goal whose inputs
did not run is reported with ``met: None`` and the reason, never silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from benchmarks.stats import median, ratio


@dataclass(frozen=True)
class Ratio:
    """``numerator / denominator`` of two row medians compared against a threshold."""

    key: str
    text: str
    numerator: tuple[str, str]  # (row or fan-out key, median field)
    denominator: tuple[str, str]
    threshold: float
    at_least: bool  # True: ratio >= threshold; False: ratio <= threshold


def ratio_goals(history_keys: tuple[str, str]) -> list[Ratio]:
    """The ratio goals; ``history_keys`` are the history rows at 10k and 100k (or scaled)."""
    small, large = history_keys
    sizes = f"{int(large.split('.')[1]):,} vs {int(small.split('.')[1]):,} stored"
    return [
        Ratio(
            "list_vs_connexion",
            "GET /api/chat >= 0.8x bare Connexion ping (req/s)",
            ("ours.list_chats", "rps"),
            ("ref.connexion.ping", "rps"),
            0.8,
            True,
        ),
        Ratio(
            "send_vs_connexion",
            "message POST >= 0.6x bare Connexion echo POST (req/s)",
            ("ours.send", "rps"),
            ("ref.connexion.echo", "rps"),
            0.6,
            True,
        ),
        Ratio(
            "list_vs_prism",
            "GET /api/chat >= 1.0x Prism mock GET /api/chat (req/s)",
            ("ours.list_chats", "rps"),
            ("ref.prism.list_chats", "rps"),
            1.0,
            True,
        ),
        Ratio(
            "send_vs_prism",
            "message POST >= 1.0x Prism mock message POST (req/s)",
            ("ours.send", "rps"),
            ("ref.prism.send", "rps"),
            1.0,
            True,
        ),
        Ratio(
            "history_scaling",
            f"history page p50 at 10x the messages <= 12x ({sizes})",
            (large, "p50_ms"),
            (small, "p50_ms"),
            12.0,
            False,
        ),
        Ratio(
            "fanout_100",
            "fan-out N=100 last-receiver p50 <= 1.2x bare python-socketio",
            ("fanout.ours.100", "p50_ms"),
            ("fanout.ref.100", "p50_ms"),
            1.2,
            False,
        ),
    ]


def _rep_value(rep: dict[str, Any], name: str) -> float | None:
    """One rep's value of a median field (``rps``, ``p50_ms``) in either record shape."""
    if "failed" in rep:
        return None
    if name in rep:
        return float(rep[name])
    if name.endswith("_ms") and "latency_ms" in rep:
        return float(rep["latency_ms"][name.removesuffix("_ms")])
    return None


def paired_ratio(
    goal: Ratio, records: dict[str, dict[str, Any]]
) -> tuple[float | None, list[float]]:
    """Median and list of the per-rep ratios (both sides measured in the same rep)."""
    (top_key, top_field), (bottom_key, bottom_field) = goal.numerator, goal.denominator
    bottoms = {r["rep"]: _rep_value(r, bottom_field) for r in records[bottom_key]["reps"]}
    ratios = []
    for rep in records[top_key]["reps"]:
        top, bottom = _rep_value(rep, top_field), bottoms.get(rep["rep"])
        value = None if top is None or bottom is None else ratio(top, bottom)
        if value is not None:
            ratios.append(value)
    return (round(median(ratios), 3) if ratios else None), ratios


def _evaluate(
    goal: Ratio, medians: dict[str, dict[str, float]], records: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    missing = [k for k, _ in (goal.numerator, goal.denominator) if k not in medians]
    record: dict[str, Any] = {
        "key": goal.key,
        "text": goal.text,
        "numerator": f"{goal.numerator[0]}.{goal.numerator[1]}",
        "denominator": f"{goal.denominator[0]}.{goal.denominator[1]}",
        "threshold": goal.threshold,
        "comparison": ">=" if goal.at_least else "<=",
    }
    if missing:
        return {**record, "ratio": None, "met": None, "detail": f"missing: {', '.join(missing)}"}
    value = ratio(
        medians[goal.numerator[0]][goal.numerator[1]],
        medians[goal.denominator[0]][goal.denominator[1]],
    )
    if value is None:
        return {**record, "ratio": None, "met": None, "detail": "denominator is zero"}
    met = value >= goal.threshold if goal.at_least else value <= goal.threshold
    paired, per_rep = paired_ratio(goal, records)
    return {
        **record,
        "ratio": value,
        "met": met,
        "detail": "",
        "paired_ratio": paired,
        "per_rep_ratios": per_rep,
    }


def _clean_load(rows: list[dict[str, Any]], fanouts: list[dict[str, Any]]) -> dict[str, Any]:
    problems = [f"{r['key']}: {r['problem']}" for r in rows + fanouts if r.get("problem")]
    ran = any(r["reps"] for r in rows + fanouts)
    return {
        "key": "clean_load",
        "text": "zero errors and zero non-2xx under load (the deliberate 400 row: only 400s)",
        "numerator": "",
        "denominator": "",
        "threshold": 0,
        "comparison": "==",
        "ratio": len(problems),
        "met": (not problems) if ran else None,
        "detail": "; ".join(problems),
    }


def evaluate(
    rows: list[dict[str, Any]], fanouts: list[dict[str, Any]], history_keys: tuple[str, str]
) -> list[dict[str, Any]]:
    """Every goal, in the order of the issue."""
    medians = {r["key"]: r["median"] for r in rows + fanouts if r.get("median")}
    records = {r["key"]: r for r in rows + fanouts}
    evaluated = [_evaluate(goal, medians, records) for goal in ratio_goals(history_keys)]
    return [*evaluated, _clean_load(rows, fanouts)]
