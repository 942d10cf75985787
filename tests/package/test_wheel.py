"""The package as a user installs it, not as a checkout runs it.

A copy of the repository's files (what a fresh clone or `pip install git+...` sees) is
built into a wheel with `python -m build`; the wheel goes into a new virtual environment;
its `chat-api serve` console script starts from an unrelated directory on a free port;
and every document and page the landing page links to must answer, with the specs served
exactly as the top-level files say (default settings write nothing into them). The
conformance kit installed with it reads its own copy of the specs and, run from elsewhere
as `chat-api conformance`, passes every rule against that server.

Slow (a real build, npm fetching the AsyncAPI renderer and Mermaid, nbconvert, a full
install), so it runs in its own tox env: `tox -e package`. Needs network access to PyPI
and npm, like any install.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from fresh_machine import fresh_clone
from impl.launcher import Launched
from pages import every_linked_page, get

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
BUILD_TIMEOUT_S = 150
START_TIMEOUT_S = 60
SPECS = ("openapi.yaml", "asyncapi.yaml")


def run(command: list[str], cwd: Path, timeout: float) -> str:
    done = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{' '.join(command)}\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def uv(*args: str) -> list[str]:
    return [sys.executable, "-m", "uv", *args]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ folder of a fresh environment holding only the built wheel and its deps."""
    work = tmp_path_factory.mktemp("package")
    source = fresh_clone(work / "source")
    dist = work / "dist"
    build = [sys.executable, "-m", "build", "--wheel", "--installer", "uv", "--outdir", str(dist)]
    said = run([*build, str(source)], cwd=work, timeout=BUILD_TIMEOUT_S)
    assert "Deprecat" not in said, "the build warns of something deprecated:\n" + said[-3000:]
    wheels = list(dist.glob("*.whl"))
    assert len(wheels) == 1, wheels
    venv = work / "venv"
    run(uv("venv", "--quiet", "--python", sys.executable, str(venv)), cwd=work, timeout=60)
    python = venv / "bin" / "python"
    run(uv("pip", "install", "--quiet", "--python", str(python), str(wheels[0])), work, 120)
    return venv / "bin"


@pytest.fixture(scope="module")
def server(installed: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`chat-api serve` started from a directory that holds nothing of the project, with the
    environment policy of every launched server (impl.launcher) and no `PYTHON*` variable."""
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    program = [str(installed / "chat-api")]
    launched = Launched("--log-level", "info", demo=True, program=program, cwd=elsewhere)
    with launched.start(START_TIMEOUT_S):
        yield launched.url


def test_every_page_the_landing_page_links_answers(server: str) -> None:
    assert every_linked_page(server) == []


def test_installed_package_carries_no_checkout_path(installed: Path) -> None:
    python = installed / "python"
    code = "import impl.resources as r; print(r.INSTALLED, r.SOURCE_DIR)"
    done = subprocess.run(
        [str(python), "-c", code], cwd=installed, capture_output=True, text=True, check=True
    )
    assert done.stdout.startswith("True ") and "site-packages" in done.stdout


@pytest.mark.parametrize("name", SPECS)
def test_served_specs_are_the_top_level_files(server: str, name: str) -> None:
    status, _, body = get(f"{server}/{name}")
    assert status == 200
    assert body == (ROOT / name).read_bytes()


def test_served_json_is_the_top_level_openapi(server: str) -> None:
    status, kind, body = get(f"{server}/openapi.json")
    assert status == 200
    assert kind.startswith("application/json")
    expected = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    assert json.loads(body) == expected


def test_the_installed_kit_reads_its_own_copy_of_the_specs(installed: Path) -> None:
    code = "import conformance.specs as s; print(s.spec_dir())"
    done = subprocess.run(
        [str(installed / "python"), "-c", code],
        cwd=installed,
        capture_output=True,
        text=True,
        check=True,
    )
    folder = Path(done.stdout.strip())
    assert folder.parts[-2:] == ("conformance", "_specs") and "site-packages" in folder.parts
    for name in SPECS:
        assert (folder / name).read_bytes() == (ROOT / name).read_bytes()


def test_the_installed_kit_passes_against_the_installed_server(
    installed: Path, server: str, tmp_path: Path
) -> None:
    """`chat-api conformance` from a fresh install, run elsewhere, against a base URL."""
    kit = [str(installed / "chat-api"), "conformance", "--base-url", server, "--report-dir", "out"]
    done = subprocess.run(
        kit, cwd=tmp_path, capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))["summary"]
    assert summary["failed"] == 0 and summary["notRun"] == 0
