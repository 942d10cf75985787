"""What every installed server must serve: the landing page and each page it links to.

`every_linked_page(base_url)` fetches `/`, then every same-origin link on it, and returns
the problems found (an empty list when all answered 200 with a body); the notebook pages
and files, the AsyncAPI renderer's files and Mermaid's bundle must be among them.
Standard library only: it checks servers that run outside the test's own environment,
and runs as a script inside a namespace the test cannot reach otherwise
(`python pages.py BASE_URL`).
"""

from __future__ import annotations

import re
import sys
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RENDERER_FILES = ("/docs/asyncapi/index.js", "/docs/asyncapi/default.min.css")


def get(url: str) -> tuple[int, str, bytes]:
    """(status, content type, body) of a GET; an HTTP error status is returned, not raised."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.headers.get("content-type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("content-type", ""), error.read()


def landing_links(base_url: str) -> list[str]:
    status, kind, body = get(f"{base_url}/")
    if status != 200 or not kind.startswith("text/html"):
        raise AssertionError(f"GET / answered {status} {kind}")
    return sorted(set(re.findall(r'href="(/[^"]*)"', body.decode())))


def every_linked_page(base_url: str) -> list[str]:
    """Problems with the pages the landing page links to (none: all well)."""
    links = landing_links(base_url)
    problems = []
    for stem in sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb")):
        for link in (f"/notebooks/{stem}.html", f"/notebooks/{stem}.ipynb"):
            if link not in links:
                problems.append(f"the landing page does not link {link}")
    status, _, page = get(f"{base_url}/docs/asyncapi/")
    if b'src="/docs/asyncapi/index.js"' not in page:
        problems.append(f"/docs/asyncapi/ ({status}) does not load the AsyncAPI renderer")
    status, _, bundle = get(f"{base_url}/docs/mermaid/mermaid.min.js")
    if status != 200 or b'globalThis["mermaid"]' not in bundle:
        problems.append(f"/docs/mermaid/mermaid.min.js ({status}) is not Mermaid's bundle")
    for link in [*links, *RENDERER_FILES]:
        status, _, body = get(base_url + link)
        if status != 200 or not body:
            problems.append(f"GET {link}: {status}, {len(body)} bytes")
    return problems


if __name__ == "__main__":  # python pages.py BASE_URL: exit 1 with the problems listed
    found = every_linked_page(sys.argv[1])
    print("\n".join(found) or "every linked page answered")
    sys.exit(1 if found else 0)
