"""Running the app under uvicorn, with the bounds an open port needs.

    bind(host, port)         the server's socket, bound before anything is printed, so a
                             busy port fails first with one line (`PortUnavailable`); it
                             listens only once the app is ready, so that clients polling
                             for the server are refused meanwhile rather than queued
    with_header_deadline     uvicorn's HTTP protocol, but a connection whose request headers
                             take longer than the header timeout gets 408 and is closed
                             (uvicorn bounds only the idle time between requests)
    ChatServer               uvicorn's server, but it announces itself once it listens,
                             a stop first closes every Socket.IO connection, so draining
                             waits for requests, not long-polls, and it stops by itself
                             once the app has a `fatal_error` (a store that refuses it)
    server_for(app, ...)     the configured server; `.run(sockets=[sock])` serves until a signal

Body read time and body size are bounded inside the app (impl.web.body_limits).
"""

from __future__ import annotations

import asyncio
import errno
import json
import socket
from collections.abc import Callable
from typing import Any

import uvicorn
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from impl.app import ChatApp
from impl.settings import Settings
from impl.web.problems import PROBLEM_JSON, problem_body

# In-flight REST requests may finish within this after a stop; sockets are closed at once.
GRACEFUL_SHUTDOWN_S = 10


class PortUnavailable(OSError):
    """The address cannot be listened on; the message is the one line to show."""


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port (uvicorn makes it listen), or `PortUnavailable`."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise PortUnavailable(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortUnavailable(
                f"port {port} on {host} is already in use; choose another with --port"
            ) from None
        raise PortUnavailable(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def header_timeout_response(seconds: float) -> bytes:
    detail = f"the request headers did not arrive within {seconds:g} s"
    body = json.dumps(problem_body(408, detail, "REQUEST_TIMEOUT")).encode()
    head = (
        "HTTP/1.1 408 Request Timeout\r\n"
        f"content-type: {PROBLEM_JSON}\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


def with_header_deadline(base: type[asyncio.Protocol], seconds: float) -> type[asyncio.Protocol]:
    """`base` (uvicorn's httptools or h11 protocol) with a deadline on each request's
    headers: it starts when the connection opens or the next request's first byte
    arrives, and ends when uvicorn has parsed the headers (it then has a new `cycle`)."""

    class HeaderDeadline(base):  # type: ignore[valid-type, misc]
        _deadline: asyncio.TimerHandle | None = None
        _heard: bool = False

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            before = self.cycle
            if self._deadline is None and (before is None or before.response_complete):
                self._arm()
            self._heard = True
            super().data_received(data)
            if self.cycle is not before or self.transport.get_protocol() is not self:
                self._disarm()  # headers parsed, or upgraded to a websocket

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._deadline = asyncio.get_running_loop().call_later(seconds, self._expired)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expired(self) -> None:
            self._deadline = None
            if self.transport.is_closing() or self.transport.get_protocol() is not self:
                return
            if self._heard:  # a connection that never said anything is just closed
                self.transport.write(header_timeout_response(seconds))
            self.transport.close()

    HeaderDeadline.__name__ = f"HeaderDeadline{base.__name__}"
    return HeaderDeadline


class ChatServer(uvicorn.Server):
    """uvicorn's server; `announce` runs once it listens, and stopping closes the app's
    Socket.IO connections first."""

    def __init__(
        self, config: uvicorn.Config, app: ChatApp, announce: Callable[[], None] | None = None
    ) -> None:
        super().__init__(config)
        self.chat_app = app
        self.announce = announce

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self.announce is not None:
            self.announce()

    async def on_tick(self, counter: int) -> bool:
        if self.chat_app.fatal_error is not None:
            return True
        return await super().on_tick(counter)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await self.chat_app.close_sockets()
        await super().shutdown(sockets)


def server_for(
    app: ChatApp,
    settings: Settings,
    log_level: str | None = None,
    announce: Callable[[], None] | None = None,
) -> ChatServer:
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        http=with_header_deadline(AutoHTTPProtocol, settings.header_timeout_seconds),
        log_level=log_level or settings.log_level,
        # uvicorn's loggers propagate to the process's own handler (impl.logs): one format
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )
    return ChatServer(config, app, announce)
