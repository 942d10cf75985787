"""The checkout itself: nothing tracked may sit where tools put their local, untracked
state. A tracked file named `.venv` once made `python -m venv .venv` fail in every fresh
clone; this keeps any such name (at any depth) out of the repository."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path, PurePosixPath

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Folders that virtualenv, tox, npm, setuptools, build, pytest, mypy, ruff and hypothesis
# create for themselves: a tracked file or folder of the same name shadows them.
LOCAL_PATHS = frozenset(
    {
        ".venv",
        "venv",
        ".tox",
        ".nox",
        "node_modules",
        "build",
        "dist",
        "__pycache__",
        ".pytest_cache",
        ".mypy_cache",
        ".ruff_cache",
        ".hypothesis",
        ".eggs",
        "htmlcov",
        "test-output",
    }
)


def tracked_paths() -> list[str]:
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run([git, "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    return [p for p in listed.stdout.decode("utf-8").split("\0") if p]


def shadowing(paths: list[str]) -> list[str]:
    """The tracked paths of which some part is a conventional local path."""
    return [p for p in paths if LOCAL_PATHS & set(PurePosixPath(p).parts)]


def test_shadowing_is_detected_at_any_depth() -> None:
    found = shadowing([".venv", "tools/build/x.py", "impl/app.py", "node_modules/a/b.js"])
    assert found == [".venv", "tools/build/x.py", "node_modules/a/b.js"]


def test_no_tracked_path_shadows_a_conventional_local_path() -> None:
    assert shadowing(tracked_paths()) == []
