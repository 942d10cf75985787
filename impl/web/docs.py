"""The documents a browser reads: the landing page, the Swagger UI and AsyncAPI pages,
the guides, the spec files, the notebooks and the project's own stylesheet and scripts.

    /                       landing page linking everything below
    /openapi.yaml, .json    the REST contract as served (impl.specs: this server's limits
    /asyncapi.yaml          and servers)
    /docs/api/              Swagger UI 5 over /openapi.json (its files are Connexion's, under
                            the same path); with dev endpoints on, a panel of the users to
                            try the API as (their tokens from GET /api/dev/users)
    /docs/asyncapi/         asyncapi.yaml rendered by @asyncapi/react-component, whose
                            bundle the package build installs (impl.resources says where);
                            a checkout that skipped that step gets a page saying so
    /docs/mermaid/NAME      Mermaid's browser build (installed the same way), which draws
                            the notebooks' diagrams
    /docs/guides/NAME.html  docs/*.md rendered at build time, in the site's frame
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
from starlette.types import ASGIApp, Receive, Scope, Send

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
    "/docs/guides/",
    "/docs/static/",
    "/notebooks/",
)
# Swagger UI's own page is ours; its files under /docs/api/ stay Connexion's.
SWAGGER_PAGES = ("/docs/api/", "/docs/api/index.html")
DOCS_PATHS = frozenset({"/", "/docs", "/docs/", *SWAGGER_PAGES})

# Files the docs app hands out, by folder: nothing else under those folders is reachable.
STATIC_FILES = {
    "docs.css": "text/css",
    "asyncapi-page.js": "text/javascript",
    "notebook-diagrams.js": "text/javascript",
    "swagger-page.js": "text/javascript",
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
CONTRACT_TESTING_GUIDE = "contract-testing.html"

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
# Swagger UI's stylesheet draws its icons as data: URLs.
SWAGGER_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'none'"
)


def handles(path: str) -> bool:
    """True for the paths the docs app answers (`DocsFirst` routes them there)."""
    return path in DOCS_PATHS or path.startswith(DOCS_PREFIXES)


class DocsFirst:
    """Hands the docs pages' paths to the docs app, everything else to `app`."""

    def __init__(self, app: ASGIApp, docs_app: ASGIApp) -> None:
        self.app = app
        self.docs_app = docs_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and handles(scope["path"]):
            await self.docs_app(scope, receive, send)
        else:
            await self.app(scope, receive, send)


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


@dataclass(frozen=True)
class Guide:
    """A guide of docs/ as the build rendered it (listed in guides/index.json)."""

    name: str
    title: str


def find_guides(folder: Path) -> list[Guide]:
    """The guides the build rendered into `folder`, in file-name order; none unbuilt."""
    try:
        listed = json.loads((folder / "index.json").read_text(encoding="utf-8"))
        guides = [Guide(str(entry["name"]), str(entry["title"])) for entry in listed]
    except (OSError, ValueError, TypeError, KeyError):
        return []
    return [guide for guide in guides if (folder / guide.name).is_file()]


def guide_link(guide: Guide) -> str:
    return f'<a href="/docs/guides/{html.escape(guide.name)}">{html.escape(guide.title)}</a>'


def guides_html(guides: list[Guide]) -> str:
    if not guides:
        return (
            "<p>Not rendered yet: reinstall the package (they are <code>docs/*.md</code> in "
            "the repository).</p>"
        )
    return "<ul>\n" + "\n".join(f"<li>{guide_link(g)}</li>" for g in guides) + "\n</ul>"


# The contract-testing kit behind /api/dev, as the landing page names it.
DEV_KIT = (
    (
        "Users and tokens",
        "<code>POST /api/dev/users</code> makes one, <code>GET /api/dev/users</code> lists "
        "them with a fresh token each, <code>PATCH /api/dev/users/{id}</code> changes a "
        "role or bans",
    ),
    ("Reset", "<code>POST /api/dev/reset</code> empties a world"),
    ("Clock", "<code>POST /api/dev/clock</code> moves time forward for every time rule"),
    (
        "Sandboxes",
        "<code>X-Chat-Sandbox: NAME</code> on dev calls gives each test worker a world of "
        "its own; <code>GET</code> and <code>DELETE /api/dev/sandboxes</code>",
    ),
    ("Injected faults", "<code>/api/dev/faults</code> makes the next calls fail or stall"),
    ("The request journal", "<code>GET /api/dev/requests</code>: what the UI sent"),
    (
        "Dropping sockets",
        "<code>POST /api/dev/sockets/disconnect</code>, to test reconnecting",
    ),
)


def dev_html(settings: Settings, guides: list[Guide]) -> str:
    if settings.dev_enabled:
        state = (
            "<p>Dev endpoints are on (<code>/api/dev</code>), with the whole "
            'contract-testing kit; <a href="/docs/api/">Swagger UI</a> offers the users to '
            "try the API as.</p>"
        )
    else:
        state = (
            "<p>Dev endpoints are off (a real store without <code>--dev</code>): every "
            "<code>/api/dev</code> path answers 404. With the embedded store, or "
            "<code>--dev</code>, they bring the contract-testing kit:</p>"
        )
    kit = "".join(f"<li><strong>{name}</strong>: {what}</li>" for name, what in DEV_KIT)
    guide = next((g for g in guides if g.name == CONTRACT_TESTING_GUIDE), None)
    how = guide_link(guide) if guide else "<code>docs/contract-testing.md</code>"
    return f"{state}\n<ul>{kit}</ul>\n<p>How a frontend's tests use it: {how}.</p>"


def bearer_scheme(openapi: dict[str, Any]) -> str:
    """The name of the spec's HTTP bearer security scheme, which Swagger UI authorizes."""
    schemes = openapi.get("components", {}).get("securitySchemes", {})
    for name, scheme in schemes.items():
        if scheme.get("type") == "http" and str(scheme.get("scheme", "")).lower() == "bearer":
            return str(name)
    return ""


def spec_version(document: dict[str, Any]) -> str:
    """`info.version` of a spec ("?" when it has none)."""
    try:
        return str(document["info"]["version"])
    except (KeyError, TypeError):
        return "?"


def template(name: str) -> Template:
    return Template((STATIC / name).read_text(encoding="utf-8"))


# The top bar's links of the framed pages.
REST_LINK = ("/docs/api/", "REST API")
EVENTS_LINK = ("/docs/asyncapi/", "Real-time events")


def framed(
    page_title: str,
    content: str,
    links: list[tuple[str, str]],
    stylesheets: tuple[str, ...] = (),
) -> str:
    """A page of the site: `content` in the frame every page but the landing page shares
    (frame.html: the head, our stylesheet after `stylesheets`, a top bar of `links`)."""
    bar = "\n".join(f'<a href="{html.escape(h)}">{html.escape(text)}</a>' for h, text in links)
    sheets = "".join(f'<link rel="stylesheet" href="{html.escape(h)}">\n' for h in stylesheets)
    return template("frame.html").substitute(
        title=TITLE,
        page_title=html.escape(page_title),
        stylesheets=sheets,
        links=bar,
        content=content,
    )


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
    guides_dir = generated_dir / "guides"
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
    dev_panel = ""
    if settings.dev_enabled:
        scheme = html.escape(bearer_scheme(specs.openapi))
        dev_panel = template("swagger-dev.html").substitute(scheme=scheme)
    swagger = framed(
        f"{TITLE}: REST API",
        template("swagger.html").substitute(dev_panel=dev_panel),
        [EVENTS_LINK, ("/openapi.yaml", "openapi.yaml")],
        ("/docs/api/swagger-ui.css",),
    )
    events_links = [REST_LINK, ("/asyncapi.yaml", "asyncapi.yaml")]

    async def landing(request: Request) -> Response:
        found = find_notebooks(notebooks_dir)
        guides = find_guides(guides_dir)
        body = template("landing.html").substitute(
            names,
            notebooks=notebooks_html(found, pages_dir),
            guides=guides_html(guides),
            dev=dev_html(settings, guides),
        )
        return page(body)

    async def to_landing(request: Request) -> Response:
        return RedirectResponse("/", status_code=307)

    async def swagger_page(request: Request) -> Response:
        return page(swagger, SWAGGER_POLICY)

    async def asyncapi_page(request: Request) -> Response:
        if (renderer_dir / "index.js").is_file():
            content = (STATIC / "asyncapi.html").read_text(encoding="utf-8")
            stylesheets = ("/docs/asyncapi/default.min.css",)
            body = framed(f"{TITLE}: real-time events", content, events_links, stylesheets)
            return page(body, RENDERER_POLICY)
        content = (STATIC / "asyncapi-missing.html").read_text(encoding="utf-8")
        title = f"{TITLE}: real-time events (renderer not built)"
        return page(framed(title, content, events_links))

    async def to_asyncapi_page(request: Request) -> Response:
        return RedirectResponse("/docs/asyncapi/", status_code=307)

    def files(folder: Path, allowed: dict[str, str]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return pick(folder, request.path_params["name"], allowed)

        return endpoint

    async def guide_page(request: Request) -> Response:
        guides = find_guides(guides_dir)
        guide = next((g for g in guides if g.name == request.path_params["name"]), None)
        if guide is None:
            raise HTTPException(404)
        others = [(f"/docs/guides/{g.name}", g.title) for g in guides if g is not guide]
        text = (guides_dir / guide.name).read_text(encoding="utf-8")
        content = f'<main class="guide" id="guide">\n{text}\n</main>'
        body = framed(f"{guide.title} · {TITLE}", content, [REST_LINK, EVENTS_LINK, *others])
        return page(body)

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
            *(Route(path, swagger_page) for path in SWAGGER_PAGES),
            Route("/docs/asyncapi", to_asyncapi_page),
            Route("/docs/asyncapi/", asyncapi_page),
            *(
                Route(f"/docs/{folder}/{{name}}", files(generated_dir / folder, allowed))
                for folder, allowed in BUNDLE_FILES.items()
            ),
            Route("/docs/guides/{name}", guide_page),
            Route("/docs/static/{name}", files(STATIC, STATIC_FILES)),
            Route("/notebooks/{name}", notebook),
        ],
        exception_handlers={HTTPException: problem},
    )
