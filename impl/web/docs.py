"""The documents a browser reads: the landing page, the AsyncAPI reference page, the
spec files, the notebooks and the project's own stylesheet.

    /                       landing page linking everything below
    /openapi.yaml, .json    the REST contract as served (impl.specs: this server's limits
    /asyncapi.yaml          and servers); Connexion serves Swagger UI at /docs/api/
    /docs/asyncapi/         asyncapi.yaml rendered by @asyncapi/react-component, whose
                            bundle the package build installs (impl.resources says where);
                            a checkout that skipped that step gets a page saying so
    /docs/mermaid/NAME      Mermaid's browser build (installed the same way), which draws
                            the notebooks' diagrams
    /docs/static/NAME       impl/static/: our own small CSS, HTML and JS
    /notebooks/NAME.ipynb   the notebooks present when the page is asked for
    /notebooks/NAME.html    each one rendered with its outputs (by nbconvert, at build time)

Nothing here reaches outside the server: every page is held to `'self'` by its
Content-Security-Policy, which the browser test checks.
"""

from __future__ import annotations

import html
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Route

from impl.resources import GENERATED_DIR, NOTEBOOKS_DIR, STATIC_DIR
from impl.settings import Settings
from impl.specs import ASYNCAPI, OPENAPI, ServedSpecs, served_specs
from impl.web.problems import DEFAULT_CODES, PROBLEM_JSON, problem_body

STATIC = STATIC_DIR
TITLE = "Marketplace Chat API"

DOCS_PREFIXES = (
    "/openapi.yaml",
    "/openapi.json",
    "/asyncapi.yaml",
    "/docs/asyncapi",
    "/docs/mermaid/",
    "/docs/static/",
    "/notebooks/",
)
DOCS_PATHS = frozenset({"/", "/docs", "/docs/"})

# Files the docs app hands out, by folder: nothing else under those folders is reachable.
STATIC_FILES = {
    "docs.css": "text/css",
    "asyncapi-page.js": "text/javascript",
    "notebook-diagrams.js": "text/javascript",
    "favicon.svg": "image/svg+xml",
}
# The npm bundles the build installs (tools/build_docs.py), by folder under GENERATED_DIR
# and under /docs/.
BUNDLE_FILES = {
    "asyncapi": {
        "index.js": "text/javascript",
        "default.min.css": "text/css",
        "LICENSE.txt": "text/plain",
        "index.js.LICENSE.txt": "text/plain",
    },
    "mermaid": {"mermaid.min.js": "text/javascript", "LICENSE.txt": "text/plain"},
}

# nbconvert's pages carry their stylesheet inline and their plots as data: URLs; their only
# script is ours (from this server), which draws the diagrams as inline SVG, whose styles
# Mermaid writes inline too.
NOTEBOOK_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'none'"
)
PAGE_POLICY = "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'"
# The renderer's bundled parser compiles JSON schemas with `new Function` (ajv) and React
# sets inline styles, hence the two relaxations; every source is still this server only.
RENDERER_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'none'"
)


def handles(path: str) -> bool:
    """True for the paths the docs app answers (the outer app routes them here)."""
    return path in DOCS_PATHS or path.startswith(DOCS_PREFIXES)


@dataclass(frozen=True)
class Notebook:
    """A notebook of the repository as the landing page lists it."""

    name: str
    title: str


def notebook_title(path: Path) -> str:
    """The first heading of the notebook's first markdown cell, or its file name."""
    try:
        cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError, AttributeError):
        return path.stem
    for cell in cells:
        if isinstance(cell, dict) and cell.get("cell_type") == "markdown":
            source = cell.get("source", "")
            text = "".join(source) if isinstance(source, list) else str(source)
            first = text.strip().splitlines()[0] if text.strip() else ""
            return first.lstrip("#").strip() or path.stem
    return path.stem


def find_notebooks(folder: Path) -> list[Notebook]:
    """The notebooks in `folder` now, in file-name order (01-..., 02-...)."""
    if not folder.is_dir():
        return []
    paths = sorted(p for p in folder.glob("*.ipynb") if p.is_file())
    return [Notebook(p.name, notebook_title(p)) for p in paths]


def page_name(notebook_name: str) -> str:
    """`01-x.ipynb` -> `01-x.html`, the rendered page's name."""
    return notebook_name.removesuffix(".ipynb") + ".html"


def notebooks_html(notebooks: list[Notebook], pages_dir: Path) -> str:
    if not notebooks:
        return "<p>No notebooks yet: they appear here as <code>notebooks/*.ipynb</code>.</p>"
    items = []
    for nb in notebooks:
        name = html.escape(nb.name)
        title = html.escape(nb.title)
        source = f'<a href="/notebooks/{name}" download><code>.ipynb</code></a>'
        if (pages_dir / page_name(nb.name)).is_file():
            read = f'<a href="/notebooks/{html.escape(page_name(nb.name))}">{title}</a>'
        else:
            read = f"{title} (not rendered yet: reinstall the package)"
        items.append(f"<li>{read} ({source})</li>")
    return "<ul>\n" + "\n".join(items) + "\n</ul>"


def dev_html(settings: Settings) -> str:
    if not settings.dev_enabled:
        return (
            "<p>Dev endpoints are off (a real store without <code>--dev</code>); "
            "start the server with the embedded store to use them.</p>"
        )
    return (
        "<p>Dev endpoints are on: <code>POST /api/dev/users</code> creates a user and its "
        "token, <code>POST /api/dev/reset</code> empties the store, "
        "<code>POST /api/dev/clock</code> moves the server's clock. See "
        "<code>docs/contract-testing.md</code> in the repository.</p>"
    )


def spec_version(document: dict[str, Any]) -> str:
    """`info.version` of a spec ("?" when it has none)."""
    try:
        return str(document["info"]["version"])
    except (KeyError, TypeError):
        return "?"


def template(name: str) -> Template:
    return Template((STATIC / name).read_text(encoding="utf-8"))


def page(body: str, policy: str = PAGE_POLICY) -> HTMLResponse:
    headers = {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-cache",
    }
    return HTMLResponse(body, headers=headers)


FILE_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}


def file_response(path: Path, media_type: str) -> FileResponse:
    return FileResponse(path, media_type=media_type, headers=FILE_HEADERS)


def pick(folder: Path, name: str, allowed: dict[str, str]) -> FileResponse:
    """A file of `folder` whose name is in `allowed`, else 404."""
    path = folder / name
    if name not in allowed or not path.is_file():
        raise HTTPException(404)
    return file_response(path, allowed[name])


async def problem(request: Request, exc: Exception) -> Response:
    """Starlette's 404 and 405 as the contract's problem documents, like the API's."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    headers = dict(exc.headers or {}) if isinstance(exc, HTTPException) else {}
    path = request.url.path
    detail = f"no document at {path}"
    if status == 405:
        detail = f"{request.method} is not allowed on {path}"
    body = problem_body(status, detail, DEFAULT_CODES.get(status, "ERROR"))
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def create_docs_app(
    settings: Settings,
    specs: ServedSpecs | None = None,
    generated_dir: Path = GENERATED_DIR,
    notebooks_dir: Path = NOTEBOOKS_DIR,
) -> Starlette:
    """The docs app; the folders are parameters so tests can hand in their own."""
    specs = specs or served_specs(settings)
    renderer_dir = generated_dir / "asyncapi"
    pages_dir = generated_dir / "notebooks"
    names = {
        "title": TITLE,
        "rest_version": html.escape(spec_version(specs.openapi)),
        "events_version": html.escape(spec_version(specs.asyncapi)),
    }
    documents = {
        "/openapi.yaml": Response(specs.as_yaml(OPENAPI), media_type="application/yaml"),
        "/openapi.json": Response(specs.as_json(OPENAPI), media_type="application/json"),
        "/asyncapi.yaml": Response(specs.as_yaml(ASYNCAPI), media_type="application/yaml"),
    }

    async def landing(request: Request) -> Response:
        found = find_notebooks(notebooks_dir)
        body = template("landing.html").substitute(
            names, notebooks=notebooks_html(found, pages_dir), dev=dev_html(settings)
        )
        return page(body)

    async def to_landing(request: Request) -> Response:
        return RedirectResponse("/", status_code=307)

    async def asyncapi_page(request: Request) -> Response:
        if (renderer_dir / "index.js").is_file():
            return page(template("asyncapi.html").substitute(names), RENDERER_POLICY)
        return page(template("asyncapi-missing.html").substitute(names))

    async def to_asyncapi_page(request: Request) -> Response:
        return RedirectResponse("/docs/asyncapi/", status_code=307)

    def files(folder: Path, allowed: dict[str, str]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return pick(folder, request.path_params["name"], allowed)

        return endpoint

    async def notebook(request: Request) -> Response:
        name = request.path_params["name"]
        found = {nb.name for nb in find_notebooks(notebooks_dir)}
        if name in found:
            return file_response(notebooks_dir / name, "application/x-ipynb+json")
        # a rendered page only for a notebook that is there now
        rendered = pages_dir / name
        source = name.removesuffix(".html") + ".ipynb"
        if name.endswith(".html") and source in found and rendered.is_file():
            return page(rendered.read_text(encoding="utf-8"), NOTEBOOK_POLICY)
        raise HTTPException(404)

    async def document(request: Request) -> Response:
        served = documents[request.url.path]
        return Response(served.body, media_type=served.media_type, headers=FILE_HEADERS)

    return Starlette(
        routes=[
            Route("/", landing),
            Route("/docs", to_landing),
            Route("/docs/", to_landing),
            *(Route(path, document) for path in documents),
            Route("/docs/asyncapi", to_asyncapi_page),
            Route("/docs/asyncapi/", asyncapi_page),
            *(
                Route(f"/docs/{folder}/{{name}}", files(generated_dir / folder, allowed))
                for folder, allowed in BUNDLE_FILES.items()
            ),
            Route("/docs/static/{name}", files(STATIC, STATIC_FILES)),
            Route("/notebooks/{name}", notebook),
        ],
        exception_handlers={HTTPException: problem},
    )
