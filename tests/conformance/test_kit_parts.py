"""The kit's parts without a server: its rules are well named and point at real spec
places, its operations section covers the contract, its fixture reader says what is
wrong, its contract checks catch what they should, and its reports read right."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from conformance import reports
from conformance.check import PAGE
from conformance.cli import markdown
from conformance.registry import SECTIONS, Rule
from conformance.rules import RULES, ordered
from conformance.runner import FAILED, NOT_RUN, PASSED, Outcome, Result
from conformance.specs import Contract, spec_dir
from conformance.trace import Exchange, Trace
from conformance.world import CAPABILITIES, SetupError, read_fixture

RULE_ID = re.compile(r"^[a-z]+\.[a-z0-9_.-]+$")
ROOT = Path(__file__).resolve().parents[2]
A_CHAT = "665f1c2e9b1e8a3d4c5b6a80"


@pytest.fixture(scope="module")
def contract() -> Contract:
    return Contract.load()


def test_a_checkout_kit_reads_the_repository_specs() -> None:
    assert spec_dir() == ROOT


WITHOUT_THE_SERVER = """
import importlib, pkgutil, sys

class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "impl":
            raise ModuleNotFoundError(f"{name} is made unimportable here")
        return None

sys.meta_path.insert(0, Refuse())
import conformance
for info in pkgutil.walk_packages(conformance.__path__, "conformance."):
    if info.name != "conformance.__main__":
        importlib.import_module(info.name)
from conformance.cli import main
sys.exit(main(["--list"]))
"""


def test_the_kit_runs_where_the_server_cannot_be_imported() -> None:
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_THE_SERVER],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "operations.send_message" in done.stdout


@pytest.mark.parametrize("rule", ordered(RULES), ids=lambda r: r.id)
def test_each_rule_is_named_and_comes_from_a_spec_passage(rule: Rule, contract: Contract) -> None:
    assert RULE_ID.match(rule.id) and rule.section in SECTIONS
    assert rule.statement and "\n" not in rule.statement and not rule.statement.endswith(".")
    assert set(rule.needs) <= set(CAPABILITIES)
    assert len(contract.passage(rule.source)) > 20


def test_the_operations_section_has_a_rule_per_operation(contract: Contract) -> None:
    documented = {op for op, _, _ in contract.operations()}
    assert {
        r.id.removeprefix("operations.") for r in RULES.values() if r.section == "operations"
    } == documented


def test_the_guide_lists_the_rules_as_the_kit_does() -> None:
    guide = (ROOT / "docs" / "conformance.md").read_text(encoding="utf-8")
    listed = re.search(r"<!-- rules: begin -->\n(.*)\n<!-- rules: end -->", guide, re.DOTALL)
    assert listed is not None, "docs/conformance.md lost its rules markers"
    assert listed.group(1) == markdown(), (
        "docs/conformance.md lists other rules than the kit: paste the output of "
        "`python -m conformance --list --markdown` between its markers"
    )
    assert f"runs {len(RULES)}\nnamed rules" in guide or f"runs {len(RULES)} named rules" in guide


def test_clock_movers_run_last() -> None:
    order = [r.clock_order for r in ordered(RULES)]
    assert order == sorted(order) and order[-1] > 0


def write(tmp_path: Path, content: object) -> Path:
    path = tmp_path / "users.json"
    path.write_text(json.dumps(content), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        ({"people": []}, 'expected {"users"'),
        ({"users": [{"id": "42", "role": "user", "token": "t"}]}, "id must be a 24-hex user id"),
        ({"users": [{"id": A_CHAT, "role": "owner", "token": "t"}]}, "role must be one of"),
        ({"users": [{"id": A_CHAT, "role": "user"}]}, "token must be"),
        ({"users": [{"id": A_CHAT, "role": "user", "token": "t"}] * 2}, "listed twice"),
    ],
)
def test_a_bad_fixture_is_refused_with_the_reason(
    tmp_path: Path, content: object, complaint: str
) -> None:
    with pytest.raises(SetupError, match=re.escape(complaint)):
        read_fixture(write(tmp_path, content))


def test_a_fixture_names_users_by_role_when_it_gives_no_name(tmp_path: Path) -> None:
    (user,) = read_fixture(
        write(tmp_path, {"users": [{"id": A_CHAT, "role": "admin", "token": "t"}]})
    )
    assert (user.name, user.role, user.token) == ("admin-1", "admin", "t")


def test_an_event_missing_a_required_field_breaks_asyncapi(contract: Contract) -> None:
    read = {"chatId": A_CHAT, "seq": 2, "userId": A_CHAT, "messageIds": [A_CHAT]}
    (problem,) = contract.event_problems("messages-read", read)
    assert "'readAt' is a required property" in problem
    assert (
        contract.event_problems("messages-read", {**read, "readAt": "2026-11-25T12:00:00.000Z"})
        == []
    )
    assert contract.event_problems("messages-read", {**read, "readAt": "yesterday"})


def test_typing_with_a_seq_breaks_asyncapi(contract: Contract) -> None:
    typing = {"chatId": A_CHAT, "userId": A_CHAT, "isTyping": True, "expiresInMs": 5000}
    assert contract.event_problems("user-typing", typing) == []
    assert contract.event_problems("user-typing", {**typing, "seq": 3})


def test_an_undocumented_status_breaks_openapi(contract: Contract) -> None:
    route = contract.operation("put", f"/api/chat/{A_CHAT}/archive")
    assert route is not None and route.operation_id == "archive_chat"
    (problem,) = contract.response_problems(route, 201, "application/json", {}, {}, True)
    assert "answered 201, which it does not document" in problem


def test_the_most_literal_path_wins(contract: Contract) -> None:
    found = contract.operation("patch", f"/api/chat/{A_CHAT}/messages/read")
    assert found is not None and found.operation_id == "mark_messages_read"


def outcome(rule_id: str, status: str, message: str = "") -> Outcome:
    trace = Trace()
    trace.exchanges.append(
        Exchange(
            "POST",
            "/api/chat/x/messages",
            "send_message",
            "ann",
            {"Authorization": "Bearer [token]"},
            '{"content": "<b>"}',
            200,
        )
    )
    trace.socket("ann socket", "event", "new-message", {"chatId": "x"})
    return Outcome(RULES[rule_id], status, message, 0.5, trace)


@pytest.fixture
def result() -> Result:
    found = Result(
        "http://staging.example",
        {"mode": "fixture", "missing": {}},
        PAGE,
        "config",
        "2026-12-06T00:00:00Z",
        1.5,
    )
    found.outcomes = [
        outcome("operations.send_message", FAILED, "POST ... answered 200, expected 201 <&>"),
        outcome("chats.archive.toggles", PASSED),
        outcome("limits.edit-window", NOT_RUN, "the target's clock cannot be moved"),
    ]
    return found


def test_the_json_result_holds_traces_of_failures_only(result: Result, contract: Contract) -> None:
    data = reports.as_json(result, contract)
    assert data["summary"] == {"rules": 3, "passed": 1, "failed": 1, "notRun": 1}
    by_id = {r["id"]: r for r in data["rules"]}
    assert by_id["operations.send_message"]["exchanges"][0]["operation"] == "send_message"
    assert "exchanges" not in by_id["chats.archive.toggles"]
    assert by_id["limits.edit-window"]["message"] == "the target's clock cannot be moved"
    assert by_id["chats.archive.toggles"]["source"]["passage"].startswith("Toggle or set")
    assert result.exit_code == 1


def test_junit_has_a_suite_per_section(result: Result) -> None:
    suites = ET.fromstring(reports.junit(result))
    assert [s.get("name") for s in suites] == ["operations", "chats", "limits"]
    cases = {c.get("name"): c for c in suites.iter("testcase")}
    assert cases["operations.send_message"].find("failure") is not None
    skipped = cases["limits.edit-window"].find("skipped")
    assert skipped is not None and skipped.get("message") == "the target's clock cannot be moved"


def test_the_html_report_escapes_what_it_shows(result: Result, contract: Contract) -> None:
    page = reports.report_html(result, contract)
    assert "expected 201 &lt;&amp;&gt;" in page and "&lt;b&gt;" in page and "<b>" not in page
    assert page.count('<details id="') == 3 and page.count('class="failed" open>') == 1
    assert '<li><a href="#operations.send_message">' in page  # the failures, listed first
    assert '<li><a href="#limits.edit-window">' in page


def test_the_console_summary_names_failures_and_reasons(result: Result) -> None:
    text = reports.console(result)
    assert "FAIL     operations.send_message" in text
    assert "NOT RUN  limits.edit-window" in text and "clock cannot be moved" in text
    assert "chats.archive.toggles" not in text
    assert text.endswith("3 rules: 1 passed, 1 failed, 1 not run in 1.5 s")
