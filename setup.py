"""Build hook: the package ships what the server serves (see tools/build_docs.py).

A wheel gets the contracts, the notebooks, their rendered pages, the rendered guides, the
AsyncAPI renderer and Mermaid in impl/_data/, made from the repository's own files at
build time, and the contracts once more in conformance/_specs/ for the conformance kit
(which never reads the server's files). An editable install reads the contracts in place
and gets the generated files in build/docs/.
Everything else about the package is in pyproject.toml.
"""

from __future__ import annotations

import sys
from pathlib import Path

from setuptools import Command, setup
from setuptools.command.build import build

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "tools"))

import build_docs  # noqa: E402 - found through the line above


class BuildDocs(Command):
    """`build_docs`: a build step of its own (not a build_py override), so that an
    editable install fails loudly too instead of setuptools silencing a broken build_py."""

    description = "generate the served docs (tools/build_docs.py)"
    user_options: list[tuple[str, str | None, str]] = []

    def initialize_options(self) -> None:
        self.build_lib: str | None = None
        self.editable_mode = False

    def finalize_options(self) -> None:
        self.set_undefined_options("build_py", ("build_lib", "build_lib"))

    def run(self) -> None:
        if self.editable_mode:
            build_docs.build(ROOT / "build" / "docs", ROOT)
        else:
            assert self.build_lib is not None
            build_docs.build(Path(self.build_lib) / "impl" / "_data", ROOT, with_sources=True)
            build_docs.copy_specs(Path(self.build_lib) / "conformance" / "_specs", ROOT)


class BuildWithDocs(build):
    sub_commands = [*build.sub_commands, ("build_docs", None)]


setup(cmdclass={"build": BuildWithDocs, "build_docs": BuildDocs})
