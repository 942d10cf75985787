"""The served docs as a reader's browser sees them, and CORS as a frontend's browser
enforces it.

A live server (tools/sdk/live_server.py) is opened by headless Chromium, driven by
playwright-core in docs_pages.mjs: the landing page, Swagger UI and the AsyncAPI page must
render every operation and event of the specs, each notebook its cells, outputs and
sequence diagrams (as SVG pictures; as their source when Mermaid cannot load), and each
guide its text, with no console error and no request leaving 127.0.0.1. On Swagger UI, a
click on a demo user authorizes "Try it out", whose `GET /api/chat` then answers 200.
The AsyncAPI renderer, Mermaid, and the notebook and guide pages come from the package's
install step, with no further command.
Screenshots, the request log and the server log land in test-output/browser/.

A second run (cors_origins.mjs) plays two frontends on other origins: one the server
allows, whose credentialed fetch and socket.io-client (`withCredentials`) both work, and a
foreign one, blocked on both.

A third (sandboxes.mjs) runs two pages in two sandboxes at once, as two parallel test
workers would: neither sees the other's messages, events or chats.

Then a frontend's page taken out of the server's edge (frontend_bridge.mjs): what a real
page emitted and received over Socket.IO, asserted through the journal; and a session
recorded as HAR (checked by npm `har-validator`), replayed by the same page with
Playwright's `routeFromHAR` after the server has stopped.

Without Chromium or node the test is skipped, unless REQUIRE_BROWSER is set (CI sets it),
in which case it fails and says what is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from impl.domain.dev import DEMO_CAST
from impl.launcher import Launched

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("docs_pages.mjs")
CORS_SCRIPT = Path(__file__).with_name("cors_origins.mjs")
SANDBOX_SCRIPT = Path(__file__).with_name("sandboxes.mjs")
BRIDGE_SCRIPT = Path(__file__).with_name("frontend_bridge.mjs")
LIVE_SERVER = ROOT / "tools" / "sdk" / "live_server.py"
OUTPUT = Path(os.environ.get("TEST_OUTPUT_DIR", ROOT / "test-output")) / "browser"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
HTTP_METHODS = ("get", "put", "post", "patch", "delete")
RUN_TIMEOUT_S = 240


def missing_tools() -> list[str]:
    """What this test needs and cannot find, as readable reasons."""
    missing = []
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        missing.append(f"Chromium at {CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)")
    if shutil.which("node") is None:
        missing.append("node on PATH")
    if not (ROOT / "node_modules" / "playwright-core").is_dir():
        missing.append("node_modules/playwright-core (run npm ci)")
    return missing


def require_tools() -> None:
    missing = missing_tools()
    if not missing:
        return
    reason = "headless browser test needs " + "; ".join(missing)
    if os.environ.get("REQUIRE_BROWSER"):
        pytest.fail(f"{reason} (REQUIRE_BROWSER is set, so this is a failure)")
    pytest.skip(reason)


def load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))
    return document


def load_json(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def expectations() -> dict[str, Any]:
    """What the pages must show, read from the specs and the notebooks folder."""
    openapi = load("openapi.yaml")
    asyncapi = load("asyncapi.yaml")
    rest = [
        f"{method.upper()} {path}"
        for path, item in openapi["paths"].items()
        for method in item
        if method in HTTP_METHODS
    ]
    messages = asyncapi.get("components", {}).get("messages", {})
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    return {
        "restOperations": rest,
        "asyncapiOperations": list(asyncapi.get("operations", {})),
        "asyncapiMessages": {key: message.get("name") for key, message in messages.items()},
        "notebooks": [p.name for p in notebooks],
        "notebookCells": {p.name: len(load_json(p)["cells"]) for p in notebooks},
        "notebookDiagrams": {p.name: diagrams(load_json(p)) for p in notebooks},
        "guides": [p.stem for p in sorted((ROOT / "docs").glob("*.md"))],
        "demoUser": DEMO_CAST[0][1],
        # Swagger UI's element id of the operation "Try it out" runs: GET /api/chat
        "tryItOut": "operations-{}-{}".format(
            openapi["paths"]["/api/chat"]["get"]["tags"][0],
            openapi["paths"]["/api/chat"]["get"]["operationId"],
        ),
    }


def diagrams(notebook: dict[str, Any]) -> int:
    """How many Mermaid diagrams the notebook's markdown holds."""
    markdown = [c for c in notebook["cells"] if c["cell_type"] == "markdown"]
    return sum("".join(c["source"]).count("```mermaid") for c in markdown)


def run(command: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_docs_pages_render_in_chromium_without_leaving_the_server() -> None:
    require_tools()
    if OUTPUT.exists():
        shutil.rmtree(OUTPUT)
    OUTPUT.mkdir(parents=True)
    expect_path = OUTPUT / "expect.json"
    expect_path.write_text(json.dumps(expectations(), indent=2), encoding="utf-8")
    # --demo: Swagger UI's panel offers the demo users
    log = str(OUTPUT / "server.log")
    command = [sys.executable, str(LIVE_SERVER), "--log", log, "--demo", "--"]
    command += ["node", str(SCRIPT), "{url}", str(expect_path), str(OUTPUT)]

    result = run(command, timeout=RUN_TIMEOUT_S)

    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    report = json.loads((OUTPUT / "report.json").read_text(encoding="utf-8"))
    assert report["failures"] == [] and report["offsite"] == []
    assert {page["name"] for page in report["pages"]} >= {"landing", "swagger-ui", "asyncapi"}
    assert all(Path(page["screenshot"]).is_file() for page in report["pages"])
    expected = expectations()
    drawn = {name: count for name, count in expected["notebookDiagrams"].items() if count}
    assert drawn, "no notebook holds a diagram to check"
    assert report["diagrams"] == drawn
    assert report["diagramFallback"] == {"sourceShown": True, "pictures": 0}
    assert report["tryItOut"] == {"user": expected["demoUser"], "status": 200}
    assert sorted(report["guides"]) == expected["guides"]


def test_cors_in_chromium_credentialed_calls_from_allowed_origins_only() -> None:
    require_tools()
    out = OUTPUT / "cors"
    out.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(LIVE_SERVER), "--log", str(out / "server.log"), "--"]
    command += ["node", str(CORS_SCRIPT), "{url}", str(out)]

    result = run(command, timeout=RUN_TIMEOUT_S)

    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    report = json.loads((out / "cors.json").read_text(encoding="utf-8"))
    assert report["allowed"]["rest"]["ok"] and report["allowed"]["socket"]["ok"]
    assert not report["foreign"]["rest"]["ok"] and not report["foreign"]["socket"]["ok"]


def test_two_pages_in_two_sandboxes_see_only_their_own_messages_and_events() -> None:
    require_tools()
    out = OUTPUT / "sandboxes"
    out.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(LIVE_SERVER), "--log", str(out / "server.log"), "--"]
    command += ["node", str(SANDBOX_SCRIPT), "{url}", str(out)]

    result = run(command, timeout=RUN_TIMEOUT_S)

    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    report = json.loads((out / "sandboxes.json").read_text(encoding="utf-8"))
    first, second = report["worlds"]
    assert first["history"] == ["apple 2", "apple 1", "apple 0"]
    assert second["history"] == ["pear 2", "pear 1", "pear 0"]
    assert report["crossed"] == [404, 404]


def test_what_a_page_emitted_and_received_over_socketio_is_in_the_journal() -> None:
    require_tools()
    out = OUTPUT / "bridge"
    out.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(LIVE_SERVER), "--log", str(out / "server.log"), "--"]
    command += ["node", str(BRIDGE_SCRIPT), "sockets", "{url}", str(out)]

    result = run(command, timeout=RUN_TIMEOUT_S)

    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    report = load_json(out / "sockets.json")
    assert [e["event"] for e in report["emitted"]] == [
        "join-chat-room",
        "typing-start",
        "typing-start",
        "typing-stop",
    ]
    assert report["emitted"][2]["violation"] == "payload must be {chatId}"
    assert report["disconnects"] == 2


def port_closed(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as probe:
        return probe.connect_ex((host, int(port))) != 0


def test_a_recorded_session_replays_offline_from_its_har() -> None:
    require_tools()
    out = OUTPUT / "har"
    out.mkdir(parents=True, exist_ok=True)
    with Launched(log_path=out / "server.log") as server:
        url = server.url
        recorded = run(["node", str(BRIDGE_SCRIPT), "record", url, str(out)], RUN_TIMEOUT_S)
    assert recorded.returncode == 0, f"{recorded.stdout}\n{recorded.stderr}"
    assert port_closed(url), "the server still answers"

    replayed = run(["node", str(BRIDGE_SCRIPT), "replay", url, str(out)], RUN_TIMEOUT_S)

    assert replayed.returncode == 0, f"{replayed.stdout}\n{replayed.stderr}"
    record, replay = load_json(out / "record.json"), load_json(out / "replay.json")
    assert record["valid"] and record["entries"] == 3 and not record["tokenInHar"]
    assert replay["rendered"] == record["rendered"]
    assert record["rendered"]["shown"] == "Is it still for sale?"
