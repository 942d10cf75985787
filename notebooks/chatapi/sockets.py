"""Socket.IO for the notebooks: `Live`, one user's connection that keeps every event it
receives in order, and one-line views of what each connection got.

Proving absence: python-socketio handles an event before any packet that arrives after it,
and the server writes a socket's packets in order. So once the acknowledgement of a client
event comes back, every event the server sent that socket before answering it has been
recorded (`Live.barrier`); `nothing_more` asserts after one, never after a sleep.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any

import socketio

from .display import Aliases

if TYPE_CHECKING:
    from .client import User

# A well-formed chat id no chat has: leaving its room is a harmless round trip.
NO_CHAT = "000000000000000000000000"


class Live:
    """One Socket.IO connection of one user, keeping every event it receives in order."""

    def __init__(self, user: User) -> None:
        self.user = user
        self.aliases = user.api.aliases
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, Any]] = []
        self._taken = 0
        self._arrived = asyncio.Event()
        self.refusal: Any = None  # what `connect_error` carried, when the server refused
        self.sio.on("*", self._on_event)
        self.sio.on("connect_error", self._on_connect_error)

    async def _on_connect_error(self, data: Any = None) -> None:
        self.refusal = data

    async def _on_event(self, event: str, data: Any = None) -> None:
        self.aliases.collect(data)
        self.events.append((event, data))
        self._arrived.set()

    async def connect(self) -> None:
        await self.sio.connect(
            self.user.api.base_url,
            auth={"token": self.user.token},
            transports=["websocket"],
            wait_timeout=5,
        )

    async def disconnect(self) -> None:
        await self.sio.disconnect()

    async def closed(self, within: float = 5.0) -> None:
        """Wait until the server has closed this connection."""
        await asyncio.wait_for(self.sio.wait(), within)

    @property
    def connected(self) -> bool:
        return bool(self.sio.connected)

    async def call(self, event: str, payload: Any) -> Any:
        """Emit a client event and return its acknowledgement."""
        return await self.sio.call(event, payload, timeout=5)

    async def wait(self, event: str, within: float = 5.0) -> Any:
        """The payload of the next not yet taken event; it must be `event`."""
        deadline = asyncio.get_running_loop().time() + within
        while self._taken >= len(self.events):
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"{self.user.name} got no {event!r} in time")
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                continue
        name, payload = self.events[self._taken]
        self._taken += 1
        assert name == event, f"{self.user.name} expected {event!r}, got {name!r}"
        return payload

    async def barrier(self) -> None:
        """Return once every event the server sent this socket so far has been recorded."""
        await self.call("leave-chat-room", NO_CHAT)

    async def nothing_more(self) -> None:
        """Assert that no event arrived beyond those already taken with `wait`."""
        await self.barrier()
        extra = [name for name, _ in self.events[self._taken :]]
        assert not extra, f"{self.user.name} got unexpected events: {extra}"

    def log(self) -> list[str]:
        """One line per event received so far: name, seq and the payload's gist."""
        return [describe(name, payload, self.aliases) for name, payload in self.events]

    def __repr__(self) -> str:
        state = "connected" if self.connected else "disconnected"
        return f"<Live {self.user.name}: {state}, {len(self.events)} events received>"


def describe(event: str, payload: Any, aliases: Aliases, cut: int = 18) -> str:
    """One event in a line: `#4 new-message Alice: 'Price: 120 EUR'` and the like."""
    p = payload if isinstance(payload, dict) else {}

    def who(user_id: Any) -> str:
        return re.sub(r"<user (.+)>", r"\1", aliases.text(str(user_id)))

    def quote(text: str) -> str:
        return repr(text if len(text) <= cut else text[: cut - 3] + "...")

    parts = [f"#{p['seq']}" if "seq" in p else "--", event]
    message = p.get("message")
    if isinstance(message, dict):
        parts.append(f"{who(message['senderId'])}: {quote(message.get('content', ''))}")
    if "messageId" in p:
        parts.append(aliases.text(str(p["messageId"])))
    if "messageIds" in p:
        parts.append(f"by {who(p['userId'])}: {len(p['messageIds'])} message(s)")
    if "userIds" in p:
        parts.append(", ".join(who(u) for u in p["userIds"]))
    if event == "participant-removed":
        parts.append(who(p.get("userId")))
    if event == "user-typing":
        parts.append(f"{who(p.get('userId'))} {'starts' if p.get('isTyping') else 'stops'}")
    return " ".join(parts)


def side_by_side(*lives: Live, width: int = 44) -> None:
    """Print the events each connection received, one column per user."""
    columns = [[f"{live.user.name}'s socket:", *live.log()] for live in lives]
    height = max(len(c) for c in columns)
    for row in range(height):
        cells = [c[row] if row < len(c) else "" for c in columns]
        print("  ".join(cell[:width].ljust(width) for cell in cells).rstrip())
