"""python-socketio's server with the bounds at the edge that it lacks.

    SocketServer    `socketio.AsyncServer`, but a packet it cannot use closes its
                    connection with one short log line (python-socketio logs a traceback
                    per packet and keeps the connection), and an Engine.IO connection
                    that holds no Socket.IO connection is closed after the connect
                    timeout (python-socketio keeps it for as long as it answers pings)
    ClientPacket    a Socket.IO packet as the server decodes it from a client: anything
                    python-socketio could not use raises `UndecodablePacket`

A packet the protocol does not allow is what socket.io's own server treats as a parse
error, which closes the connection: text that is not a packet or not JSON, JSON nested
too deeply to decode, a packet type a client may not send, an event that is not a list
starting with its name, an acknowledgement that is not a list, binary parts that do not
fit the packet that announced them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import socketio
from socketio import packet

from impl.domain.services import Presence
from impl.realtime.presence import RedisPresence
from impl.realtime.redis_guard import GuardedRedisManager, redis_options
from impl.settings import Settings

log = logging.getLogger("impl.realtime.server")

EVENTS = (packet.EVENT, packet.BINARY_EVENT)
ACKS = (packet.ACK, packet.BINARY_ACK)
CLIENT_PACKET_TYPES = frozenset({packet.CONNECT, packet.DISCONNECT, *EVENTS, *ACKS})
# Binary parts one packet may announce: python-socketio keeps each part that arrives until
# all the announced ones have.
MOST_ATTACHMENTS = 10


class UndecodablePacket(ValueError):
    """A client sent a packet the Socket.IO protocol does not allow."""


def is_event_name(value: Any) -> bool:
    return isinstance(value, str) or (
        isinstance(value, int | float) and not isinstance(value, bool)
    )


def shape_problem(kind: Any, data: Any, attachments: int) -> str | None:
    """Why a decoded packet is not one a client may send, or None."""
    if kind not in CLIENT_PACKET_TYPES:
        return "a packet type clients do not send"
    if kind in EVENTS and not (isinstance(data, list) and data and is_event_name(data[0])):
        return "an event that is not a list starting with its name"
    if kind in ACKS and not isinstance(data, list):
        return "an acknowledgement that is not a list"
    binary = kind in (packet.BINARY_EVENT, packet.BINARY_ACK)
    if binary and not 0 < attachments <= MOST_ATTACHMENTS:
        return f"a binary packet announcing {attachments} parts"
    return None


class ClientPacket(packet.Packet):
    def decode(self, encoded_packet: Any) -> int:
        try:
            attachments: int = super().decode(encoded_packet) or 0
        except Exception as exc:  # whatever failed, the client's bytes are not a packet
            raise UndecodablePacket(f"not a Socket.IO packet: {type(exc).__name__}") from None
        problem = shape_problem(self.packet_type, self.data, attachments)
        if problem is not None:
            raise UndecodablePacket(problem)
        return attachments

    def add_attachment(self, attachment: Any) -> bool:
        try:
            complete: bool = super().add_attachment(attachment)
        except Exception as exc:  # a part the packet did not announce, or cannot place
            raise UndecodablePacket(
                f"a binary part that does not fit: {type(exc).__name__}"
            ) from None
        return complete


class SocketServer(socketio.AsyncServer):
    """`connect_timeout`: seconds an Engine.IO connection may hold no Socket.IO connection."""

    def __init__(self, *, connect_timeout: float, **options: Any) -> None:
        super().__init__(serializer=ClientPacket, **options)
        self.connect_timeout = connect_timeout
        # one per Engine.IO connection that holds no Socket.IO connection yet (or any more)
        self.connect_deadlines: dict[str, asyncio.Task[None]] = {}

    def is_open(self, eio_sid: str) -> bool:
        """The Engine.IO connection is there and not being closed."""
        socket = self.eio.sockets.get(eio_sid)
        return socket is not None and not socket.closing and not socket.closed

    async def close_connection(self, eio_sid: str) -> None:
        """Close an Engine.IO connection now, whatever its client does: python-engineio's
        `disconnect` waits until a polling client fetches its close packet, and leaves a
        websocket open until its client closes it (or falls silent for a ping timeout)."""
        socket = self.eio.sockets.get(eio_sid)
        if socket is None:
            return
        await socket.close(wait=False)
        if socket.upgraded:
            await socket.queue.put(None)  # ends the websocket's writer, which closes it

    def holds_namespace(self, eio_sid: str) -> bool:
        """A Socket.IO connection (or one being set up) rides on this Engine.IO one."""
        namespaces = list(self.manager.get_namespaces())
        return any(self.manager.sid_from_eio_sid(eio_sid, ns) is not None for ns in namespaces)

    def await_namespace(self, eio_sid: str) -> None:
        """Unless a deadline is already running for it: close the connection if it holds
        no Socket.IO connection `connect_timeout` from now. A refused or repeated connect
        attempt does not move a running deadline."""
        if eio_sid not in self.connect_deadlines:
            self.connect_deadlines[eio_sid] = asyncio.create_task(self.connect_deadline(eio_sid))

    async def connect_deadline(self, eio_sid: str) -> None:
        await asyncio.sleep(self.connect_timeout)
        self.connect_deadlines.pop(eio_sid, None)
        if self.is_open(eio_sid) and not self.holds_namespace(eio_sid):
            log.info(
                "socket connection %s held no Socket.IO connection for %g s; closing it",
                eio_sid,
                self.connect_timeout,
            )
            await self.close_connection(eio_sid)

    def namespaces_changed(self, eio_sid: str | None) -> None:
        """A connect was refused or a Socket.IO connection left: the clock runs again."""
        if eio_sid is not None and self.is_open(eio_sid) and not self.holds_namespace(eio_sid):
            self.await_namespace(eio_sid)

    # python-socketio's dispatch (5.x), which these overrides bound
    async def _handle_eio_connect(self, eio_sid: str, environ: Any) -> Any:
        accepted = await super()._handle_eio_connect(eio_sid, environ)
        self.await_namespace(eio_sid)
        return accepted

    async def _handle_connect(self, eio_sid: str, namespace: Any, data: Any) -> None:
        await super()._handle_connect(eio_sid, namespace, data)
        self.namespaces_changed(eio_sid)

    async def _handle_disconnect(self, eio_sid: str, namespace: Any, reason: Any = None) -> None:
        await super()._handle_disconnect(eio_sid, namespace, reason)
        self.namespaces_changed(eio_sid)

    async def disconnect(self, sid: str, namespace: Any = None, ignore_queue: bool = False) -> None:
        eio_sid = self.manager.eio_sid_from_sid(sid, namespace or "/")
        await super().disconnect(sid, namespace, ignore_queue)
        self.namespaces_changed(eio_sid)

    async def _handle_eio_disconnect(self, eio_sid: str, reason: Any) -> None:
        await super()._handle_eio_disconnect(eio_sid, reason)
        deadline = self.connect_deadlines.pop(eio_sid, None)
        if deadline is not None:
            deadline.cancel()

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        if not self.is_open(eio_sid):  # what a closed connection still sends is dropped
            return
        try:
            await super()._handle_eio_message(eio_sid, data)
        except ValueError as exc:  # UndecodablePacket, or python-socketio's own refusal
            log.warning("socket connection %s broke the protocol (%s); closing it", eio_sid, exc)
            await self.close_connection(eio_sid)


def socket_server(
    settings: Settings, allowed: Callable[[str], bool], presence: Presence
) -> SocketServer:
    """The Socket.IO server for `settings`: Redis fan-out (behind presence's breaker) when
    there is a Redis, browser origins as `allowed` says, the packet size bounded."""
    manager = (
        GuardedRedisManager(
            settings.redis_url,
            settings.redis_prefix,
            presence.breaker,
            redis_options(settings.redis_timeout_seconds),
        )
        if settings.redis_url and isinstance(presence, RedisPresence)
        else None
    )
    return SocketServer(
        connect_timeout=settings.socket_connect_timeout_seconds,
        async_mode="asgi",
        client_manager=manager,
        # the origin layer refuses foreign origins first; Engine.IO echoes allowed ones
        cors_allowed_origins=lambda origin, *_: origin is None or allowed(origin),
        cors_credentials=True,
        max_http_buffer_size=settings.socket_max_packet_bytes,
        logger=False,
        engineio_logger=False,
    )
