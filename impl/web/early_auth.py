"""Refuse a request to a bearer-protected operation before its body is read.

Connexion checks security only once the request reaches it, and a chunked body is read
(up to its limit) before that: an anonymous client could make the server take in 10 MiB
per connection just to be told 401. `BearerGate` looks at the `Authorization` header of
every operation the spec protects with `bearerAuth` and answers a missing, malformed,
expired or wrongly signed token at once, with the same problem document Connexion's
security gives. It checks the token's signature and claims only: whether its user exists
and is active is still Connexion's hook's job (impl.auth), once the request is let in.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from impl.auth import subject_of
from impl.errors import ApiError, Unauthorized
from impl.settings import Settings
from impl.web.problems import send_problem

SCHEME = "bearerAuth"


def requires_bearer(spec: dict[str, Any]) -> Callable[[dict[str, Any]], bool]:
    """Whether an operation of `spec` can only be called with the bearer scheme."""

    def requires(operation: dict[str, Any]) -> bool:
        requirements = operation.get("security", spec.get("security", []))
        # Any alternative that does not name the scheme lets an anonymous caller in.
        return bool(requirements) and all(SCHEME in r for r in requirements)

    return requires


def bearer_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return None


class BearerGate:
    """`table`: (path regex, methods that need a token), most concrete paths first."""

    def __init__(
        self, app: ASGIApp, settings: Settings, table: list[tuple[re.Pattern[str], set[str]]]
    ) -> None:
        self.app = app
        self.settings = settings
        self.table = table

    def requires_token(self, method: str, path: str) -> bool:
        for regex, methods in self.table:
            if regex.match(path):
                return method in methods
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.requires_token(scope["method"], scope["path"]):
            try:
                self.check(scope)
            except ApiError as refused:
                await send_problem(send, refused)
                return
        await self.app(scope, receive, send)

    def check(self, scope: Scope) -> None:
        token = bearer_token(scope)
        if token is None:
            raise Unauthorized(
                "token is missing or invalid", headers={"WWW-Authenticate": "Bearer"}
            )
        try:
            subject_of(self.settings, token)
        except Unauthorized as exc:
            raise Unauthorized(str(exc.detail), headers={"WWW-Authenticate": "Bearer"}) from None
