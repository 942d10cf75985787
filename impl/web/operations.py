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


class DevEndpointsOff:
    """With the dev endpoints off, every `/api/dev` path is 404, whatever the method, body
    or headers: nothing of the kit is validated, read or hinted at."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == DEV_PREFIX.rstrip("/") or is_dev_path(path)):
            await send_problem(send, NotFound(f"no resource at {path[:200]}"))
            return
        await self.app(scope, receive, send)


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
