"""Clients generated from openapi.yaml, proven against a live server.

tools/sdk/generate.py writes five clients into build/sdk/ and fails if a generator warns
about the spec. Then each client runs the same flow (tools/sdk/flow_*) against a fresh
`python -m impl serve`: users from the dev endpoint, a chat, send, edit, read, list,
delete, and typed problem documents for the 4xx answers. The openapi-python-client flow
must pass `mypy --strict` against the generated package (the openapi-generator python
client is not typed for mypy: no explicit re-exports, pydantic field aliases); the
TypeScript flows and clients must compile with `tsc --strict`. The client examples of
docs/contract-testing.md, and the README's quick-start body, run the same way as
programs (tools/sdk/doc_examples.py), against a server with the demo users that body
names. Logs land in test-output/sdk/.

A missing generator, node or mypy skips what needs it, unless REQUIRE_SDK is set (the tox
env `sdk` sets it), in which case it fails.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools" / "sdk"
SDK = ROOT / "build" / "sdk"
OUTPUT = Path(os.environ.get("TEST_OUTPUT_DIR", ROOT / "test-output")) / "sdk"
TSC = ROOT / "node_modules" / "typescript" / "bin" / "tsc"
COMPILED = SDK / "ts-out" / "tools" / "sdk"
DOC_EXAMPLES = SDK / "doc-examples"
COMPILED_DOC_EXAMPLES = SDK / "ts-out" / "build" / "sdk" / "doc-examples"
FLOW_TIMEOUT_S = 180


def unavailable(reason: str) -> None:
    """Skip for a missing tool, or fail when REQUIRE_SDK says every tool must be here."""
    if os.environ.get("REQUIRE_SDK"):
        pytest.fail(f"{reason} (REQUIRE_SDK is set, so this is a failure)")
    pytest.skip(reason)


def run_logged(name: str, command: list[str], env: dict[str, str] | None = None) -> str:
    """Run `command` from the repository root, keep its output in OUTPUT, return it."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    completed = subprocess.run(
        command,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=FLOW_TIMEOUT_S,
        check=False,
    )
    (OUTPUT / f"{name}.log").write_text(completed.stdout, encoding="utf-8")
    assert completed.returncode == 0, (
        f"{' '.join(command)} exited {completed.returncode}:\n" + (completed.stdout[-6000:])
    )
    return completed.stdout


def against_live_server(
    name: str, command: list[str], env: dict[str, str] | None = None, demo: bool = False
) -> str:
    server_log = OUTPUT / f"{name}.server.log"
    wrapped = [sys.executable, str(TOOLS / "live_server.py"), "--log", str(server_log)]
    wrapped += ["--demo", "--"] if demo else ["--"]
    return run_logged(name, wrapped + command, env)


@pytest.fixture(scope="module")
def generated() -> Path:
    """build/sdk/ after one run of every generator; fails on any warning about the spec."""
    completed = subprocess.run(
        [sys.executable, str(TOOLS / "generate.py"), "--out", str(SDK)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=FLOW_TIMEOUT_S,
        check=False,
    )
    OUTPUT.mkdir(parents=True, exist_ok=True)
    (OUTPUT / "generate.log").write_text(completed.stdout + completed.stderr, encoding="utf-8")
    if completed.returncode == 2:
        unavailable(f"a generator is missing: {completed.stderr.strip()}")
    if completed.returncode != 0:
        pytest.fail(
            "a generator failed or warned about openapi.yaml "
            f"(details in {SDK / 'generate-report.json'}):\n{completed.stdout}"
        )
    return SDK


@pytest.fixture(scope="module")
def doc_examples(generated: Path) -> Path:
    """build/sdk/doc-examples/: the docs' client examples, as written, made programs."""
    script = str(TOOLS / "doc_examples.py")
    run_logged("doc-examples", [sys.executable, script, "--out", str(DOC_EXAMPLES)])
    return DOC_EXAMPLES


@pytest.fixture(scope="module")
def compiled(generated: Path, doc_examples: Path) -> Path:
    """The TypeScript flows, doc examples and generated clients, compiled with tsc --strict."""
    if shutil.which("node") is None or not TSC.is_file():
        unavailable("node and node_modules/typescript are needed (npm ci)")
    run_logged("tsc", ["node", str(TSC), "-p", str(TOOLS / "tsconfig.json")])
    return COMPILED


def test_generators_do_not_warn_about_the_spec(generated: Path) -> None:
    assert (generated / "python" / "chat_api_client" / "client.py").is_file()
    assert (generated / "typescript" / "schema.ts").is_file()
    assert (generated / "axios" / "api.ts").is_file()
    assert (generated / "pydantic" / "chat_api_pydantic" / "api_client.py").is_file()
    assert (generated / "orval" / "api.ts").is_file()


def test_python_flow_type_checks_against_the_generated_client(generated: Path) -> None:
    if importlib.util.find_spec("mypy") is None:
        unavailable("mypy is needed to type-check the Python flow")
    config = str(TOOLS / "mypy.ini")
    env = {"MYPYPATH": str(generated / "python")}
    command = [sys.executable, "-m", "mypy", "--config-file", config, str(TOOLS / "flow_python.py")]
    run_logged("mypy-flow-python", command, env)


def test_python_client_runs_the_flow_against_a_live_server(generated: Path) -> None:
    env = {"PYTHONPATH": str(generated / "python")}
    output = against_live_server(
        "flow-python", [sys.executable, str(TOOLS / "flow_python.py"), "{url}"], env
    )
    assert "all steps passed" in output


def test_pydantic_client_raises_typed_exceptions_through_the_flow(generated: Path) -> None:
    env = {"PYTHONPATH": str(generated / "pydantic")}
    output = against_live_server(
        "flow-pydantic", [sys.executable, str(TOOLS / "flow_pydantic.py"), "{url}"], env
    )
    assert "all steps passed" in output


def test_typescript_clients_compile_with_tsc_strict(compiled: Path) -> None:
    for flow in ("flow_fetch", "flow_axios", "flow_orval"):
        assert (compiled / f"{flow}.js").is_file()


@pytest.mark.parametrize("flow", ["flow_fetch", "flow_axios", "flow_orval"])
def test_typescript_client_runs_the_flow_against_a_live_server(compiled: Path, flow: str) -> None:
    output = against_live_server(flow, ["node", str(compiled / f"{flow}.js"), "{url}"])
    assert "all steps passed" in output


@pytest.mark.parametrize("example", ["openapi_fetch", "typescript_axios", "orval"])
def test_typescript_doc_example_runs_as_written(compiled: Path, example: str) -> None:
    program = COMPILED_DOC_EXAMPLES / f"{example}.js"
    output = against_live_server(f"doc-{example}", ["node", str(program), "{url}"], demo=True)
    assert "all steps passed" in output


def test_python_doc_example_type_checks_against_the_generated_client(doc_examples: Path) -> None:
    if importlib.util.find_spec("mypy") is None:
        unavailable("mypy is needed to type-check the Python doc example")
    config = str(TOOLS / "mypy.ini")
    env = {"MYPYPATH": os.pathsep.join([str(SDK / "python"), str(TOOLS)])}
    program = str(doc_examples / "openapi_python_client.py")
    run_logged(
        "mypy-doc-python", [sys.executable, "-m", "mypy", "--config-file", config, program], env
    )


@pytest.mark.parametrize(
    ("example", "package"),
    [("openapi_python_client", "python"), ("openapi_generator_python", "pydantic")],
)
def test_python_doc_example_runs_as_written(doc_examples: Path, example: str, package: str) -> None:
    env = {"PYTHONPATH": os.pathsep.join([str(SDK / package), str(TOOLS)])}
    program = str(doc_examples / f"{example}.py")
    output = against_live_server(f"doc-{example}", [sys.executable, program], env, demo=True)
    assert "all steps passed" in output
