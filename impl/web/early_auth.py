"""Refuse a request to a bearer-protected operation before its body is read.

Connexion checks security only once the request reaches it, and a chunked body is read
(up to its limit) before that: an anonymous client could make the server take in 10 MiB
per connection just to be told 401. `BearerGate` looks at the `Authorization` header of
every operation the spec protects with `bearerAuth` and answers a missing, malformed,
expired or wrongly signed token at once, with the same problem document Connexion's
security gives. It checks the token's signature and claims only: whether its user exists
and is active is still the bearer hook's job (impl.web.bearer), once the request is let in.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from impl.errors import DomainError, Unauthorized
from impl.settings import Settings
from impl.tokens import subject_of
from impl.web.problems import send_problem
from impl.web.routes import Routes


def bearer_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return None


class BearerGate:
    """Answers 401 for an operation that needs a bearer token and was sent none that is
    well formed, signed by us and unexpired (`routes` says which operations need one)."""

    def __init__(self, app: ASGIApp, settings: Settings, routes: Routes) -> None:
        self.app = app
        self.settings = settings
        self.routes = routes

    def requires_token(self, method: str, path: str) -> bool:
        return self.routes.needs_bearer(method, path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.requires_token(scope["method"], scope["path"]):
            try:
                self.check(scope)
            except DomainError as refused:
                await send_problem(send, refused)
                return
        await self.app(scope, receive, send)

    def check(self, scope: Scope) -> None:
        token = bearer_token(scope)
        if token is None:
            raise Unauthorized("token is missing or invalid")
        try:
            subject_of(self.settings, token)
        except Unauthorized as exc:
            raise Unauthorized(exc.detail) from None
