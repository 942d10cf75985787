"""python-socketio's server with the bounds at the edge that it lacks.

    SocketServer    `socketio.AsyncServer`, but a packet it cannot use closes its
                    connection with one short log line (python-socketio logs a traceback
                    per packet and keeps the connection)
    ClientPacket    a Socket.IO packet as the server decodes it from a client: anything
                    python-socketio could not use raises `UndecodablePacket`

A packet the protocol does not allow is what socket.io's own server treats as a parse
error, which closes the connection: text that is not a packet or not JSON, JSON nested
too deeply to decode, a packet type a client may not send, an event that is not a list
starting with its name, an acknowledgement that is not a list, binary parts that do not
fit the packet that announced them.
"""

from __future__ import annotations

import logging
from typing import Any

import socketio
from socketio import packet

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
    def __init__(self, **options: Any) -> None:
        super().__init__(serializer=ClientPacket, **options)

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

    # python-socketio's dispatch (5.x), which this override bounds
    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        if not self.is_open(eio_sid):  # what a closed connection still sends is dropped
            return
        try:
            await super()._handle_eio_message(eio_sid, data)
        except ValueError as exc:  # UndecodablePacket, or python-socketio's own refusal
            log.warning("socket connection %s broke the protocol (%s); closing it", eio_sid, exc)
            await self.close_connection(eio_sid)
