"""The docs app in process, without a browser: what each page links and serves, what it
refuses, and that the whole app hands docs paths to it and Swagger UI 5 to Connexion.
The last tests use the files the install generated (impl.resources), not stand-ins."""

from __future__ import annotations

import html
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from conftest import assert_problem
from impl import resources
from impl.app import ChatApp, create_app
from impl.settings import Settings
from impl.web import docs

ROOT = Path(__file__).resolve().parents[1]
RAW_LINKS = ("/docs/api/", "/docs/asyncapi/", "/openapi.yaml", "/openapi.json", "/asyncapi.yaml")


def notebook(folder: Path, name: str, heading: str) -> None:
    cells = [{"cell_type": "markdown", "metadata": {}, "source": [f"# {heading}\n", "more"]}]
    document = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (folder / name).write_text(json.dumps(document), encoding="utf-8")


def rendered(build: Path, name: str, text: str) -> None:
    """A stand-in for the page the build step renders from notebook `name`."""
    pages = build / "notebooks"
    pages.mkdir(parents=True, exist_ok=True)
    (pages / docs.page_name(name)).write_text(f"<html><body>{text}</body></html>", "utf-8")


def hrefs(html: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', html)


@pytest.fixture
def built(tmp_path: Path) -> Path:
    """A build folder holding stand-ins of the AsyncAPI renderer and of Mermaid."""
    renderer = tmp_path / "build" / "asyncapi"
    renderer.mkdir(parents=True)
    (renderer / "index.js").write_text("window.AsyncApiStandalone = {};", encoding="utf-8")
    (renderer / "default.min.css").write_text("body{}", encoding="utf-8")
    (renderer / "manifest.json").write_text("{}", encoding="utf-8")
    mermaid = tmp_path / "build" / "mermaid"
    mermaid.mkdir()
    (mermaid / "mermaid.min.js").write_text("globalThis.mermaid = {};", encoding="utf-8")
    (mermaid / "manifest.json").write_text("{}", encoding="utf-8")
    return tmp_path / "build"


@pytest.fixture
def notebooks(tmp_path: Path) -> Path:
    folder = tmp_path / "notebooks"
    folder.mkdir()
    return folder


def client_for(
    build_dir: Path, notebooks_dir: Path, settings: Settings | None = None
) -> httpx.AsyncClient:
    app = docs.create_docs_app(
        settings or Settings(), generated_dir=build_dir, notebooks_dir=notebooks_dir
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://docs")


@pytest.fixture
async def client(built: Path, notebooks: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(built, notebooks) as c:
        yield c


@pytest.fixture
async def unbuilt(tmp_path: Path, notebooks: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(tmp_path / "nothing-built", notebooks) as c:
        yield c


async def test_landing_links_every_document(client: httpx.AsyncClient) -> None:
    r = await client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert set(RAW_LINKS) <= set(hrefs(r.text))
    assert "default-src 'self'" in r.headers["content-security-policy"]


async def test_landing_lists_the_notebooks_present_when_asked(
    client: httpx.AsyncClient, notebooks: Path, built: Path
) -> None:
    assert "No notebooks yet" in (await client.get("/")).text
    notebook(notebooks, "02-second.ipynb", "Second flow")
    notebook(notebooks, "01-first.ipynb", "First flow")
    rendered(built, "01-first.ipynb", "page")
    rendered(built, "02-second.ipynb", "page")

    r = await client.get("/")

    links = [h for h in hrefs(r.text) if h.startswith("/notebooks/")]
    assert links == [
        "/notebooks/01-first.html",
        "/notebooks/01-first.ipynb",
        "/notebooks/02-second.html",
        "/notebooks/02-second.ipynb",
    ]
    assert '<a href="/notebooks/01-first.html">First flow</a>' in r.text


async def test_notebook_is_served_as_its_rendered_page(
    client: httpx.AsyncClient, notebooks: Path, built: Path
) -> None:
    notebook(notebooks, "01-first.ipynb", "First flow")
    rendered(built, "01-first.ipynb", "the outputs")
    r = await client.get("/notebooks/01-first.html")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "the outputs" in r.text
    # its only scripts are this server's files (the diagrams' renderer), nothing inline
    assert "script-src 'self';" in r.headers["content-security-policy"]


async def test_unrendered_notebook_is_listed_without_a_dead_link(
    client: httpx.AsyncClient, notebooks: Path
) -> None:
    notebook(notebooks, "01-first.ipynb", "First flow")
    landing = await client.get("/")
    assert "/notebooks/01-first.html" not in hrefs(landing.text)
    assert "/notebooks/01-first.ipynb" in hrefs(landing.text)
    assert_problem(await client.get("/notebooks/01-first.html"), 404, "NOT_FOUND")


async def test_notebook_is_served_as_its_file(client: httpx.AsyncClient, notebooks: Path) -> None:
    notebook(notebooks, "01-first.ipynb", "First flow")
    r = await client.get("/notebooks/01-first.ipynb")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/x-ipynb+json")
    assert r.content == (notebooks / "01-first.ipynb").read_bytes()


@pytest.mark.parametrize(
    "path",
    [
        "/notebooks/missing.ipynb",
        "/notebooks/missing.html",
        "/notebooks/..%2Fopenapi.html",
        "/notebooks/..%2Fopenapi.yaml",
        "/docs/asyncapi/manifest.json",
        "/docs/asyncapi/..%2F..%2Fopenapi.yaml",
        "/docs/mermaid/manifest.json",
        "/docs/mermaid/..%2Fasyncapi%2Findex.js",
        "/docs/mermaid/index.js",
        "/docs/static/landing.html",
        "/docs/static/nothing.css",
    ],
)
async def test_unlisted_file_is_a_404_problem(client: httpx.AsyncClient, path: str) -> None:
    assert_problem(await client.get(path), 404, "NOT_FOUND")


@pytest.fixture
def rendered_guides(built: Path) -> Path:
    """Stand-ins for the guides the build step renders: two bodies and their list."""
    folder = built / "guides"
    folder.mkdir()
    pages = [
        ("contract-testing.html", "Contract testing", "<h2>Contract testing</h2><p>the body</p>"),
        ("embedded-store.html", "The store", "<h1>The store</h1>"),
    ]
    for name, _, body in pages:
        (folder / name).write_text(body, encoding="utf-8")
    listed = [{"name": name, "title": title} for name, title, _ in pages]
    (folder / "index.json").write_text(json.dumps(listed), encoding="utf-8")
    return folder


async def test_a_guide_is_served_in_the_site_frame_linking_the_others(
    client: httpx.AsyncClient, rendered_guides: Path
) -> None:
    r = await client.get("/docs/guides/contract-testing.html")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "<p>the body</p>" in r.text and "<title>Contract testing" in r.text
    links = hrefs(r.text)
    assert {"/", "/docs/static/docs.css", "/docs/guides/embedded-store.html"} <= set(links)
    assert "/docs/guides/contract-testing.html" not in links  # not a link to itself
    assert r.headers["content-security-policy"].startswith("default-src 'self'")


async def test_the_landing_page_lists_the_guides_and_the_dev_box_links_one(
    client: httpx.AsyncClient, rendered_guides: Path
) -> None:
    r = await client.get("/")
    assert '<a href="/docs/guides/embedded-store.html">The store</a>' in r.text
    dev_box = r.text[r.text.index('id="dev"') :]
    assert '<a href="/docs/guides/contract-testing.html">Contract testing</a>' in dev_box


@pytest.mark.parametrize(
    "kit",
    [
        "POST /api/dev/users",
        "GET /api/dev/users",
        "POST /api/dev/reset",
        "POST /api/dev/clock",
        "X-Chat-Sandbox",
        "/api/dev/sandboxes",
        "/api/dev/faults",
        "GET /api/dev/requests",
        "POST /api/dev/sockets/disconnect",
    ],
)
async def test_the_dev_box_names_the_whole_kit(client: httpx.AsyncClient, kit: str) -> None:
    r = await client.get("/")
    assert kit in r.text[r.text.index('id="dev"') :]


async def test_without_rendered_guides_the_landing_page_names_their_sources(
    unbuilt: httpx.AsyncClient,
) -> None:
    r = await unbuilt.get("/")
    assert not [h for h in hrefs(r.text) if h.startswith("/docs/guides/")]
    assert "<code>docs/contract-testing.md</code>" in r.text
    assert_problem(await unbuilt.get("/docs/guides/contract-testing.html"), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    "name", ["index.json", "missing.html", "..%2Fguides%2Findex.json", "contract-testing.md"]
)
async def test_only_listed_guides_are_served(
    client: httpx.AsyncClient, rendered_guides: Path, name: str
) -> None:
    assert_problem(await client.get(f"/docs/guides/{name}"), 404, "NOT_FOUND")


def inline_scripts(page: str) -> list[str]:
    return re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page)


@pytest.mark.parametrize("path", ["/docs/api/", "/docs/api/index.html"])
async def test_swagger_ui_page_runs_only_this_servers_scripts(
    client: httpx.AsyncClient, path: str
) -> None:
    r = await client.get(path)
    assert r.status_code == 200
    scripts = re.findall(r'<script src="([^"]+)"', r.text)
    assert scripts == ["/docs/api/swagger-ui-bundle.js", "/docs/static/swagger-page.js"]
    assert inline_scripts(r.text) == []
    policy = r.headers["content-security-policy"]
    assert policy.startswith("default-src 'self';") and "unsafe" not in policy
    assert 'data-spec-url="/openapi.json"' in r.text


async def test_swagger_ui_offers_the_users_when_dev_endpoints_are_on(
    built: Path, notebooks: Path
) -> None:
    async with client_for(built, notebooks, Settings()) as on:
        page = (await on.get("/docs/api/")).text
    assert 'id="dev-users" data-scheme="bearerAuth"' in page
    assert "GET /api/dev/users" in page


async def test_swagger_ui_has_no_users_panel_when_dev_endpoints_are_off(
    built: Path, notebooks: Path
) -> None:
    async with client_for(built, notebooks, Settings(dev=False)) as off:
        r = await off.get("/docs/api/")
    assert r.status_code == 200 and "swagger-ui-bundle.js" in r.text
    assert "dev-users" not in r.text and "/api/dev/" not in r.text


async def test_other_method_is_a_405_problem_with_allow(client: httpx.AsyncClient) -> None:
    r = await client.post("/openapi.yaml")
    assert_problem(r, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in r.headers["allow"]


@pytest.mark.parametrize("name", ["openapi.yaml", "asyncapi.yaml"])
async def test_raw_spec_is_served_byte_for_byte(client: httpx.AsyncClient, name: str) -> None:
    r = await client.get(f"/{name}")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/yaml")
    assert r.content == (ROOT / name).read_bytes()


async def test_asyncapi_page_loads_the_built_renderer(client: httpx.AsyncClient) -> None:
    r = await client.get("/docs/asyncapi/")
    assert r.status_code == 200
    links = hrefs(r.text) + re.findall(r'src="([^"]+)"', r.text)
    assert {"/docs/asyncapi/index.js", "/docs/asyncapi/default.min.css"} <= set(links)
    assert 'data-schema-url="/asyncapi.yaml"' in r.text
    assert (await client.get("/docs/asyncapi/index.js")).status_code == 200


async def test_mermaid_is_served_from_the_build(client: httpx.AsyncClient) -> None:
    r = await client.get("/docs/mermaid/mermaid.min.js")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert r.text == "globalThis.mermaid = {};"


async def test_asyncapi_page_without_renderer_says_how_to_build_it(
    unbuilt: httpx.AsyncClient,
) -> None:
    r = await unbuilt.get("/docs/asyncapi/")
    assert r.status_code == 200
    assert "pip install -e ." in r.text
    assert "/asyncapi.yaml" in hrefs(r.text)
    assert "index.js" not in r.text
    assert_problem(await unbuilt.get("/docs/asyncapi/index.js"), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("path", "target"), [("/docs", "/"), ("/docs/asyncapi", "/docs/asyncapi/")]
)
async def test_short_paths_redirect(client: httpx.AsyncClient, path: str, target: str) -> None:
    r = await client.get(path)
    assert r.status_code == 307
    assert r.headers["location"] == target


@pytest.mark.parametrize(
    ("path", "docs_app"),
    [
        ("/", True),
        ("/openapi.yaml", True),
        ("/asyncapi.yaml", True),
        ("/docs/asyncapi/", True),
        ("/docs/static/docs.css", True),
        ("/notebooks/01-x.ipynb", True),
        ("/openapi.json", True),
        ("/notebooks/01-x.html", True),
        ("/docs/mermaid/mermaid.min.js", True),
        ("/docs/guides/contract-testing.html", True),
        ("/docs/api/", True),
        ("/docs/api/index.html", True),
        ("/docs/api/swagger-ui-bundle.js", False),
        ("/docs/api/swagger-ui.css", False),
        ("/api/chat", False),
        ("/socket.io/", False),
    ],
)
def test_docs_app_handles_only_its_paths(path: str, docs_app: bool) -> None:
    assert docs.handles(path) is docs_app


@pytest.fixture(scope="module")
def whole_app() -> ChatApp:
    return create_app(Settings())


async def test_whole_app_serves_swagger_ui_5_and_the_docs_pages(whole_app: ChatApp) -> None:
    transport = httpx.ASGITransport(app=whole_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        ui = await c.get("/docs/api/")
        bundle = await c.get("/docs/api/swagger-ui-bundle.js")
        landing = await c.get("/")
        spec = await c.get("/openapi.json")
    assert ui.status_code == 200 and "swagger-ui-bundle.js" in ui.text
    assert re.search(r'PACKAGE_VERSION:"5\.\d+\.\d+"', bundle.text)
    assert landing.status_code == 200 and "/docs/asyncapi/" in landing.text
    assert spec.status_code == 200 and spec.json()["openapi"].startswith("3.0")


async def whole_app_get(app: ChatApp, *paths: str) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        return [await c.get(path) for path in paths]


async def test_installed_asyncapi_page_renders_with_no_further_step(whole_app: ChatApp) -> None:
    """The install (editable or wheel) put the renderer where the server looks for it."""
    page, bundle = await whole_app_get(whole_app, "/docs/asyncapi/", "/docs/asyncapi/index.js")
    assert 'src="/docs/asyncapi/index.js"' in page.text, "the renderer was not installed"
    assert bundle.status_code == 200 and "AsyncApiStandalone" in bundle.text


@pytest.mark.parametrize(
    ("folder", "package", "served", "holds"),
    [
        ("asyncapi", "@asyncapi/react-component", "index.js", "AsyncApiStandalone"),
        ("mermaid", "mermaid", "mermaid.min.js", 'globalThis["mermaid"]'),
    ],
)
async def test_installed_npm_bundles_are_the_versions_the_lock_pins(
    whole_app: ChatApp, folder: str, package: str, served: str, holds: str
) -> None:
    (bundle,) = await whole_app_get(whole_app, f"/docs/{folder}/{served}")
    assert bundle.status_code == 200 and holds in bundle.text
    manifest = json.loads((resources.GENERATED_DIR / folder / "manifest.json").read_text())
    lock = json.loads((ROOT / "package-lock.json").read_text())
    pinned = lock["packages"][f"node_modules/{package}"]
    assert (manifest["version"], manifest["integrity"]) == (pinned["version"], pinned["integrity"])
    assert (resources.GENERATED_DIR / folder / "LICENSE.txt").is_file()


def served_elsewhere(href: str) -> bool:
    """A link that leaves the site or stays on the page: nothing this server must answer."""
    return href.startswith(("#", "https://", "http://", "mailto:"))


async def test_every_guide_is_a_page_whose_links_all_answer(whole_app: ChatApp) -> None:
    sources = sorted((ROOT / "docs").glob("*.md"))
    paths = [f"/docs/guides/{p.stem}.html" for p in sources]
    landing, *pages = await whole_app_get(whole_app, "/", *paths)
    assert set(paths) <= set(hrefs(landing.text))
    links = set()
    for source, page in zip(sources, pages, strict=True):
        assert page.status_code == 200, source.name
        heading = source.read_text(encoding="utf-8").splitlines()[0].lstrip("#").strip()
        assert f">{html.escape(heading, quote=False)}</h" in page.text, source.name
        assert f"<title>{html.escape(heading)} · " in page.text, source.name
        links |= {h for h in hrefs(page.text) if not served_elsewhere(h)}
    assert "/notebooks/08-contract-testing.html" in links  # a relative link, rewritten
    assert all(link.startswith("/") for link in links), links
    answers = await whole_app_get(whole_app, *sorted(links))
    assert {link: r.status_code for link, r in zip(sorted(links), answers, strict=True)} == {
        link: 200 for link in sorted(links)
    }


async def test_every_notebook_is_a_readable_page_with_its_outputs(whole_app: ChatApp) -> None:
    names = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    pages_paths = [f"/notebooks/{docs.page_name(n)}" for n in names]
    landing, *pages = await whole_app_get(whole_app, "/", *pages_paths)
    links = hrefs(landing.text)
    for name, page in zip(names, pages, strict=True):
        assert f"/notebooks/{docs.page_name(name)}" in links
        assert page.status_code == 200, name
        assert page.headers["content-type"].startswith("text/html")
        cells = json.loads((ROOT / "notebooks" / name).read_text())["cells"]
        stream = next(
            "".join(out["text"])
            for cell in cells
            for out in cell.get("outputs", [])
            if out.get("output_type") == "stream" and "".join(out["text"]).strip()
        )
        first_line = stream.strip().splitlines()[0]
        assert html.escape(first_line, quote=False) in page.text, name
        scripts = re.findall(r'<script[^>]*\bsrc="([^"]*)"', page.text)
        assert scripts == ["/docs/static/notebook-diagrams.js"], name  # only ours
        links_out = re.findall(r'<a\s[^>]*href="([^"]+)"', page.text)
        assert all(h.startswith("/") or served_elsewhere(h) for h in links_out), name
        assert "<h1 id=" in page.text and "&lt;h1" not in page.text  # markdown rendered
    plots = {
        name: mime
        for name in names
        for cell in json.loads((ROOT / "notebooks" / name).read_text())["cells"]
        for out in cell.get("outputs", [])
        for mime in out.get("data", {})
        if mime.startswith("image/")
    }
    assert plots, "the notebooks hold no plot to check"
    for name, mime in plots.items():
        assert f'src="data:{mime};base64,' in pages[names.index(name)].text, name
