"""The benchmark scripts still run: a quick pass over every configuration (not a measure)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_quick_benchmark_runs_every_configuration(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--quick", "--check", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    results = json.loads((tmp_path / "results.json").read_text())
    keys = {r["key"] for r in results["rows"]}
    sizes = results["settings"]
    for size in sizes["history_sizes"]:
        assert f"history.{size}" in keys
    for size in sizes["plain_sizes"]:
        assert f"history_plain.{size}" in keys
    for size in sizes["markread_sizes"]:
        assert f"markread.{size}" in keys
    assert {"ours.send", "ours.send_after", "ours.messages", "ours.list_chats"} <= keys
    assert {"send_window.0", f"send_window.{sizes['window_posts']}"} <= keys
    # every goal of the issue that needs no Prism was evaluated; the long-term line is there
    issue = [g for g in results["goals"] if g["tier"] == "issue"]
    unevaluated = [g["key"] for g in issue if g["met"] is None and "prism" not in g["key"]]
    assert not unevaluated, unevaluated
    assert any(g["tier"] == "long-term" for g in results["goals"])
    # every mark-read answer marked the one message sent just before it
    reads = [r for r in results["rows"] if r["key"].startswith("markread.")]
    reps = [rep for r in reads for rep in r["reps"]]
    marked = [rep["unexpected_bodies"] == 0 and rep["requests"] > 0 for rep in reps]
    assert marked and all(marked)
