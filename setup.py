"""Build hook: the package ships what the server serves (see tools/build_docs.py).

A wheel gets the contracts, the notebooks, their rendered pages and the AsyncAPI renderer
in impl/_data/, made from the repository's own files at build time. An editable install
reads the contracts in place and gets the generated files in build/docs/.
Everything else about the package is in pyproject.toml.
"""

from __future__ import annotations

import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "tools"))

import build_docs  # noqa: E402 - found through the line above


class BuildPyWithDocs(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            build_docs.build(ROOT / "build" / "docs", ROOT)
        else:
            build_docs.build(Path(self.build_lib) / "impl" / "_data", ROOT, with_sources=True)


setup(cmdclass={"build_py": BuildPyWithDocs})
