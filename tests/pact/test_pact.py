"""A frontend's Pact contract checked against the documented rules, with Pact's own tools.

`consumer.mjs` is a consumer test as a frontend team writes it with pact-js
(`PactV3`, `MatchersV3.fromProviderState`): it runs against Pact's mock server and writes
two pacts, one that follows the documented rules and one that expects an edit after the
edit window to succeed. Pact's verifier (pact-python's `Verifier`, the Pact FFI's Rust
verifier) then replays each pact against a real server, its provider-state setup URL
pointed at `POST /api/dev/provider-states`, which makes each state in a fresh sandbox and
hands back the ids and tokens the interactions use. The first pact passes; the second
fails with Pact's own mismatch message; every sandbox the states made is torn down.

Pact's libraries report usage unless PACT_DO_NOT_TRACK is set; it is set here, so no
request leaves the machine. Without node or the npm packages the test is skipped, unless
REQUIRE_PACT is set (`tox -e pact` sets it), in which case it fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from impl.launcher import HOST, Launched

ROOT = Path(__file__).resolve().parents[2]
CONSUMER = Path(__file__).with_name("consumer.mjs")
PROVIDER = "chat-api"
NO_TRACKING = {"PACT_DO_NOT_TRACK": "true"}


def require_tools() -> None:
    missing = []
    if shutil.which("node") is None:
        missing.append("node on PATH")
    if not (ROOT / "node_modules" / "@pact-foundation" / "pact").is_dir():
        missing.append("node_modules/@pact-foundation/pact (run npm ci)")
    try:
        import pact  # noqa: F401
    except ImportError:
        missing.append("pact-python (the `pact` extra)")
    if not missing:
        return
    reason = "the Pact test needs " + "; ".join(missing)
    if os.environ.get("REQUIRE_PACT"):
        pytest.fail(f"{reason} (REQUIRE_PACT is set, so this is a failure)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def pacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pacts the consumer test writes."""
    require_tools()
    out = tmp_path_factory.mktemp("pacts")
    result = subprocess.run(
        ["node", str(CONSUMER), str(out)],
        cwd=ROOT,
        env={**os.environ, **NO_TRACKING},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    return out


@pytest.fixture(scope="module")
def server() -> Iterator[Launched]:
    os.environ.update(NO_TRACKING)  # the verifier runs in this process
    with Launched() as launched:
        yield launched


def verifier(server: Launched, pact_file: Path) -> Any:
    """Pact's verifier for one pact file, its state-change URL the dev endpoint."""
    from pact import Verifier

    return (
        Verifier(PROVIDER, host=HOST)
        .add_transport(url=server.url)
        .add_source(pact_file)
        .state_handler(f"{server.url}/api/dev/provider-states", teardown=True, body=True)
    )


def sandboxes(server: Launched) -> list[str]:
    listed = httpx.get(f"{server.url}/api/dev/sandboxes").json()["data"]["sandboxes"]
    return [sandbox["name"] for sandbox in listed]


def test_the_consumer_pact_passes_pacts_own_verifier(pacts: Path, server: Launched) -> None:
    checked = verifier(server, pacts / f"chat-web-{PROVIDER}.json")
    checked.verify()  # raises when any interaction fails
    output = checked.output(strip_ansi=True)
    assert "There were" not in output and output.count("(OK)") >= 12, output
    assert "Given a message older than the edit window" in output
    assert sandboxes(server) == ["default"], "a state's sandbox was not torn down"


def test_a_pact_expecting_a_late_edit_to_succeed_fails_verification(
    pacts: Path, server: Launched
) -> None:
    checked = verifier(server, pacts / f"chat-web-wrong-{PROVIDER}.json")
    with pytest.raises(RuntimeError, match="Failed to execute verifier"):
        checked.verify()
    output = checked.output(strip_ansi=True)
    assert "has status code 200 (FAILED)" in output
    assert "expected 200 but was 403" in output, output
    assert "There were 1 pact failures" in output
    assert sandboxes(server) == ["default"]
