"""Running the app under uvicorn, with the bounds an open port needs.

    bind(host, port)         the server's socket, bound before anything is printed, so a
                             busy port fails first with one line (`PortUnavailable`); it
                             listens only once the app is ready, so that clients polling
                             for the server are refused meanwhile rather than queued
    bounded_protocol         uvicorn's HTTP protocol, but a request head that takes longer
                             than the header timeout gets 408, and one larger than the
                             header bounds 431, and the connection is closed (uvicorn
                             bounds only the idle time between requests, and with
                             httptools not the size of a head at all)
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
import gc
import json
import logging
import socket
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from impl.app import ChatApp
from impl.settings import Settings
from impl.web.problems import PROBLEM_JSON, problem_body

log = logging.getLogger("impl.serve")

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


def refusal(status: int, detail: str, code: str) -> bytes:
    """A whole HTTP response with the problem document, for a connection about to close."""
    body = json.dumps(problem_body(status, detail, code)).encode()
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
        f"content-type: {PROBLEM_JSON}\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


def head_piece(data: bytes, room_bytes: int, room_lines: int) -> int:
    """How much of `data` a head still within its bounds may take: at most `room_bytes`
    bytes and `room_lines` line ends."""
    end = min(len(data), room_bytes)
    at = -1
    for _ in range(room_lines):
        at = data.find(b"\n", at + 1, end)
        if at < 0:
            return end
    return at + 1


def bounded_protocol(base: type[asyncio.Protocol], settings: Settings) -> type[asyncio.Protocol]:
    """`base` (uvicorn's httptools or h11 protocol) with each request's head bounded.

    Time: the head must arrive within the header timeout of the connection opening or of
    the next request's first byte (else 408). Size: the parser is fed a head only while it
    stays within the header bytes and header lines; one that needs more gets 431 and the
    connection closes, the rest unread. A head ends when uvicorn has parsed it
    (it then has a new `cycle`) or has handed the connection to its websocket protocol,
    whose frames Engine.IO bounds. The count restarts for each request of a keep-alive
    connection; bytes that arrive while a request's body is still expected are the body's
    (so a body that ends inside a read leaves the rest of that read uncounted).
    """
    seconds, most_bytes = settings.header_timeout_seconds, settings.max_header_bytes
    # the request line and the blank line that ends a head are lines too
    most_line_ends = settings.max_header_count + 2

    class BoundedHead(base):  # type: ignore[valid-type, misc]
        _deadline: asyncio.TimerHandle | None = None
        _heard: bool = False
        # the head being read: the cycle before it, its bytes and line ends so far
        _head_after: Any = None
        _head_bytes: int = 0
        _head_lines: int = 0
        # httptools: its parser has passed a head and not yet the end of that message
        _in_message: bool = False

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            before = self.cycle
            if self._deadline is None and (before is None or before.response_complete):
                self._arm()
            self._heard = True
            self._feed(data)
            if self.cycle is not before or not self._in_charge():
                self._disarm()  # headers parsed, or upgraded to a websocket

        def _feed(self, data: bytes) -> None:
            while data and not self.transport.is_closing():
                if not self._in_charge():  # upgraded: the rest is the websocket's
                    self.transport.get_protocol().data_received(data)
                    return
                if self.cycle is not self._head_after:  # a head was parsed: count anew
                    self._head_after, self._head_bytes, self._head_lines = self.cycle, 0, 0
                if self._uncounted():
                    super().data_received(data)
                    return
                size = head_piece(
                    data, most_bytes - self._head_bytes, most_line_ends - self._head_lines
                )
                piece, data = data[:size], data[size:]
                super().data_received(piece)
                if self._head_pending():
                    self._head_bytes += size
                    self._head_lines += piece.count(b"\n")
                    if self._head_bytes >= most_bytes or self._head_lines >= most_line_ends:
                        self._refuse()
                        return

        def _head_pending(self) -> bool:
            """The parser still waits for the rest of the head it was fed."""
            return (
                self.cycle is self._head_after
                and self._in_charge()
                and not self.transport.is_closing()
            )

        def _in_charge(self) -> bool:
            return self.transport.get_protocol() is self

        def _uncounted(self) -> bool:
            """What the parser takes now is not a head it reads: a body, or with h11 a
            pipelined request, which h11 keeps unparsed (and uvicorn stops reading) until
            the response is out, and then bounds by its own limit, set to ours."""
            conn = getattr(self, "conn", None)
            if isinstance(conn, h11.Connection):
                return conn.their_state in (h11.SEND_BODY, h11.DONE)
            return self._in_message

        # httptools' parser callbacks (h11 reports its state instead)
        def on_headers_complete(self) -> None:
            self._in_message = True
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self._in_message = False
            super().on_message_complete()

        def _refuse(self) -> None:
            """The head is too large: say so unless a response is under way, and close."""
            cycle = self.cycle
            if cycle is None or cycle.response_complete:
                detail = (
                    f"a request head may hold at most {most_bytes} bytes and "
                    f"{settings.max_header_count} header lines"
                )
                self.transport.write(refusal(431, detail, "HEADERS_TOO_LARGE"))
            self.transport.close()

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
            if self.transport.is_closing() or not self._in_charge():
                return
            if self._heard:  # a connection that never said anything is just closed
                detail = f"the request headers did not arrive within {seconds:g} s"
                self.transport.write(refusal(408, detail, "REQUEST_TIMEOUT"))
            self.transport.close()

    BoundedHead.__name__ = f"BoundedHead{base.__name__}"
    return BoundedHead


def settle_heap() -> None:
    """Take what start-up built out of the garbage collector's walks (`gc.freeze`).

    The modules, the parsed specs with their validators and the app live as long as the
    process; left tracked, every full collection walks all of them again: about 50 ms
    each (93,000 objects), one every few hundred requests, a pause every client in flight
    waits out.
    Frozen, a full collection walks only what came later (the embedded store's documents
    included, as they come and go). Reference counting still frees frozen objects; only
    a reference cycle among them would stay, and start-up leaves none worth keeping.
    """
    gc.collect()
    gc.freeze()
    log.debug("heap settled: %d objects out of the collector's walks", gc.get_freeze_count())


class ChatServer(uvicorn.Server):
    """uvicorn's server; `announce` runs once it listens, and stopping closes the app's
    Socket.IO connections first. `settle`: `settle_heap()` once started (a process that
    serves; not for tests that start many servers in one process)."""

    def __init__(
        self,
        config: uvicorn.Config,
        app: ChatApp,
        announce: Callable[[], None] | None = None,
        settle: bool = False,
    ) -> None:
        super().__init__(config)
        self.chat_app = app
        self.announce = announce
        self.settle = settle

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self.settle:
            settle_heap()
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
    parser: type[asyncio.Protocol] = AutoHTTPProtocol,
    settle: bool = False,
) -> ChatServer:
    """`parser`: uvicorn's HTTP protocol class (httptools when installed, else h11);
    `settle`: see `ChatServer`."""
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        http=bounded_protocol(parser, settings),
        # h11 has a bound of its own (16 KiB by default): ours answers first
        h11_max_incomplete_event_size=settings.max_header_bytes,
        log_level=log_level or settings.log_level,
        # uvicorn's loggers propagate to the process's own handler (impl.logs): one format
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )
    return ChatServer(config, app, announce, settle)
