"""The soak harness still runs and its checks hold on a short run (not the soak itself:
`tox -e soak` is the 10-minute run). Needs the `redis-server` binary, which the harness
starts on a free port of its own."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.soak.checks import Check, rss_flat, sends_acknowledged
from benchmarks.soak.services import RssSamples
from benchmarks.soak.traffic import Ledger, Send

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def redis_server_binary() -> None:
    if shutil.which("redis-server") is None:
        reason = "redis-server is not installed (apt-get install redis-server)"
        if os.environ.get("CI"):
            pytest.fail(f"CI installs Redis for this test, but {reason}")
        pytest.skip(reason)


@pytest.mark.usefixtures("redis_server_binary")
def test_short_soak_with_a_redis_freeze_passes_every_check(tmp_path: Path) -> None:
    report_path = tmp_path / "soak.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.soak",
            "--duration",
            "15",
            "--freeze",
            "3",
            "--users",
            "6",
            "--json",
            str(report_path),
            "--log-dir",
            str(tmp_path / "logs"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    report = json.loads(report_path.read_text())
    assert report["passed"] is True
    assert all(check["passed"] for check in report["checks"])
    assert report["timeline"]["freeze_ended_s"] > report["timeline"]["freeze_began_s"] > 0
    assert report["requests"]["by_kind"]["send"], "the run sent nothing"


def test_a_send_never_acknowledged_fails_the_run() -> None:
    ledger = Ledger()
    ledger.add(Send("a", "chat", "user", "hi", 0.0, "before", attempts=3, status=201))
    ledger.add(Send("b", "chat", "user", "hi", 0.0, "during", attempts=9, status=0))
    check: Check = sends_acknowledged(ledger)
    assert not check.passed
    assert check.figures["unacknowledged"] == [("b", 0)]


def test_rss_growing_beyond_what_stored_messages_explain_fails_the_run() -> None:
    flat = RssSamples(1.0, [(t, 100_000 + 10 * t, 5 * t) for t in range(0, 90)])
    leaking = RssSamples(1.0, [(t, 100_000 + 1_000 * t, 5 * t) for t in range(0, 90)])
    assert rss_flat(flat, 90).passed
    assert not rss_flat(leaking, 90).passed
