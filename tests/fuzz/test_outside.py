"""Schemathesis as an outsider runs it: the CLI against a served instance, default checks,
no project configuration or hooks, dev endpoints left out, one demo user's token.

    schemathesis run URL/openapi.json -H "Authorization: Bearer $TOKEN" \\
        --exclude-path-regex '^/api/dev/'

The only failures such a run may report are schema-valid requests that the contract
rejects for a rule no schema can state, and each of those must be named, with the
problem `detail` it is answered with, in `schemathesis.toml` (see its header). Anything
else fails the test: another check, an unnamed rule, or a named rule on another
operation. So a rule that becomes expressible (or a new one that is not written down)
shows up here instead of hiding behind a relaxed status list.

The run is bounded by `--max-time` (20 s; 180 s with `FUZZ_PROFILE=long`); the server is
a real `python -m impl serve` on a free port (impl.launcher), started and stopped by this
test.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from fuzzkit import BUDGET

from impl.launcher import Launched, server_env

ROOT = Path(__file__).resolve().parents[2]
DEMO_BUYER = "000000000000000000000b01"  # impl.domain.dev.DEMO_CAST: a plain user
RULE_LINE = re.compile(r'^#\s+(?P<status>\d{3})\s+"(?P<detail>[^"]+)"')


@dataclass(frozen=True)
class Finding:
    check: str
    code: str
    operation: str
    status: int | None
    detail: str

    def __str__(self) -> str:
        return f"{self.code} {self.check} {self.operation} -> {self.status} {self.detail!r}"


def listed_rules() -> dict[str, list[tuple[int, str]]]:
    """operationId -> [(status, detail pattern)] from the comment lines of schemathesis.toml."""
    rules: dict[str, list[tuple[int, str]]] = {}
    text = (ROOT / "schemathesis.toml").read_text(encoding="utf-8")
    for block in text.split("[[operations]]")[1:]:
        found = re.search(r'^include-operation-id\s*=\s*"([^"]+)"', block, re.MULTILINE)
        assert found, f"an [[operations]] block without include-operation-id:\n{block}"
        lines = (RULE_LINE.match(line.strip()) for line in block.splitlines())
        rules[found[1]] = [(int(m["status"]), m["detail"]) for m in lines if m]
    return rules


def operation_ids() -> dict[str, str]:
    """ "METHOD /path" (as schemathesis labels operations) -> operationId."""
    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    return {
        f"{method.upper()} {path}": operation["operationId"]
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "operationId" in operation
    }


def decoded(content: Any) -> str:
    if isinstance(content, dict) and "$base64" in content:
        return base64.b64decode(content["$base64"]).decode("utf-8", "replace")
    return "" if content is None else str(content)


def findings(report: Path) -> tuple[list[Finding], list[str]]:
    """Every failed check of the run (with the answer's status and detail), and its errors."""
    found: list[Finding] = []
    errors: list[str] = []
    for line in report.read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        if "NonFatalError" in event:
            errors.append(json.dumps(event["NonFatalError"])[:2000])
        recorder = event.get("ScenarioFinished", {}).get("recorder", {})
        for case_id, checks in recorder.get("checks", {}).items():
            for check in checks:
                if check["status"] != "failure":
                    continue
                failure = check["failure_info"]["failure"]
                response = (recorder.get("interactions", {}).get(case_id) or {}).get("response")
                status, detail = None, ""
                if response:
                    status = response["status_code"]
                    body = decoded(response.get("content"))
                    try:
                        detail = str(json.loads(body).get("detail", body))
                    except (ValueError, AttributeError):
                        detail = body[:500]
                found.append(
                    Finding(check["name"], failure["code"], failure["operation"], status, detail)
                )
    return found, errors


def is_listed(
    finding: Finding, rules: dict[str, list[tuple[int, str]]], ids: dict[str, str]
) -> bool:
    if finding.check != "positive_data_acceptance":
        return False
    operation = ids.get(finding.operation, "")
    return any(
        finding.status == status and fnmatch.fnmatchcase(finding.detail, pattern)
        for status, pattern in rules.get(operation, [])
    )


def outsider_env() -> dict[str, str]:
    """The environment without anything that would configure schemathesis for us."""
    return {
        k: v for k, v in os.environ.items() if not k.startswith(("SCHEMATHESIS_", "HYPOTHESIS_"))
    }


def test_every_listed_rule_names_an_operation_of_the_spec() -> None:
    known = set(operation_ids().values())
    rules = listed_rules()
    assert set(rules) <= known, sorted(set(rules) - known)
    for operation, listed in rules.items():
        for status, detail in listed:
            assert 400 <= status < 500 and detail.strip(), (operation, status, detail)


def test_an_outsider_run_finds_only_the_listed_rules(tmp_path: Path) -> None:
    report = tmp_path / "events.ndjson"
    server = Launched(settings={"LOG_LEVEL": "warning"}, demo=True, log_path=tmp_path / "log")
    with server.start():
        token = subprocess.run(
            [sys.executable, "-m", "impl", "token", DEMO_BUYER],
            cwd=ROOT,
            env=server_env(),
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout.strip()
        command = [sys.executable, "-m", "schemathesis.cli", "run", f"{server.url}/openapi.json"]
        command += ["-H", f"Authorization: Bearer {token}"]
        command += ["--exclude-path-regex", "^/api/dev/", "--max-time", str(BUDGET.outside_seconds)]
        command += ["--continue-on-failure", "--no-color"]
        command += ["--report", "ndjson", "--report-ndjson-path", str(report)]
        # From an empty directory: no schemathesis.toml is discovered, no hooks are loaded.
        run = subprocess.run(
            command,
            cwd=tmp_path,
            env=outsider_env(),
            capture_output=True,
            text=True,
            timeout=BUDGET.outside_seconds + 120,
            check=False,
        )
    assert report.is_file(), f"no report; schemathesis said:\n{run.stdout[-4000:]}{run.stderr}"
    found, errors = findings(report)
    rules, ids = listed_rules(), operation_ids()
    unexpected = sorted({str(f) for f in found if not is_listed(f, rules, ids)})
    assert not errors, "schemathesis could not test everything:\n" + "\n".join(errors)
    assert not unexpected, (
        "failures that schemathesis.toml does not name as a rule no schema can state "
        "(state the rule in openapi.yaml, or name it there with its reason):\n  "
        + "\n  ".join(unexpected)
        + f"\n\nschemathesis output (tail):\n{run.stdout[-3000:]}"
    )
