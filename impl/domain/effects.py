"""What a stored write asks to happen next: events to emit, rooms to leave, sockets to drop,
offline participants to notify.

Domain functions never talk to sockets: they append these to the `Caller`, and the request
hands them to `impl.realtime.emit` once the write is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Emit:
    room: str
    event: str
    payload: dict[str, Any]
    skip_sid: str | list[str] | None = None


@dataclass(frozen=True)
class LeaveRoom:
    user_id: str
    room: str


@dataclass(frozen=True)
class DisconnectUser:
    user_id: str


@dataclass(frozen=True)
class NotifyOffline:
    """Give each of `user_ids` without a connected socket a notification."""

    chat_id: str
    message_id: str
    user_ids: tuple[str, ...]


Effect = Emit | LeaveRoom | DisconnectUser | NotifyOffline


def chat_room(chat_id: object) -> str:
    return f"chat-{chat_id}"


def user_room(user_id: object) -> str:
    return f"user-{user_id}"
