"""The composition root: `create_app(settings)` builds one ASGI app serving REST,
Socket.IO, the spec files and the docs pages, with every seam wired in. It only composes:
what each part does lives in its room (web/, realtime/, devkit/, domain/, store/).

The layers an HTTP request passes are one ordered list, `layers()`, outermost first; the
README's Layout section quotes it, and a test keeps the two the same. Nothing here does
I/O at import time; tests build as many apps as they like.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import connexion
import socketio
from starlette.types import ASGIApp, Receive, Scope, Send

from impl import specs
from impl.clock import Clock
from impl.devkit.faults import FaultInjector
from impl.devkit.journal import JournalRecorder
from impl.devkit.sandboxes import DEFAULT, Sandbox, Sandboxes, SandboxRouter, current_sandbox
from impl.devkit.socket_journal import SocketJournal
from impl.domain.services import Presence, Services
from impl.lifecycle import Lifecycle
from impl.realtime.emit import EffectRunner, EmitListener, notify_offline
from impl.realtime.presence import presence_for
from impl.realtime.server import socket_server
from impl.realtime.sockets import ChatSockets
from impl.resources import OPENAPI_PATH
from impl.settings import Settings
from impl.store import QueryObserver, Store
from impl.store import database as storedb
from impl.web import docs
from impl.web.access_log import AccessLog
from impl.web.body_limits import BodyDeadline, BodyLimit
from impl.web.context import BindWorld
from impl.web.early_auth import BearerGate
from impl.web.lifespan import Lifespan
from impl.web.origins import RestCors, SocketOrigins, origin_rule
from impl.web.rest import connexion_app
from impl.web.routes import PathGuard, Routes

SOCKETIO_PATH = "socket.io"
# How long a stop waits for Socket.IO clients to take their close packet.
SOCKET_CLOSE_WAIT_S = 1.0

log = logging.getLogger("impl.app")


def load_spec(path: Path = OPENAPI_PATH) -> dict[str, Any]:
    """A contract file as written (the served copy is `specs.served_specs(settings)`)."""
    return specs.load_file(path)


@dataclass(frozen=True)
class Layer:
    """One ASGI layer of the stack: its name (as the docs quote it) and how it wraps the
    app inside it; `on` False leaves it out (the dev kit's layers with dev endpoints off)."""

    name: str
    wrap: Callable[[ASGIApp], ASGIApp]
    on: bool = True


def stacked(layers: Sequence[Layer], innermost: ASGIApp) -> ASGIApp:
    """`innermost` wrapped in `layers`, the first of them outermost."""
    app = innermost
    for layer in reversed(layers):
        if layer.on:
            app = layer.wrap(app)
    return app


@dataclass
class ChatApp:
    """The built application and the parts tests and the command line reach into."""

    asgi: ASGIApp
    services: Services
    sio: socketio.AsyncServer
    sockets: ChatSockets
    connexion_app: connexion.AsyncApp
    sandboxes: Sandboxes
    lifecycle: Lifecycle
    layers: tuple[Layer, ...]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.asgi(scope, receive, send)

    @property
    def fatal_error(self) -> str | None:
        """Why this app cannot serve at all (the store refused it for a reason waiting
        will not cure), once that is known; the server stops with this line."""
        return self.lifecycle.fatal_error

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


def layers(
    settings: Settings,
    services: Services,
    routes: Routes,
    sandboxes: Sandboxes,
    sio: socketio.AsyncServer,
    lifecycle: Lifecycle,
    docs_app: ASGIApp,
) -> tuple[Layer, ...]:
    """Every layer around Connexion, outermost first."""
    allowed = origin_rule(settings)
    dev = settings.dev_enabled
    return (
        Layer("Lifespan", lambda app: Lifespan(app, lifecycle.startup, lifecycle.shutdown)),
        Layer("BindWorld", lambda app: BindWorld(app, services)),
        Layer("DocsFirst", lambda app: docs.DocsFirst(app, docs_app)),
        Layer("AccessLog", AccessLog),
        Layer("BodyDeadline", lambda app: BodyDeadline(app, settings.body_timeout_seconds)),
        Layer("SocketOrigins", lambda app: SocketOrigins(app, allowed, "/" + SOCKETIO_PATH)),
        Layer(
            "SocketIO",
            lambda app: socketio.ASGIApp(sio, other_asgi_app=app, socketio_path=SOCKETIO_PATH),
        ),
        Layer("RestCors", lambda app: RestCors(app, allowed)),
        Layer("PathGuard", lambda app: PathGuard(app, dev)),
        Layer("BearerGate", lambda app: BearerGate(app, settings, routes)),
        Layer("SandboxRouter", lambda app: SandboxRouter(app, sandboxes), on=dev),
        Layer(
            "JournalRecorder",
            lambda app: JournalRecorder(
                app,
                routes,
                settings,
                lambda: current_sandbox().journal,
                lambda: current_sandbox().services.clock,
            ),
            on=dev,
        ),
        Layer(
            "BodyLimit",
            lambda app: BodyLimit(
                app,
                settings.max_json_bytes,
                settings.max_upload_bytes,
                settings.multipart_allowance_bytes,
            ),
        ),
        Layer(
            "FaultInjector",
            lambda app: FaultInjector(app, routes, settings, lambda: current_sandbox().faults),
            on=dev,
        ),
    )


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
    presence = presence_for(settings) if presence is None else presence
    sio = socket_server(settings, origin_rule(settings), presence)
    # the sandboxes are made below, from services that need the runner: looked up late
    socket_journal = (
        SocketJournal(lambda name: sandboxes.get(name)) if settings.dev_enabled else None
    )
    effects = EffectRunner(sio, presence, notify_offline, emit_listeners, socket_journal)

    def world(world_store: Store, world_clock: Clock, sandbox: str = DEFAULT) -> Services:
        return Services(settings, world_store, world_clock, presence, effects, sandbox=sandbox)

    services = world(store, clock)

    def make_sandbox(name: str) -> Services:
        db = storedb.connect_sandbox(settings, store.db, name)
        return world(Store(db, retry_after, query_observer), clock.fresh(), name)

    def drop_sandbox(sandbox: Sandbox) -> None:
        storedb.drop_sandbox(settings, sandbox.services.store.db)

    routes = Routes(served.openapi)
    sandboxes = Sandboxes(services, make_sandbox, drop_sandbox, routes)
    sockets = ChatSockets(sio, services, sandboxes.services_of, socket_journal)
    sandboxes.removal_listeners.append(lambda sandbox: sockets.close_world(sandbox.services))
    lifecycle = Lifecycle(services, sio)
    rest = connexion_app(settings, served.openapi, routes)
    docs_app = docs.create_docs_app(settings, served)
    stack = layers(settings, services, routes, sandboxes, sio, lifecycle, docs_app)
    return ChatApp(stacked(stack, rest), services, sio, sockets, rest, sandboxes, lifecycle, stack)
