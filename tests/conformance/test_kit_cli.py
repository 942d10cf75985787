"""The kit from its command line (`chat-api conformance`, here `python -m impl conformance`)
against this server as its users start it (`impl.launcher.Launched`): every rule passes,
none is left "not run", within the time budget, with the three reports written and its
sandbox removed afterwards; a failed rule exits 1; a target it cannot use exits 2 with
one line."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree as ET

import httpx
import pytest

from conformance.registry import by_section
from conformance.rules import RULES
from impl.launcher import Launched, server_env

ROOT = Path(__file__).resolve().parents[2]
MUTANTS = Path(__file__).resolve().parent / "mutants.py"
BUDGET_S = 60
KIT_TIMEOUT_S = 180


def kit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "impl", "conformance", *args],
        capture_output=True,
        text=True,
        timeout=KIT_TIMEOUT_S,
        check=False,
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def server() -> Iterator[Launched]:
    with Launched(settings={"LOG_LEVEL": "warning"}) as launched:
        yield launched


def test_the_reference_server_passes_every_rule_within_the_budget(
    server: Launched, tmp_path: Path
) -> None:
    done = kit("--base-url", server.url, "--report-dir", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    summary = results["summary"]
    assert summary == {"rules": len(RULES), "passed": len(RULES), "failed": 0, "notRun": 0}
    assert results["seconds"] < BUDGET_S
    assert results["limits"]["from"] == "config"
    assert f"{len(RULES)} rules: {len(RULES)} passed, 0 failed, 0 not run" in done.stdout
    suites = ET.parse(tmp_path / "junit.xml").getroot()
    assert suites.get("tests") == str(len(RULES)) and suites.get("failures") == "0"
    sandboxes = httpx.get(f"{server.url}/api/dev/sandboxes").json()["data"]["sandboxes"]
    assert [s["name"] for s in sandboxes] == ["default"]


def test_the_html_report_is_self_contained(server: Launched, tmp_path: Path) -> None:
    done = kit("--base-url", server.url, "--report-dir", str(tmp_path), "--rule", "config")
    assert done.returncode == 0, done.stdout + done.stderr
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<script" not in page
    assert not re.findall(r"""src\s*=|@import|url\(""", page)
    assert all(link.startswith("#") for link in re.findall(r'href="([^"]*)"', page))
    assert "config.page-defaults" in page and "openapi.yaml#/info" in page


def test_a_failed_rule_exits_1_and_is_named(tmp_path: Path) -> None:
    mutant = Launched.command(
        [sys.executable, str(MUTANTS), "typing-echoed"], env=server_env(), cwd=ROOT
    )
    with mutant:
        done = kit("--base-url", mutant.url, "--rule", "realtime", "--report-dir", str(tmp_path))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAIL     realtime.typing.not-to-sender" in done.stdout
    failed = [
        case.get("name")
        for case in ET.parse(tmp_path / "junit.xml").getroot().iter("testcase")
        if case.find("failure") is not None
    ]
    assert failed == ["realtime.typing.not-to-sender"]


def test_an_unreachable_target_exits_2_with_one_line() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = kit("--base-url", f"http://127.0.0.1:{port}")
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: cannot reach http://127.0.0.1:{port}")
    assert done.stderr.count("\n") == 1


def test_python_m_conformance_lists_every_rule() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "conformance", "--list"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    listed = [
        line.split()[0]
        for line in done.stdout.splitlines()
        if line.startswith("  ") and not line.startswith("   ")
    ]
    assert listed == [rule.id for rules in by_section(RULES).values() for rule in rules]
