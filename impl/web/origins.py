"""Which browser origins may use the server, enforced alike on REST and Socket.IO.

`origin_rule(settings)` is the one rule: `CORS_ORIGINS` when set, else (embedded store)
any `http://localhost:*` / `http://127.0.0.1:*`. An allowed origin gets its origin echoed
and `Access-Control-Allow-Credentials: true` on both transports; a foreign one gets no
`Access-Control-*` header on either.

    RestCors        Starlette's CORS middleware, driven by the rule, silent to foreign origins
    SocketOrigins   in front of Socket.IO: refuses a foreign origin's handshake itself,
                    with one WARNING line and a 403 every client reads as a refusal
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from impl.settings import Settings

log = logging.getLogger("impl.web.origins")

OriginRule = Callable[[str], bool]

REST_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
REST_REQUEST_HEADERS = [
    "Authorization",
    "Content-Type",
    "If-None-Match",
    "X-Request-ID",
    "X-Chat-Sandbox",
]
REST_EXPOSED_HEADERS = [
    "Retry-After",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "X-Request-ID",
    "Content-Disposition",
    "ETag",
]


def origin_rule(settings: Settings) -> OriginRule:
    """True for a browser origin that may call REST and open sockets."""
    if settings.cors_origins:
        origins = frozenset(settings.cors_origins)
        return origins.__contains__
    pattern = re.compile(settings.cors_origin_regex or r"(?!)")
    return lambda origin: pattern.fullmatch(origin) is not None


class RestCors(CORSMiddleware):
    """Starlette's CORS handling with credentials, for the origins the rule allows only."""

    def __init__(self, app: ASGIApp, allowed: OriginRule) -> None:
        super().__init__(
            app,
            allow_methods=REST_METHODS,
            allow_headers=REST_REQUEST_HEADERS,
            allow_credentials=True,
            expose_headers=REST_EXPOSED_HEADERS,
        )
        self.allowed = allowed

    def is_allowed_origin(self, origin: str) -> bool:
        return self.allowed(origin)

    def preflight_response(self, request_headers: Headers) -> Response:
        if not self.allowed(request_headers["origin"]):
            return PlainTextResponse(
                "Disallowed CORS origin", status_code=400, headers={"Vary": "Origin"}
            )
        return super().preflight_response(request_headers)

    async def send(self, message: Message, send: Send, request_headers: Headers) -> None:
        origin = request_headers.get("origin")
        if message["type"] != "http.response.start" or origin is None or self.allowed(origin):
            await super().send(message, send, request_headers)
            return
        headers = MutableHeaders(scope=message)
        headers["Vary"] = ", ".join([*headers.getlist("Vary"), "Origin"])
        await send(message)


class SocketOrigins:
    """Guards the Socket.IO path: a request from a foreign browser origin is refused here,
    before Engine.IO sees it (Engine.IO would log it as an error and grant credentials)."""

    def __init__(self, app: ASGIApp, allowed: OriginRule, path: str = "/socket.io") -> None:
        self.app = app
        self.allowed = allowed
        self.path = path.rstrip("/")

    def is_socket_path(self, path: str) -> bool:
        return path == self.path or path.startswith(self.path + "/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not self.is_socket_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        origin = Headers(scope=scope).get("origin")
        if origin is not None and not self.allowed(origin):
            log.warning("socket handshake refused: origin %s is not allowed", origin[:200])
            await self.refuse(scope, send)
            return
        await self.app(scope, receive, send)

    async def refuse(self, scope: Scope, send: Send) -> None:
        """403 with an empty, declared-length body: a client that gives up on the
        connection before reading the body (python-engineio does) still has all of the
        answer in the same read as its status line, and reports a refusal."""
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        headers = [(b"content-length", b"0"), (b"vary", b"Origin")]
        await send({"type": "http.response.start", "status": 403, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
