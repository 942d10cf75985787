"""What the Socket.IO layer tells an observer, when one is handed in (the dev kit's
socket journal, from the composition root; with dev endpoints off there is none, and
nothing below is computed).

The observer learns each socket's sandbox and user at its connect, so later calls name
only the socket: a client event with the acknowledgement it got and, when its payload or
its name broke asyncapi.yaml, why; each server event with the sockets it was delivered
to; the disconnect with its reason.
"""

from __future__ import annotations

from typing import Any, Protocol


class SocketObserver(Protocol):
    def connected(self, sid: str, sandbox: str, user_id: str) -> None: ...

    def disconnected(self, sid: str, reason: str | None) -> None: ...

    def client_event(
        self, sid: str, event: str, payload: Any, ack: dict[str, Any], violation: str | None
    ) -> None: ...

    def delivered(self, event: str, room: str, payload: dict[str, Any], sids: list[str]) -> None:
        """`event` went to `sids`, the sockets in `room` at emit time (skipped ones left out)."""
        ...
