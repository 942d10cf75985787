"""The performance goals, evaluated on the medians of a run.

Two tiers: the goals of the issue "One store edge, and an embedded store that answers from
indexes", with the flat send at a raised rate limit of "Bounded and sealed" (``issue``:
they decide the run's result), and the long-term line the project keeps aiming at
(``long-term``: the earlier goals, 1.0x Prism and 0.8x/0.6x bare Connexion among them;
evaluated and shown, but not a gate).

Each goal is a ratio of two medians over the interleaved reps, compared with a threshold
(this decides met / not met). The median of the per-rep ratios (both sides measured in the
same rep, so under the same background load) is reported next to it. A goal whose inputs
did not run is reported with ``met: None`` and the reason, never silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from benchmarks.configs import window_key
from benchmarks.plan import ALLOWANCE_LIMIT
from benchmarks.stats import median, ratio

ISSUE, LONG_TERM = "issue", "long-term"


@dataclass(frozen=True)
class Ratio:
    """``numerator / denominator`` of two row medians compared against a threshold."""

    key: str
    text: str
    numerator: tuple[str, str]  # (row or fan-out key, median field)
    denominator: tuple[str, str]
    threshold: float
    at_least: bool  # True: ratio >= threshold; False: ratio <= threshold
    tier: str = ISSUE  # ISSUE: decides this run's result; LONG_TERM: shown, not a gate


@dataclass(frozen=True)
class Sizes:
    """The store sizes the scaling goals compare (taken from the run's plan)."""

    history: tuple[int, ...]
    markread: tuple[int, ...]
    window_posts: int = 3_000  # the allowance row's posts in the window

    @classmethod
    def of(cls, plan: Any) -> Sizes:
        return cls(
            tuple(sorted(plan.history_sizes)),
            tuple(sorted(plan.markread_sizes)),
            plan.window_posts,
        )


def _per_second(key: str, text: str, top: str, bottom: str, at_least: float, tier: str) -> Ratio:
    return Ratio(key, text, (top, "rps"), (bottom, "rps"), at_least, True, tier)


def _p50(key: str, text: str, top: str, bottom: str, at_most: float, tier: str) -> Ratio:
    return Ratio(key, text, (top, "p50_ms"), (bottom, "p50_ms"), at_most, False, tier)


def ratio_goals(sizes: Sizes) -> list[Ratio]:
    """The goals of the issue (the gate), then the long-term line (shown, not a gate)."""
    small, large = sizes.history[0], sizes.history[-1]
    reads = sizes.markread or sizes.history  # results of runs without mark-read rows
    read_small, read_large = reads[0], reads[-1]
    history = f"history.{large}", f"history.{small}"
    issue = [
        _p50(
            "history_flat",
            f"history page p50 at {large:,} messages <= 1.5x at {small:,}",
            *history,
            1.5,
            ISSUE,
        ),
        _p50(
            "send_after_traffic",
            "message POST p50 after earlier posts <= 1.3x on a fresh store",
            "ours.send_after",
            "ours.send",
            1.3,
            ISSUE,
        ),
        _p50(
            "send_allowance_flat",
            f"message POST p50 after {sizes.window_posts:,} posts in the window <= 1.3x on a "
            f"fresh server (CHAT_RATE_LIMIT={ALLOWANCE_LIMIT:,})",
            window_key(sizes.window_posts),
            window_key(0),
            1.3,
            ISSUE,
        ),
        _p50(
            "markread_scaling",
            f"mark-read p50 at {read_large:,} messages <= 2x at {read_small:,}",
            f"markread.{read_large}",
            f"markread.{read_small}",
            2.0,
            ISSUE,
        ),
    ]
    throughput = (  # (key, what, our row, Connexion row, Connexion ratio, Prism row)
        ("list", "GET /api/chat", "ours.list_chats", "ping", 0.25, "ref.prism.list_chats"),
        ("messages", "history page", "ours.messages", "ping", 0.25, "ref.prism.messages"),
        ("send", "message POST", "ours.send", "echo", 0.3, "ref.prism.send"),
    )
    for key, what, ours, bare, share, prism in throughput:
        issue.append(
            _per_second(
                f"{key}_vs_connexion",
                f"{what} >= {share}x bare Connexion {bare} (req/s)",
                ours,
                f"ref.connexion.{bare}",
                share,
                ISSUE,
            )
        )
        issue.append(
            _per_second(
                f"{key}_vs_prism",
                f"{what} >= 0.5x Prism mock (req/s)",
                ours,
                prism,
                0.5,
                ISSUE,
            )
        )
    long_term = [
        _per_second(
            "lt_list_vs_connexion",
            "GET /api/chat >= 0.8x bare Connexion ping (req/s)",
            "ours.list_chats",
            "ref.connexion.ping",
            0.8,
            LONG_TERM,
        ),
        _per_second(
            "lt_send_vs_connexion",
            "message POST >= 0.6x bare Connexion echo POST (req/s)",
            "ours.send",
            "ref.connexion.echo",
            0.6,
            LONG_TERM,
        ),
        *(
            _per_second(
                f"lt_{key}_vs_prism",
                f"{what} >= 1.0x Prism mock (req/s)",
                ours,
                prism,
                1.0,
                LONG_TERM,
            )
            for key, what, ours, _bare, _share, prism in throughput
        ),
        _p50(
            "lt_history_scaling",
            f"history page p50 at 10x the messages <= 12x ({large:,} vs {large // 10:,})",
            f"history.{large}",
            f"history.{large // 10}",
            12.0,
            LONG_TERM,
        ),
        _p50(
            "lt_fanout_100",
            "fan-out N=100 last-receiver p50 <= 1.2x bare python-socketio",
            "fanout.ours.100",
            "fanout.ref.100",
            1.2,
            LONG_TERM,
        ),
    ]
    return issue + long_term


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
        "tier": goal.tier,
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
    problems += [  # a rep that could not complete is a problem too, not a smaller sample
        f"{r['key']}: rep {rep['rep'] + 1} failed: {rep['failed'].splitlines()[0][:160]}"
        for r in rows + fanouts
        for rep in r["reps"]
        if "failed" in rep
    ]
    ran = any(r["reps"] for r in rows + fanouts)
    return {
        "key": "clean_load",
        "text": "zero errors and zero unexpected non-2xx under load (the 400 row: only 400s; "
        "mark-read: every answer marks one message)",
        "numerator": "",
        "denominator": "",
        "threshold": 0,
        "comparison": "==",
        "tier": ISSUE,
        "ratio": len(problems),
        "met": (not problems) if ran else None,
        "detail": "; ".join(problems),
    }


def evaluate(
    rows: list[dict[str, Any]], fanouts: list[dict[str, Any]], sizes: Sizes
) -> list[dict[str, Any]]:
    """Every goal: the issue's (clean load last), then the long-term line."""
    medians = {r["key"]: r["median"] for r in rows + fanouts if r.get("median")}
    records = {r["key"]: r for r in rows + fanouts}
    evaluated = [_evaluate(goal, medians, records) for goal in ratio_goals(sizes)]
    issue = [g for g in evaluated if g["tier"] == ISSUE]
    long_term = [g for g in evaluated if g["tier"] == LONG_TERM]
    return [*issue, _clean_load(rows, fanouts), *long_term]
