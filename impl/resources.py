"""Where the files this server hands out live, installed or in a checkout.

A wheel (`pip install .`, `pip install git+...`, a built wheel) carries everything in
`impl/_data/`, written at build time by `tools/build_docs.py` from the repository's own
files and never committed:

    impl/_data/openapi.yaml, asyncapi.yaml    copies of the top-level contracts
    impl/_data/notebooks/NAME.ipynb, NAME.html the notebooks and their rendered pages
    impl/_data/guides/NAME.html, index.json    docs/NAME.md rendered (page bodies, titles)
    impl/_data/asyncapi/                       the AsyncAPI renderer (npm package files)
    impl/_data/mermaid/                        Mermaid's browser build (npm package files)

A checkout (`pip install -e .`) has no `impl/_data/`: the contracts and notebooks are read
where they are, and the generated files from `build/docs/` (the editable install writes
them there, as does `python tools/build_docs.py`).
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
PACKAGE_DATA = PACKAGE / "_data"
# the pages and styles the package ships as they are (impl/static)
STATIC_DIR = PACKAGE / "static"
CHECKOUT = Path(__file__).resolve().parent.parent
INSTALLED = (PACKAGE_DATA / "openapi.yaml").is_file()

# The contracts and the notebooks as the project wrote them.
SOURCE_DIR = PACKAGE_DATA if INSTALLED else CHECKOUT
# What the build step generates: asyncapi/ and mermaid/ (npm bundles), notebooks/ and
# guides/ (HTML pages).
GENERATED_DIR = PACKAGE_DATA if INSTALLED else CHECKOUT / "build" / "docs"

OPENAPI_PATH = SOURCE_DIR / "openapi.yaml"
ASYNCAPI_PATH = SOURCE_DIR / "asyncapi.yaml"
NOTEBOOKS_DIR = SOURCE_DIR / "notebooks"
NOTEBOOK_PAGES_DIR = GENERATED_DIR / "notebooks"
RENDERER_DIR = GENERATED_DIR / "asyncapi"
