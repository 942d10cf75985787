"""The README's first command, and every documented install, on a machine that never saw
the project.

Each test takes a fresh clone of the working tree (`fresh_machine.fresh_clone`), a fresh
virtual environment and a fresh home, and runs in a mount namespace that hides what this
machine's earlier installs, caches and global configuration could lend a build
(`fresh_machine.HIDDEN`): pip's build isolation must then find everything on its own.

- the README's first command, read from the README and run as written (with `PORT=0` in
  the environment, so that a server the reader already runs on 8080 is no obstacle);
- `pip install .` and `pip install git+file://<clone>` (the contract-testing guide's
  recipe), then `chat-api serve` from the home folder;
- a wheelhouse built once with `pip wheel -w` (as the README's offline install says),
  installed and served in a namespace with no network at all (`unshare --net`).

Every server must answer every page its landing page links to. Needs root (for
`unshare`) and the network (PyPI, npm); where `unshare` is refused the tests fail with the
reason unless `FRESH_MACHINE_TEST=off` is set, which skips them by name.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fresh_machine import OPT_OUT, base_python, check_unshare, clean_env, fresh_clone, isolated
from impl.launcher import Launched, ServerFailed
from pages import every_linked_page

ROOT = Path(__file__).resolve().parents[2]
# an install fetches every dependency, the AsyncAPI renderer, and renders the notebooks
INSTALL_TIMEOUT_S = 600
WHEELHOUSE_TIMEOUT_S = 900


@pytest.fixture(scope="module", autouse=True)
def namespaces() -> None:
    why = check_unshare()
    if why is None:
        return
    if os.environ.get(OPT_OUT, "").lower() == "off":
        pytest.skip(f"{why}; skipped because {OPT_OUT}=off")
    pytest.fail(
        f"the fresh-machine install test cannot run: {why}. Run it as root on Linux, "
        f"or set {OPT_OUT}=off to skip it knowingly.",
        pytrace=False,
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The new user's home, shared by this module's installs (its pip cache too: what one
    install downloads, the next may reuse, as on any machine)."""
    return tmp_path_factory.mktemp("home")


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    return fresh_clone(tmp_path / "clone")


def readme_first_command() -> str:
    """The first command of the README's quick start, without its comment."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("## Quick start")
    block = re.search(r"```sh\n(.*?)```", readme[start:], re.DOTALL)
    assert block is not None, "the quick start has no sh block"
    first = block.group(1).splitlines()[0]
    return first.split("#", 1)[0].strip()


def serve_fresh(
    line: str, clone: Path, home: Path, tmp_path: Path, *, offline: bool = False
) -> Iterator[Launched]:
    """`line` run by a new user in `clone` with a fresh venv first on PATH, isolated; the
    server it starts, once it listens."""
    venv = tmp_path / "venv"
    shell = f"{shlex.quote(str(base_python()))} -m venv {shlex.quote(str(venv))} && {line}"
    env = clean_env(home, [venv / "bin"]) | {"VIRTUAL_ENV": str(venv), "PORT": "0"}
    argv = isolated(shell, tmp_path / "empty", offline=offline)
    server = Launched.command(argv, env=env, cwd=clone)
    try:
        server.start(INSTALL_TIMEOUT_S)
    except ServerFailed as failed:
        pytest.fail(f"`{line}` did not start a server:\n{failed}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


def test_readme_first_command_serves_every_page(clone: Path, home: Path, tmp_path: Path) -> None:
    line = readme_first_command()
    assert line.startswith("python -m pip install"), line
    for server in serve_fresh(line, clone, home, tmp_path):
        assert every_linked_page(server.url) == []


@pytest.mark.parametrize(
    "install",
    ["python -m pip install .", "python -m pip install git+file://{clone}"],
    ids=["pip-install-dot", "pip-install-git"],
)
def test_documented_install_serves_every_page(
    install: str, clone: Path, home: Path, tmp_path: Path
) -> None:
    line = install.format(clone=clone) + ' && cd "$HOME" && chat-api serve'
    for server in serve_fresh(line, clone, home, tmp_path):
        assert every_linked_page(server.url) == []


def test_wheelhouse_installs_and_serves_offline(clone: Path, home: Path, tmp_path: Path) -> None:
    wheelhouse = tmp_path / "wheelhouse"
    build_venv = tmp_path / "build-venv"
    build = (
        f"{shlex.quote(str(base_python()))} -m venv {build_venv} && . {build_venv}/bin/activate"
        f" && python -m pip wheel -w {wheelhouse} ."
    )
    done = subprocess.run(
        isolated(build, tmp_path / "empty"),
        env=clean_env(home),
        cwd=clone,
        capture_output=True,
        text=True,
        timeout=WHEELHOUSE_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, f"pip wheel failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert list(wheelhouse.glob("chat_api_reference-*.whl")), "no wheel of the project"
    install = (
        f"python -m pip install --no-index --find-links {wheelhouse} chat-api-reference"
        ' && cd "$HOME" && chat-api serve'
    )
    offline = tmp_path / "offline"
    offline.mkdir()
    for server in serve_fresh(install, offline, home, offline, offline=True):
        # the server lives in a network of its own: look at it from inside that network
        check = ["nsenter", f"--target={server.pid}", "--net", "--", sys.executable]
        looked = subprocess.run(
            [*check, str(Path(__file__).with_name("pages.py")), server.url],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert looked.returncode == 0, looked.stdout + looked.stderr
