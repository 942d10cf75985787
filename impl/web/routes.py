"""The one routing table of the served spec, and the layers that answer from it before
Connexion routes a request.

`Routes(spec)` knows, for a method and a path, the operation (its operationId, tags, and
whether only a bearer token lets a caller in) and the methods the path's item has;
concrete paths are matched before templated ones, as OpenAPI matches them. The layers in
front of Connexion ask it: the bearer gate, the fault and journal layers of the dev kit,
and these two:

    PathGuard             404 for paths the contract never has, before anything is read
    ConcretePathMethods   405 (with `Allow`) for a method the most concrete path lacks
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from impl.errors import NotFound
from impl.web.problems import send_problem

METHODS = ("get", "put", "post", "patch", "delete")
DEV_PREFIX = "/api/dev/"
BEARER_SCHEME = "bearerAuth"


def is_dev_path(path: str) -> bool:
    return path.startswith(DEV_PREFIX)


@dataclass(frozen=True)
class Operation:
    id: str
    tags: frozenset[str]
    # only a bearer token lets a caller in (every security alternative names the scheme)
    needs_bearer: bool


class Routes:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.table: list[tuple[re.Pattern[str], dict[str, Operation]]] = []
        self.by_id: dict[str, Operation] = {}
        for template, item in sorted(spec["paths"].items(), key=lambda e: e[0].count("{")):
            pattern = re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", template) + "$")
            by_method = {m.upper(): _operation(spec, item[m]) for m in METHODS if m in item}
            self.table.append((pattern, by_method))
            self.by_id.update({op.id: op for op in by_method.values()})

    def _item(self, path: str) -> dict[str, Operation]:
        return next((item for pattern, item in self.table if pattern.match(path)), {})

    def operation(self, method: str, path: str) -> Operation | None:
        return self._item(path).get(method)

    def find(self, method: str, path: str) -> str | None:
        """The operationId of `method path`, None when the spec has no such operation."""
        found = self.operation(method, path)
        return None if found is None else found.id

    def methods(self, path: str) -> set[str]:
        """The methods of the most concrete path item matching `path` (none: no such path)."""
        return set(self._item(path))

    def needs_bearer(self, method: str, path: str) -> bool:
        found = self.operation(method, path)
        return found is not None and found.needs_bearer

    def ids(self, without_tag: str | None = None) -> list[str]:
        return sorted(op.id for op in self.by_id.values() if without_tag not in op.tags)


def _operation(spec: dict[str, Any], operation: dict[str, Any]) -> Operation:
    requirements = operation.get("security", spec.get("security", []))
    # Any alternative that does not name the scheme lets an anonymous caller in.
    needs_bearer = bool(requirements) and all(BEARER_SCHEME in r for r in requirements)
    return Operation(operation["operationId"], frozenset(operation.get("tags", [])), needs_bearer)


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


class ConcretePathMethods:
    """405 for a method the most concrete matching path item lacks: `PUT .../messages/read`
    targets `/messages/read` (PATCH only), not an edit of a message whose id is "read"."""

    def __init__(self, app: ASGIApp, routes: Routes) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            methods = self.routes.methods(scope["path"])
            method = scope["method"]
            implicit = method == "OPTIONS" or (method == "HEAD" and "GET" in methods)
            if methods and method not in methods and not implicit:
                raise HTTPException(405)
        await self.app(scope, receive, send)
