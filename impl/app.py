"""The composition root: `create_app(settings)` builds one ASGI app serving REST,
Socket.IO, the spec files and the docs pages, with everything it needs wired in.

    outer wrapper    binds this app's Services for the request, logs it, routes docs paths
    └─ BodyDeadline              408 when a body stops arriving
       └─ SocketOrigins          foreign browser origins refused before Engine.IO
          └─ socketio.ASGIApp    /socket.io
             └─ RestCors         CORS for REST: allowed origins, with credentials
                └─ BearerGate    401 for a missing or bad token, before the body is read
                   └─ SandboxRouter     binds the request's sandbox (dev endpoints on only)
                      └─ JournalRecorder   records the sandbox's API requests (dev only)
                         └─ BodyLimit  413 before / while a body is read
                            └─ FaultInjector   injected stalls and failures (dev only)
                               └─ connexion.AsyncApp  openapi.yaml: security, validation, handlers

Nothing here does I/O at import time; tests build as many apps as they like.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import connexion
import socketio
from connexion.middleware import MiddlewarePosition
from connexion.options import SwaggerUIOptions
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import Receive, Scope, Send

from impl import specs
from impl.clock import Clock
from impl.domain import notifications
from impl.domain.effects import NotifyOffline
from impl.errors import ApiError
from impl.realtime.emit import EffectRunner, EmitListener
from impl.realtime.presence import LocalPresence, Presence, RedisPresence
from impl.realtime.redis_guard import CircuitBreaker, GuardedRedisManager
from impl.realtime.server import SocketServer
from impl.realtime.sockets import ChatSockets
from impl.resources import OPENAPI_PATH
from impl.services import Services, begin_request, bind_services, unbind_services
from impl.settings import Settings
from impl.store import QueryObserver, Store
from impl.store import database as storedb
from impl.web import docs
from impl.web.body_limits import BodyDeadline, BodyLimit
from impl.web.early_auth import BearerGate, requires_bearer
from impl.web.faults import FaultInjector
from impl.web.journal import JournalRecorder
from impl.web.operations import Operations, PathGuard
from impl.web.origins import OriginRule, RestCors, SocketOrigins, origin_rule
from impl.web.problems import make_renderer, send_problem
from impl.web.sandboxes import DEFAULT, Sandbox, Sandboxes, SandboxRouter, current_sandbox
from impl.web.validation import LowercaseMediaType, validator_map

ROOT = Path(__file__).resolve().parent.parent

SOCKETIO_PATH = "socket.io"
# How long a stop waits for Socket.IO clients to take their close packet.
SOCKET_CLOSE_WAIT_S = 1.0

access_log = logging.getLogger("impl.access")
# what a client-sent X-Request-ID may hold in a log line and the echoed header
UNPRINTABLE = re.compile(r"[^\x21-\x7e]")
log = logging.getLogger("impl.app")


def load_spec(path: Path = OPENAPI_PATH) -> dict[str, Any]:
    """A contract file as written (the served copy is `specs.served_specs(settings)`)."""
    return specs.load_file(path)


def path_methods(
    spec: dict[str, Any], include: Callable[[dict[str, Any]], bool] = lambda _: True
) -> list[tuple[re.Pattern[str], set[str]]]:
    """(regex, methods) for each templated path of the spec, for the 405 `Allow` header;
    with `include`, only the methods whose operation it accepts."""
    table = []
    # Concrete paths first, as OpenAPI matches them before templated ones.
    for template, item in sorted(spec["paths"].items(), key=lambda entry: entry[0].count("{")):
        pattern = re.sub(r"\{[^/]+\}", "[^/]+", template)
        methods = {
            m.upper()
            for m in item
            if m in {"get", "put", "post", "patch", "delete"} and include(item[m])
        }
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

    @property
    def fatal_error(self) -> str | None:
        """Why this app cannot serve at all (the store refused it for a reason waiting
        will not cure), once that is known; the server stops with this line."""
        failure: str | None = self.asgi.fatal_error
        return failure

    def close(self) -> None:
        """Release the store's connections (also done at lifespan shutdown)."""
        self.services.store.close()

    async def close_sockets(self) -> None:
        """Tell every Socket.IO client the server is going away (they may reconnect
        elsewhere), so that a stop does not wait on their long-polls and websockets."""
        eio = self.sio.eio
        if not eio.sockets:
            return
        try:
            await asyncio.wait_for(eio.disconnect(), SOCKET_CLOSE_WAIT_S)
        except TimeoutError:
            log.info("some Socket.IO clients did not take their close packet in time")


def _redis_options(settings: Settings) -> dict[str, Any]:
    """A Redis that stops answering must not stall requests: fail fast, serve locally, log,
    and leave it alone for a back-off (impl.realtime.redis_guard) instead of waiting on
    every call."""
    timeout = settings.redis_timeout_seconds
    return {"socket_connect_timeout": timeout, "socket_timeout": timeout}


def _presence(settings: Settings) -> Presence:
    """Presence, shared through Redis when there is one; its breaker guards the Socket.IO
    manager's publishes too (one Redis, one judgement of whether it answers)."""
    if settings.redis_url:
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(settings.redis_url, **_redis_options(settings))
        breaker = CircuitBreaker(
            client.ping,
            settings.redis_timeout_seconds,
            settings.redis_backoff_seconds,
            settings.redis_max_backoff_seconds,
        )
        return RedisPresence(client, breaker, settings.redis_prefix, settings.presence_ttl_seconds)
    return LocalPresence()


def _socket_server(
    settings: Settings, allowed: OriginRule, presence: Presence
) -> socketio.AsyncServer:
    manager = (
        GuardedRedisManager(
            settings.redis_url, settings.redis_prefix, presence.breaker, _redis_options(settings)
        )
        if settings.redis_url and isinstance(presence, RedisPresence)
        else None
    )
    return SocketServer(
        connect_timeout=settings.socket_connect_timeout_seconds,
        async_mode="asgi",
        client_manager=manager,
        # SocketOrigins refuses foreign origins first; Engine.IO echoes allowed ones.
        cors_allowed_origins=lambda origin, *_: origin is None or allowed(origin),
        cors_credentials=True,
        max_http_buffer_size=settings.socket_max_packet_bytes,
        logger=False,
        engineio_logger=False,
    )


def _body_limit(app: Any, settings: Settings) -> BodyLimit:
    return BodyLimit(
        app,
        settings.max_json_bytes,
        settings.max_upload_bytes,
        settings.multipart_allowance_bytes,
    )


def _connexion_app(settings: Settings, spec: dict[str, Any]) -> connexion.AsyncApp:
    app = connexion.AsyncApp(
        __name__,
        specification_dir=str(ROOT),
        validator_map=validator_map(settings),
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

    renderer = make_renderer(allowed)
    for exc in (Exception, HTTPException, connexion.ProblemException):
        app.add_error_handler(exc, renderer)
    app.add_middleware(
        ConcretePathMethods, position=MiddlewarePosition.BEFORE_ROUTING, allowed=allowed
    )
    app.add_middleware(LowercaseMediaType, position=MiddlewarePosition.BEFORE_VALIDATION)
    return app


def create_app(
    settings: Settings | None = None,
    store: Store | None = None,
    query_observer: QueryObserver | None = None,
    *,
    clock: Clock | None = None,
    presence: Presence | None = None,
    emit_listeners: Sequence[EmitListener] = (),
) -> ChatApp:
    """The app for `settings`, with the seams tests substitute handed in, never patched:

    store            the default world's store (two apps sharing one, as two processes
                     share a database; or a test's own, to look at what was stored)
    query_observer   sees every store call before it is made (to check query shapes
                     against the indexes, or to inject failures), sandboxes' calls too
    clock            the default world's clock; each sandbox gets `clock.fresh()`, its
                     own offset over the same source of time
    presence         who is connected (default: in-process, or Redis with `redis_url`)
    emit_listeners   see every event emitted, in the default world and every sandbox
    """
    settings = settings or Settings()
    settings.check()
    served = specs.served_specs(settings)
    retry_after = max(1, settings.mongo_timeout_ms // 1000 + 1)
    if store is None:
        store = Store(storedb.connect(settings), retry_after, query_observer)
    if settings.embedded:
        storedb.ensure_indexes(store.db, settings)  # in memory: instant, and no lifespan needed
    clock = Clock() if clock is None else clock
    presence = _presence(settings) if presence is None else presence
    allowed = origin_rule(settings)
    sio = _socket_server(settings, allowed, presence)

    def world(world_store: Store, world_clock: Clock, sandbox: str = DEFAULT) -> Services:
        return _services(settings, world_store, world_clock, presence, sio, emit_listeners, sandbox)

    services = world(store, clock)
    spec = served.openapi
    operations = Operations(spec)
    default_db = store.db

    def make_sandbox(name: str) -> Services:
        db = storedb.connect_sandbox(settings, default_db, name)
        return world(Store(db, retry_after, query_observer), clock.fresh(), name)

    def drop_sandbox(sandbox: Sandbox) -> None:
        storedb.drop_sandbox(settings, sandbox.services.store.db)

    sandboxes = Sandboxes(
        services, make_sandbox, drop_sandbox, operations, prepare=_prepare_sandbox
    )
    sockets = ChatSockets(sio, services, sandboxes)
    rest = _connexion_app(settings, spec)
    inner = (
        _contract_testing_kit(rest, settings, operations, sandboxes)
        if settings.dev_enabled
        else _body_limit(rest, settings)
    )
    gate = BearerGate(inner, settings, path_methods(spec, include=requires_bearer(spec)))
    gated = RestCors(PathGuard(gate, settings.dev_enabled), allowed)
    combined = socketio.ASGIApp(sio, other_asgi_app=gated, socketio_path=SOCKETIO_PATH)
    guarded = SocketOrigins(combined, allowed, path="/" + SOCKETIO_PATH)
    docs_app = docs.create_docs_app(settings, served)
    outer = _Outer(BodyDeadline(guarded, settings.body_timeout_seconds), docs_app, services)
    return ChatApp(outer, services, sio, sockets, rest)


def _services(
    settings: Settings,
    store: Store,
    clock: Clock,
    presence: Presence,
    sio: socketio.AsyncServer,
    emit_listeners: Sequence[EmitListener],
    sandbox: str,
) -> Services:
    """One world's services: the default one, or a sandbox's (its own store and clock)."""

    async def notify(effect: NotifyOffline, online: set[str]) -> None:
        # `services` is the object built below: the notifications are written in the
        # world whose message asked for them.
        await services.run(notifications.create_for_offline, services, effect, online)

    effects = EffectRunner(sio, presence, notify, emit_listeners)
    services = Services(settings, store, clock, presence, effects, sandbox=sandbox)
    return services


_index_tasks: set[asyncio.Task[None]] = set()


def _prepare_sandbox(services: Services) -> None:
    """Indexes for a new sandbox's database: at once in memory, in the background on
    MongoDB (a store that cannot be reached must not stall the dev call)."""
    if services.settings.embedded:
        storedb.ensure_indexes(services.store.db, services.settings)
        return

    async def prepare() -> None:
        try:
            await services.run(storedb.ensure_indexes, services.store.db, services.settings)
        except Exception as exc:
            level = logging.ERROR if storedb.is_permanent(exc) else logging.WARNING
            log.log(
                level,
                "sandbox %s: indexes not ensured: %s",
                services.sandbox,
                storedb.one_line(exc),
            )

    task = asyncio.get_running_loop().create_task(prepare())
    _index_tasks.add(task)
    task.add_done_callback(_index_tasks.discard)


def _contract_testing_kit(
    rest: Any, settings: Settings, operations: Operations, sandboxes: Sandboxes
) -> Any:
    """The layers of the dev kit around Connexion (see the module docstring's drawing)."""
    faulty = FaultInjector(rest, operations, settings, lambda: current_sandbox().faults)
    limited = _body_limit(faulty, settings)
    journaled = JournalRecorder(
        limited,
        operations,
        settings,
        lambda: current_sandbox().journal,
        lambda: current_sandbox().services.clock,
    )
    return SandboxRouter(journaled, sandboxes)


class _Outer:
    """Binds the services, answers lifespan, hands docs paths to the docs app, logs."""

    def __init__(self, app: Any, docs_app: Any, services: Services) -> None:
        self.app = app
        self.docs_app = docs_app
        self.services = services
        self.index_task: asyncio.Task[None] | None = None
        self.fatal_error: str | None = None

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
        given = Headers(scope=scope).get("x-request-id", "")
        request_id = UNPRINTABLE.sub("?", given[:64]) if given else uuid.uuid4().hex
        status = 500
        info = begin_request(request_id)

        responded = False

        async def send_with_id(message: dict[str, Any]) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start":
                status, responded = message["status"], True
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("latin-1", "replace")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if responded:
                raise
            status = 500
            await send_problem(send_with_id, ApiError("the request could not be handled"))
        finally:
            took = round((time.perf_counter() - started) * 1000, 2)
            method, path = scope["method"], scope["path"]
            access_log.info(
                "%s %s %s %.2f ms request=%s user=%s",
                method,
                path,
                status,
                took,
                request_id,
                info.get("userId", "-"),
                extra={
                    "requestId": request_id,
                    "userId": info.get("userId"),
                    "method": method,
                    "path": path,
                    "status": status,
                    "durationMs": took,
                },
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
            self.services.store.close()

    async def prepare_store(self) -> None:
        """Create indexes, retrying while the store is unreachable (the server still starts);
        an error that retrying cannot cure (credentials, options) is fatal: it is logged and
        becomes `fatal_error`, on which the server stops."""
        services = self.services
        try:
            await storedb.ensure_indexes_retrying(
                services.store.db, services.settings, services.run
            )
        except storedb.StoreRefused as refused:
            log.error("%s", refused)
            self.fatal_error = str(refused)
