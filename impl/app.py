"""The composition root: `create_app(settings)` builds one ASGI app serving REST,
Socket.IO, the spec files and the docs pages, with everything it needs wired in.

    outer wrapper    binds this app's Services for the request, logs it, routes docs paths
    └─ socketio.ASGIApp          /socket.io
       └─ BodyLimit              413 before / while a body is read
          └─ connexion.AsyncApp  openapi.yaml: security, validation, handlers in impl.api

Nothing here does I/O at import time; tests build as many apps as they like.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import connexion
import socketio
import yaml
from connexion.middleware import MiddlewarePosition
from connexion.options import SwaggerUIOptions
from pymongo.database import Database
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.types import Receive, Scope, Send

from impl import db as dbmod
from impl import docs, notifications
from impl.bodylimit import BodyLimit
from impl.clock import Clock
from impl.context import Services, begin_request, bind_services, unbind_services
from impl.effects import EffectRunner, NotifyOffline
from impl.errors import make_renderer
from impl.presence import LocalPresence, Presence, RedisPresence
from impl.redisguard import CircuitBreaker, GuardedRedisManager
from impl.settings import Settings
from impl.sockets import ChatSockets
from impl.store import Store
from impl.validation import validator_map

ROOT = Path(__file__).resolve().parent.parent
OPENAPI_PATH = ROOT / "openapi.yaml"
ASYNCAPI_PATH = ROOT / "asyncapi.yaml"

# A Redis that stops answering must not stall requests: fail fast, serve locally, log,
# and leave it alone for a back-off (impl.redisguard) instead of waiting on every call.
REDIS_TIMEOUT_SECONDS = 1.0
REDIS_OPTIONS: dict[str, Any] = {
    "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
    "socket_timeout": REDIS_TIMEOUT_SECONDS,
}

access_log = logging.getLogger("impl.access")
log = logging.getLogger("impl.app")

# Read once per process: the spec files do not change while a server runs.
_spec_cache: dict[Path, dict[str, Any]] = {}


def load_spec(path: Path = OPENAPI_PATH) -> dict[str, Any]:
    if path not in _spec_cache:
        if not path.exists():
            raise FileNotFoundError(
                f"{path} not found: run the server from a checkout (pip install -e .)"
            )
        _spec_cache[path] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return _spec_cache[path]


def path_methods(spec: dict[str, Any]) -> list[tuple[re.Pattern[str], set[str]]]:
    """(regex, methods) for each templated path of the spec, for the 405 `Allow` header."""
    table = []
    # Concrete paths first, as OpenAPI matches them before templated ones.
    for template, item in sorted(spec["paths"].items(), key=lambda entry: entry[0].count("{")):
        pattern = re.sub(r"\{[^/]+\}", "[^/]+", template)
        methods = {m.upper() for m in item if m in {"get", "put", "post", "patch", "delete"}}
        table.append((re.compile(f"^{pattern}$"), methods))
    return table


class ConcretePathMethods:
    """405 for a method the most concrete matching path item lacks: `PUT .../messages/read`
    targets `/messages/read` (PATCH only), not an edit of a message whose id is "read"."""

    def __init__(self, app: Any, allowed: Callable[[str], Iterable[str]]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            methods = set(self.allowed(scope["path"]))
            method = scope["method"]
            implicit = method == "OPTIONS" or (method == "HEAD" and "GET" in methods)
            if methods and method not in methods and not implicit:
                raise HTTPException(405)
        await self.app(scope, receive, send)


@dataclass
class ChatApp:
    """The built application and the parts tests and the command line reach into."""

    asgi: Any
    services: Services
    sio: socketio.AsyncServer
    sockets: ChatSockets
    connexion_app: connexion.AsyncApp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.asgi(scope, receive, send)

    def close(self) -> None:
        """Release the store's connections (also done at lifespan shutdown)."""
        self.services.store.db.client.close()


def _presence(settings: Settings) -> Presence:
    """Presence, shared through Redis when there is one; its breaker guards the Socket.IO
    manager's publishes too (one Redis, one judgement of whether it answers)."""
    if settings.redis_url:
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(settings.redis_url, **REDIS_OPTIONS)
        breaker = CircuitBreaker(client.ping, REDIS_TIMEOUT_SECONDS, settings.redis_backoff_seconds)
        return RedisPresence(client, breaker, settings.redis_prefix, settings.presence_ttl_seconds)
    return LocalPresence()


def _socket_server(settings: Settings, presence: Presence) -> socketio.AsyncServer:
    manager = (
        GuardedRedisManager(
            settings.redis_url, settings.redis_prefix, presence.breaker, REDIS_OPTIONS
        )
        if settings.redis_url and isinstance(presence, RedisPresence)
        else None
    )
    allowed = _origin_check(settings)
    return socketio.AsyncServer(
        async_mode="asgi",
        client_manager=manager,
        cors_allowed_origins=allowed,
        max_http_buffer_size=64 * 1024,
        logger=False,
        engineio_logger=False,
    )


def _origin_check(settings: Settings) -> Any:
    if settings.cors_origins:
        origins = set(settings.cors_origins)
        return lambda origin, *_: origin is None or origin in origins
    regex = re.compile(settings.cors_origin_regex or r"^$")
    return lambda origin, *_: origin is None or bool(regex.match(origin))


def _connexion_app(settings: Settings, spec: dict[str, Any]) -> connexion.AsyncApp:
    app = connexion.AsyncApp(
        __name__,
        specification_dir=str(ROOT),
        validator_map=validator_map(),
        swagger_ui_options=SwaggerUIOptions(swagger_ui_path="/docs/api"),
    )
    app.add_api(
        spec,
        pythonic_params=True,
        validate_responses=settings.validate_responses,
        strict_validation=True,
    )
    table = path_methods(spec)

    def allowed(path: str) -> Iterable[str]:
        return next((methods for regex, methods in table if regex.match(path)), set())

    renderer = make_renderer(max(1, settings.mongo_timeout_ms // 1000 + 1), allowed)
    for exc in (Exception, HTTPException, connexion.ProblemException):
        app.add_error_handler(exc, renderer)
    app.add_middleware(
        ConcretePathMethods, position=MiddlewarePosition.BEFORE_ROUTING, allowed=allowed
    )
    app.add_middleware(
        CORSMiddleware,
        position=MiddlewarePosition.BEFORE_EXCEPTION,
        allow_origins=list(settings.cors_origins),
        allow_origin_regex=settings.cors_origin_regex,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "If-None-Match", "X-Request-ID"],
        expose_headers=[
            "Retry-After",
            "X-RateLimit-Limit",
            "X-RateLimit-Remaining",
            "X-RateLimit-Reset",
            "X-Request-ID",
            "Content-Disposition",
            "ETag",
        ],
    )
    return app


def create_app(settings: Settings | None = None, database: Database[Any] | None = None) -> ChatApp:
    settings = settings or Settings()
    settings.check()
    spec = load_spec()
    store = Store(database if database is not None else dbmod.connect(settings))
    if settings.embedded:
        dbmod.ensure_indexes(store.db, settings)  # in memory: instant, and no lifespan needed
    presence = _presence(settings)
    sio = _socket_server(settings, presence)
    effects = EffectRunner(sio, presence)
    services = Services(settings, store, Clock(), presence, effects)

    async def notify(effect: NotifyOffline, online: set[str]) -> None:
        await services.run(notifications.create_for_offline, services, effect, online)

    effects.notifier = notify
    sockets = ChatSockets(sio, services)
    rest = _connexion_app(settings, spec)
    limited = BodyLimit(rest, settings.max_json_bytes, settings.max_upload_bytes)
    combined = socketio.ASGIApp(sio, other_asgi_app=limited, socketio_path="socket.io")
    docs_app = docs.create_docs_app(settings)
    outer = _Outer(combined, docs_app, services)
    return ChatApp(outer, services, sio, sockets, rest)


class _Outer:
    """Binds the services, answers lifespan, hands docs paths to the docs app, logs."""

    def __init__(self, app: Any, docs_app: Any, services: Services) -> None:
        self.app = app
        self.docs_app = docs_app
        self.services = services
        self.index_task: asyncio.Task[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = bind_services(self.services)
        try:
            if scope["type"] == "lifespan":
                await self.lifespan(receive, send)
            elif scope["type"] == "http" and docs.handles(scope["path"]):
                await self.docs_app(scope, receive, send)
            elif scope["type"] == "http":
                await self.logged(scope, receive, send)
            else:
                await self.app(scope, receive, send)
        finally:
            unbind_services(token)

    async def logged(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        request_id = _header(scope, b"x-request-id") or uuid.uuid4().hex
        status = 500
        info = begin_request()

        async def send_with_id(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id[:64].encode("latin-1", "replace")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            access_log.info(
                json.dumps(
                    {
                        "msg": "request",
                        "requestId": request_id[:64],
                        "userId": info.get("userId"),
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "durationMs": round((time.perf_counter() - started) * 1000, 2),
                    }
                )
            )

    async def lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if not self.services.settings.embedded:
                    self.index_task = asyncio.create_task(self.prepare_store())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.index_task is not None:
                    self.index_task.cancel()
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def shutdown(self) -> None:
        """Close sockets, the Redis connections and the store's client."""
        sio = self.services.effects.sio
        try:
            await sio.shutdown()
        finally:
            if isinstance(sio.manager, GuardedRedisManager):
                await sio.manager.aclose()
            await self.services.presence.close()
            self.services.store.db.client.close()

    async def prepare_store(self) -> None:
        """Create indexes, retrying while the store is unreachable (the server still starts)."""
        delay = 1.0
        while True:
            try:
                await self.services.run(
                    dbmod.ensure_indexes, self.services.store.db, self.services.settings
                )
                return
            except Exception as exc:
                log.warning("store not ready (%s); retrying in %.0f s", type(exc).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            decoded: str = value.decode("latin-1")
            return decoded
    return None
