"""Which operation of the served spec a request is for, known before Connexion routes it.

The fault and journal layers sit in front of Connexion and name requests by operationId;
this table answers from the spec's paths and methods, concrete paths before templated
ones (as OpenAPI matches them).
"""

from __future__ import annotations

import re
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from impl.errors import NotFound
from impl.web.problems import send_problem

METHODS = ("get", "put", "post", "patch", "delete")
DEV_PREFIX = "/api/dev/"


def is_dev_path(path: str) -> bool:
    return path.startswith(DEV_PREFIX)


class PathGuard:
    """404 problem documents, before anything reads the request, for paths the served
    contract never has: an `/api/...` path ending in `/` (the router would otherwise
    redirect it to the path without, an answer the contract does not give) and, with the
    dev endpoints off, every `/api/dev` path, whatever the method, body or headers (so
    nothing of the kit is validated, read or hinted at)."""

    def __init__(self, app: ASGIApp, dev_enabled: bool) -> None:
        self.app = app
        self.dev_enabled = dev_enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.unknown(scope.get("path", "")):
            path = scope["path"]
            await send_problem(send, NotFound(f"no resource at {path[:200]}"))
            return
        await self.app(scope, receive, send)

    def unknown(self, path: str) -> bool:
        if path.startswith("/api/") and path.endswith("/"):
            return True
        return not self.dev_enabled and (path == DEV_PREFIX.rstrip("/") or is_dev_path(path))


class Operations:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.table: list[tuple[re.Pattern[str], dict[str, str]]] = []
        self.tags: dict[str, set[str]] = {}
        # operations that need a bearer token (their security names a scheme)
        self.secured: set[str] = set()
        for template, item in sorted(spec["paths"].items(), key=lambda e: e[0].count("{")):
            pattern = re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", template) + "$")
            by_method = {m.upper(): item[m]["operationId"] for m in METHODS if m in item}
            self.table.append((pattern, by_method))
            for method in METHODS:
                if method in item:
                    operation = item[method]
                    self.tags[operation["operationId"]] = set(operation.get("tags", []))
                    if operation.get("security", spec.get("security")):
                        self.secured.add(operation["operationId"])

    def find(self, method: str, path: str) -> str | None:
        """The operationId of `method path`, None when the spec has no such operation."""
        for pattern, by_method in self.table:
            if pattern.match(path):
                return by_method.get(method)
        return None

    def ids(self, without_tag: str | None = None) -> list[str]:
        return sorted(op for op, tags in self.tags.items() if without_tag not in tags)
