"""The documents a browser reads: the landing page, the AsyncAPI reference page, the raw
spec files, the notebooks and the project's own stylesheet.

    /                       landing page linking everything below
    /openapi.yaml           the REST contract as a file (Connexion serves /openapi.json
    /asyncapi.yaml          the Socket.IO contract     and Swagger UI at /docs/api/)
    /docs/asyncapi/         asyncapi.yaml rendered by @asyncapi/react-component, whose
                            bundle tools/build_docs.py installs in build/docs/asyncapi/;
                            until then the page says how to build it
    /docs/static/NAME       impl/static/: our own small CSS, HTML and JS
    /notebooks/NAME.ipynb   the notebooks found in notebooks/ when the page is asked for

Nothing here reaches outside the server: every page is held to `'self'` by its
Content-Security-Policy, which the browser test checks.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

import yaml
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

from impl.errors import DEFAULT_CODES, PROBLEM_JSON, problem_body
from impl.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
STATIC = Path(__file__).resolve().parent / "static"
BUILD_DIR = ROOT / "build" / "docs"
NOTEBOOKS = ROOT / "notebooks"
TITLE = "Marketplace Chat API"

DOCS_PREFIXES = (
    "/openapi.yaml",
    "/asyncapi.yaml",
    "/docs/asyncapi",
    "/docs/static/",
    "/notebooks/",
)
DOCS_PATHS = frozenset({"/", "/docs", "/docs/"})

# Files the docs app hands out, by folder: nothing else under those folders is reachable.
STATIC_FILES = {
    "docs.css": "text/css",
    "asyncapi-page.js": "text/javascript",
    "favicon.svg": "image/svg+xml",
}
RENDERER_FILES = {
    "index.js": "text/javascript",
    "default.min.css": "text/css",
    "LICENSE.txt": "text/plain",
    "index.js.LICENSE.txt": "text/plain",
}

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


def notebooks_html(notebooks: list[Notebook]) -> str:
    if not notebooks:
        return "<p>No notebooks yet: they appear here as <code>notebooks/*.ipynb</code>.</p>"
    items = []
    for nb in notebooks:
        name = html.escape(nb.name)
        title = html.escape(nb.title)
        items.append(
            f'<li><a href="/notebooks/{name}"><code>notebooks/{name}</code></a>: {title}</li>'
        )
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


def spec_version(path: Path) -> str:
    """`info.version` of a spec file ("?" when the file cannot be read)."""
    try:
        document: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
        return str(document["info"]["version"])
    except (OSError, yaml.YAMLError, KeyError, TypeError):
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


def file_response(path: Path, media_type: str) -> FileResponse:
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}
    return FileResponse(path, media_type=media_type, headers=headers)


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
    build_dir: Path = BUILD_DIR,
    notebooks_dir: Path = NOTEBOOKS,
    spec_dir: Path = ROOT,
) -> Starlette:
    """The docs app; the folders are parameters so tests can hand in their own."""
    openapi_path = spec_dir / "openapi.yaml"
    asyncapi_path = spec_dir / "asyncapi.yaml"
    renderer_dir = build_dir / "asyncapi"
    names = {
        "title": TITLE,
        "rest_version": html.escape(spec_version(openapi_path)),
        "events_version": html.escape(spec_version(asyncapi_path)),
    }

    async def landing(request: Request) -> Response:
        found = find_notebooks(notebooks_dir)
        body = template("landing.html").substitute(
            names, notebooks=notebooks_html(found), dev=dev_html(settings)
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

    async def renderer_file(request: Request) -> Response:
        return pick(renderer_dir, request.path_params["name"], RENDERER_FILES)

    async def static_file(request: Request) -> Response:
        return pick(STATIC, request.path_params["name"], STATIC_FILES)

    async def notebook(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in {nb.name for nb in find_notebooks(notebooks_dir)}:
            raise HTTPException(404)
        return file_response(notebooks_dir / name, "application/x-ipynb+json")

    async def openapi_yaml(request: Request) -> Response:
        return file_response(openapi_path, "application/yaml")

    async def asyncapi_yaml(request: Request) -> Response:
        return file_response(asyncapi_path, "application/yaml")

    return Starlette(
        routes=[
            Route("/", landing),
            Route("/docs", to_landing),
            Route("/docs/", to_landing),
            Route("/openapi.yaml", openapi_yaml),
            Route("/asyncapi.yaml", asyncapi_yaml),
            Route("/docs/asyncapi", to_asyncapi_page),
            Route("/docs/asyncapi/", asyncapi_page),
            Route("/docs/asyncapi/{name}", renderer_file),
            Route("/docs/static/{name}", static_file),
            Route("/notebooks/{name}", notebook),
        ],
        exception_handlers={HTTPException: problem},
    )
