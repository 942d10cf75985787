"""Helpers for the Socket.IO tests: a real server per app, clients that check every event
and acknowledgement they get against asyncapi.yaml, and barriers that prove an event
did *not* arrive without sleeping. The fixtures built on them are in this package's
conftest.py.

    serving(app)          the production server on a free 127.0.0.1 port (tests/inprocess.py)
    Socket                one python-socketio AsyncClient (aiohttp transport) for one user
    raw_engineio(url)     an Engine.IO websocket that sends packets as written (`RawEngineIO`),
                          for clients that break the protocol on purpose
    Sockets               opens sockets for a test and closes them all afterwards
    World / build_world   an app and the seams it was built with (store, clock, presence)
    (and the small helpers the socket test modules share: `failure_code`, ...)

Proving absence: python-socketio handles an event before any packet that arrives after it,
and the server writes a socket's packets in order. So once an acknowledgement to a client
event comes back, every event the server queued for that socket before answering it has
been recorded (`Socket.barrier`).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
import pytest
import socketio

from asyncapi_contract import validate_ack, validate_schema, validate_server_event
from conftest import Api, User
from impl.app import ChatApp, create_app
from impl.clock import Clock
from impl.domain.services import Presence
from impl.realtime.emit import EmitListener
from impl.realtime.presence import LocalPresence
from impl.settings import Settings
from impl.store import Store
from impl.store.database import connect
from inprocess import served

EVENT_TIMEOUT = 5.0
# A well-formed chat id no chat has: leaving its room is a harmless round trip.
NO_CHAT = "000000000000000000000000"
# A well-formed chat or user id that names nothing.
UNKNOWN_ID = "65f000000000000000000000"

log = logging.getLogger("tests.sockets")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def serving(app: ChatApp) -> AsyncIterator[str]:
    """`app` served by the production server on a free port; its base URL."""
    async with served(app) as server:
        yield server.url


async def notifications_of(user: User) -> list[dict[str, Any]]:
    """The user's offline notifications: how a test sees whether the server thought the
    user was connected when a message arrived."""
    r = await user.get("/api/notifications")
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()["data"]["notifications"]
    return found


@dataclass
class Received:
    event: str
    payload: Any


class Socket:
    """One connected client. Every event it gets is checked against asyncapi.yaml when it
    arrives (failures are kept and raised by `check`), and every acknowledgement too."""

    def __init__(self, url: str, name: str = "socket") -> None:
        self.url = url
        self.name = name
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[Received] = []
        self.consumed = 0
        self.errors: list[AssertionError] = []
        self.connect_errors: list[Any] = []
        self.arrived = asyncio.Event()
        self.disconnected = asyncio.Event()
        self.sio.on("*", self._record)
        self.sio.on("connect_error", self._refused)
        self.sio.on("disconnect", self._dropped)

    def _record(self, event: str, *args: Any) -> None:
        # Plain `def`: python-socketio runs it before handling any later packet.
        payload = args[0] if len(args) == 1 else list(args)
        try:
            validate_server_event(event, payload)
        except AssertionError as exc:
            self.errors.append(exc)
        self.events.append(Received(event, payload))
        self.arrived.set()

    def _refused(self, data: Any = None) -> None:
        self.connect_errors.append(data)

    def _dropped(self, reason: Any = None) -> None:
        self.disconnected.set()

    async def connect(self, auth: Any, transports: list[str] | None = None) -> None:
        await self.sio.connect(
            self.url, auth=auth, transports=transports or ["websocket"], wait_timeout=5
        )

    @property
    def sid(self) -> str:
        sid: str = self.sio.get_sid()
        return sid

    async def call(self, event: str, *args: Any, within: float = EVENT_TIMEOUT) -> dict[str, Any]:
        """Emit `event` with `args` (zero, one or more arguments) and return its checked ack."""
        data: Any = None if not args else args[0] if len(args) == 1 else tuple(args)
        ack = await self.sio.call(event, data, timeout=within)
        validate_ack(ack)
        assert isinstance(ack, dict)
        return ack

    async def join(self, chat_id: str) -> None:
        ack = await self.call("join-chat-room", chat_id)
        assert ack == {"success": True}, ack

    async def barrier(self) -> None:
        """Return once every event queued for this socket so far has been recorded."""
        await self.call("leave-chat-room", NO_CHAT)

    def names(self) -> list[str]:
        return [r.event for r in self.events]

    def all(self, event: str) -> list[Any]:
        return [r.payload for r in self.events if r.event == event]

    async def next(
        self,
        event: str,
        where: Callable[[Any], bool] = lambda _: True,
        within: float = EVENT_TIMEOUT,
    ) -> Any:
        """The first `event` not returned before (optionally matching `where`), waiting for it."""

        async def first() -> Any:
            while True:
                for index in range(self.consumed, len(self.events)):
                    got = self.events[index]
                    if got.event == event and where(got.payload):
                        self.consumed = index + 1
                        return got.payload
                self.arrived.clear()
                await self.arrived.wait()

        try:
            return await asyncio.wait_for(first(), within)
        except TimeoutError:
            raise AssertionError(
                f"{self.name}: no {event!r} within {within}s; got {self.names()}"
            ) from None

    def check(self) -> None:
        """Raise the first payload that broke asyncapi.yaml, if any did."""
        if self.errors:
            raise self.errors[0]

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()
        await self.sio.shutdown()


class Sockets:
    """Opens sockets against one server and closes them all when the test ends."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.opened: list[Socket] = []

    def new(self, name: str = "socket") -> Socket:
        opened = Socket(self.url, name)
        self.opened.append(opened)
        return opened

    async def open(self, user: User, transports: list[str] | None = None) -> Socket:
        opened = self.new(f"{user.id[-4:]}#{len(self.opened)}")
        await opened.connect({"token": user.token}, transports)
        return opened

    async def in_room(self, user: User, chat_id: str) -> Socket:
        """A socket of `user` that has joined the chat's room."""
        opened = await self.open(user)
        await opened.join(chat_id)
        return opened

    async def refused(self, auth: Any) -> dict[str, Any]:
        """Connect with `auth`, expect a refusal, and return its documented `connect_error`."""
        opened = self.new("refused")
        with pytest.raises(socketio.exceptions.ConnectionError):
            await opened.connect(auth)
        assert len(opened.connect_errors) == 1, opened.connect_errors
        error: dict[str, Any] = opened.connect_errors[0]
        validate_schema("ConnectError", error)
        return error

    async def close_all(self) -> None:
        for opened in self.opened:
            await opened.close()
        for opened in self.opened:
            opened.check()


class RawEngineIO:
    """An Engine.IO v4 connection over a websocket that knows no Socket.IO: it sends what
    it is given, and answers the server's pings while it waits."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def send(self, *packets: str) -> None:
        """Send each packet, as long as the server has not closed the connection."""
        for text in packets:
            if self.ws.closed:
                return
            with suppress(ConnectionError):
                await self.ws.send_str(text)

    async def next_packet(self, within: float = EVENT_TIMEOUT) -> str | None:
        """The next packet other than a ping, or None once the server has closed the
        connection; TimeoutError when neither comes within `within` seconds."""
        deadline = time.monotonic() + within
        while True:
            message = await asyncio.wait_for(self.ws.receive(), deadline - time.monotonic())
            if message.type is not aiohttp.WSMsgType.TEXT:
                return None  # a close frame, or the connection gone
            if message.data != "2":
                return str(message.data)
            await self.send("3")

    async def closed_within(self, seconds: float) -> bool:
        """Whether the server closes the connection within `seconds` (pings answered)."""
        deadline = time.monotonic() + seconds
        try:
            while await self.next_packet(deadline - time.monotonic()) is not None:
                pass
        except TimeoutError:
            return False
        return True


@asynccontextmanager
async def raw_engineio(url: str) -> AsyncIterator[RawEngineIO]:
    """A websocket Engine.IO connection to the server at `url`, past its open packet."""
    endpoint = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    async with aiohttp.ClientSession() as session, session.ws_connect(endpoint) as ws:
        opened = await asyncio.wait_for(ws.receive_str(), EVENT_TIMEOUT)
        assert opened.startswith("0{"), opened
        yield RawEngineIO(ws)


@dataclass
class World:
    """An app and the seams it was built with, which tests look at and reset."""

    app: ChatApp
    store: Store
    clock: Clock
    presence: Presence

    def reset(self) -> None:
        """An empty store and the real time on the clock."""
        self.store.drop_everything()
        self.clock.reset()


def build_world(
    settings: Settings | None = None,
    *,
    presence: Presence | None = None,
    emit_listeners: Sequence[EmitListener] = (),
) -> World:
    settings = settings or Settings(validate_responses=True)
    store, clock = Store(connect(settings)), Clock()
    presence = LocalPresence() if presence is None else presence
    app = create_app(settings, store, clock=clock, presence=presence, emit_listeners=emit_listeners)
    return World(app, store, clock, presence)


async def direct_chat(api: Api) -> tuple[User, User, str]:
    """New users `a` and `b` and their direct chat."""
    a, b = await api.user("a"), await api.user("b")
    return a, b, await a.direct_chat(b)


async def set_status(api: Api, user: User, status: str) -> None:
    r = await api.client.patch(f"/api/dev/users/{user.id}", json={"status": status})
    assert r.status_code == 200, r.text


async def events_after(user: User, chat_id: str, after_seq: int) -> httpx.Response:
    return await user.get(f"/api/chat/{chat_id}/events", params={"afterSeq": after_seq})


def failure_code(ack: dict[str, Any]) -> str:
    assert ack["success"] is False, ack
    code: str = ack["error"]["code"]
    return code
