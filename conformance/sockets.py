"""The Socket.IO side of the kit: one python-socketio `AsyncClient` per connection, every
event and acknowledgement checked against asyncapi.yaml as it arrives and recorded in
the trace of the rule that opened it.

Proving that an event did not come: Socket.IO delivers one connection's packets in order,
so once the acknowledgement of an event sent after some action comes back, whatever the
server sent this socket for that action has arrived (`Live.barrier`). The barrier is a
`leave-chat-room` of a chat that does not exist, which asyncapi.yaml says succeeds. A
short settle time after it leaves room for servers that fan out through a broker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import socketio

from conformance.specs import Contract
from conformance.trace import RuleFailed, Trace, shown

# A well-formed chat id that names no chat: leaving its room is a harmless round trip.
NO_CHAT = "000000000000000000000000"
EVENT_TIMEOUT_S = 5.0
# Over long-polling, the client's connect and disconnect wait for the poll the server
# holds (up to its ping interval): the kit waits this long, then drops the poll.
LET_GO_S = 1.0

Matcher = Callable[[Any], bool]


@dataclass
class SocketOptions:
    path: str = "socket.io"
    transports: tuple[str, ...] = ("websocket",)
    settle_s: float = 0.05
    timeout_s: float = EVENT_TIMEOUT_S


@dataclass
class Received:
    name: str
    payload: Any
    taken: bool = False


@dataclass
class Live:
    """One connected socket of one user, in one rule."""

    url: str
    label: str
    token: str
    contract: Contract
    trace: Trace
    options: SocketOptions
    events: list[Received] = field(default_factory=list)
    refusal: Any = None

    def __post_init__(self) -> None:
        quiet = logging.getLogger("conformance.socketio")
        quiet.setLevel(logging.CRITICAL)
        self.client = socketio.AsyncClient(reconnection=False, logger=quiet, engineio_logger=quiet)
        self.arrived = asyncio.Condition()
        self.client.on("*", self._on_event)
        self.client.on("connect_error", self._on_refused)
        self.client.on("disconnect", self._on_disconnect)

    async def connect(self) -> Live:
        """Connect with `auth: {token}`; RuleFailed when the server refuses."""
        if not await self.try_connect():
            raise RuleFailed(f"{self.label}: the Socket.IO connection was refused: {self.refusal}")
        return self

    async def try_connect(self) -> bool:
        """Connect, and say whether the server let it (why not is kept in `refusal`)."""
        self.trace.socket(self.label, "connect", "connect")
        connecting = self.client.connect(
            self.url,
            auth={"token": self.token},
            transports=list(self.options.transports),
            socketio_path=self.options.path,
            wait_timeout=self.options.timeout_s,
        )
        try:
            await asyncio.wait_for(connecting, self.options.timeout_s + LET_GO_S)
        except socketio.exceptions.ConnectionError as exc:
            self.refusal = self.refusal or str(exc)
            return False
        except TimeoutError:
            await self.drop()
            if self.refusal is None:
                raise RuleFailed(f"{self.label}: no answer to the Socket.IO connect") from None
            return False  # refused; the client was still waiting for a held poll
        return True

    async def drop(self) -> None:
        """Let go of the connection without waiting for the server (closes its session)."""
        await self.client.eio.disconnect(abort=True)

    async def close(self) -> None:
        if not self.client.connected:
            return
        try:
            await asyncio.wait_for(self.client.disconnect(), LET_GO_S)
        except TimeoutError:
            await self.drop()  # a poll the server holds

    # --- receiving ------------------------------------------------------------------------

    async def _on_event(self, name: str, *args: Any) -> None:
        payload = args[0] if len(args) == 1 else list(args)
        self.trace.socket(self.label, "event", name, payload)
        for problem in self.contract.event_problems(name, payload):
            self.trace.breaches.append(f"{self.label} received {problem}")
        async with self.arrived:
            self.events.append(Received(name, payload))
            self.arrived.notify_all()

    def _on_refused(self, data: Any = None) -> None:
        self.refusal = data
        self.trace.socket(self.label, "refused", "connect_error", data)

    def _on_disconnect(self, reason: Any = None) -> None:
        self.trace.socket(self.label, "disconnect", "disconnect", str(reason))

    def _first(self, name: str, where: Matcher | None) -> Received | None:
        for received in self.events:
            if (
                not received.taken
                and received.name == name
                and (where is None or where(received.payload))
            ):
                return received
        return None

    async def wait(self, name: str, where: Matcher | None = None, what: str = "") -> Any:
        """The payload of the next `name` event (matching `where`) not taken before."""
        try:
            async with self.arrived:
                found = await asyncio.wait_for(
                    self.arrived.wait_for(lambda: self._first(name, where)), self.options.timeout_s
                )
        except TimeoutError:
            self.trace.raise_breaches()
            detail = f" ({what})" if what else ""
            raise RuleFailed(
                f"{self.label} got no {name!r} event{detail} within {self.options.timeout_s:g} s"
            ) from None
        assert found is not None
        found.taken = True
        self.trace.raise_breaches()
        return found.payload

    def untaken(self, name: str | None = None, where: Matcher | None = None) -> list[Any]:
        return [
            r.payload
            for r in self.events
            if not r.taken
            and (name is None or r.name == name)
            and (where is None or where(r.payload))
        ]

    async def barrier(self) -> None:
        """Return once every event the server sent this socket before now has arrived."""
        ack = await self.call("leave-chat-room", NO_CHAT)
        if ack.get("success") is not True:
            raise RuleFailed(f"{self.label}: leave-chat-room of an unknown chat was refused: {ack}")
        await asyncio.sleep(self.options.settle_s)

    async def nothing(
        self, name: str | None = None, where: Matcher | None = None, why: str = ""
    ) -> None:
        """Fail if an event (`name`, matching `where`) arrived and was not taken by a wait."""
        await self.barrier()
        self.trace.raise_breaches()
        extra = self.untaken(name, where)
        if extra:
            kind = f"{name!r} " if name else ""
            because = f" ({why})" if why else ""
            raise RuleFailed(
                f"{self.label} got an unexpected {kind}event{because}: {shown(extra[0], 600)}"
            )

    # --- sending --------------------------------------------------------------------------

    async def call(self, event: str, *payload: Any) -> Any:
        """Emit `event` and return its acknowledgement (checked against asyncapi.yaml)."""
        self.trace.socket(
            self.label, "emit", event, payload[0] if len(payload) == 1 else list(payload)
        )
        try:
            ack = await self.client.call(event, *payload, timeout=self.options.timeout_s)
        except socketio.exceptions.TimeoutError:
            raise RuleFailed(
                f"{self.label}: no acknowledgement of {event!r} within {self.options.timeout_s:g} s"
            ) from None
        except socketio.exceptions.BadNamespaceError:
            raise RuleFailed(
                f"{self.label}: the connection was gone when it emitted {event!r}"
            ) from None
        self.trace.socket(self.label, "ack", event, ack)
        for problem in self.contract.ack_problems(ack):
            raise RuleFailed(
                f"{self.label}: the acknowledgement of {event!r} breaks asyncapi.yaml: {problem}"
            )
        return ack

    async def join(self, chat_id: str) -> None:
        ack = await self.call("join-chat-room", chat_id)
        if ack.get("success") is not True:
            raise RuleFailed(f"{self.label}: join-chat-room of its own chat failed: {ack}")


def socket_url(base_url: str) -> str:
    """The origin Socket.IO connects to (its path is `SocketOptions.path`)."""
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}"


def default_path(base_url: str) -> str:
    """`socket.io` under the base URL's own path (a server mounted below the root)."""
    prefix = urlsplit(base_url).path.strip("/")
    return f"{prefix}/socket.io" if prefix else "socket.io"
