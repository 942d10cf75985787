"""The people and places of a soak run: users made through the dev endpoint, direct and
group chats between them, and one python-socketio client per user, joined to every room
of the user's chats (again after any reconnect), counting the events it gets: each
``new-message`` by message id, and every numbered event by chat and ``seq``.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import socketio

from benchmarks.soak.traffic import Traffic

SOCKET_TIMEOUT_S = 10.0


class SetupFailed(RuntimeError):
    """A user, chat or socket could not be made before the load began."""


@dataclass
class Chat:
    id: str
    kind: str
    participants: list[str]


@dataclass
class Listener:
    """One user's socket: joined to the user's chat rooms, counting what arrives."""

    url: str
    token: str
    rooms: list[str]
    client: Any = None
    connects: int = 0
    disconnects: int = 0
    join_failures: int = 0
    received: Counter[str] = field(default_factory=Counter)  # message id -> deliveries
    seqs: dict[str, Counter[int]] = field(default_factory=dict)  # chat id -> seq -> deliveries
    rejoins: set[asyncio.Task[None]] = field(default_factory=set)

    async def open(self) -> None:
        self.client = socketio.AsyncClient(
            reconnection=True, reconnection_delay=0.5, reconnection_delay_max=2
        )
        self.client.on("connect", self._connected)
        self.client.on("disconnect", self._dropped)
        self.client.on("*", self._event)
        await self.client.connect(
            self.url,
            auth={"token": self.token},
            transports=["websocket"],
            wait_timeout=SOCKET_TIMEOUT_S,
        )
        await self.join_all()

    def _connected(self) -> None:
        self.connects += 1
        if self.connects > 1:  # a reconnect: the server forgot this socket's rooms
            task = asyncio.get_running_loop().create_task(self.join_all())
            self.rejoins.add(task)
            task.add_done_callback(self.rejoins.discard)

    def _dropped(self, reason: Any = None) -> None:
        self.disconnects += 1

    def _event(self, event: str, payload: Any = None) -> None:
        if not isinstance(payload, dict):
            return
        if isinstance(payload.get("seq"), int) and isinstance(payload.get("chatId"), str):
            self.seqs.setdefault(payload["chatId"], Counter())[payload["seq"]] += 1
        message = payload.get("message")
        if event == "new-message" and isinstance(message, dict) and "_id" in message:
            self.received[str(message["_id"])] += 1

    async def join_all(self) -> None:
        for chat_id in self.rooms:
            try:
                ack = await self.client.call("join-chat-room", chat_id, timeout=SOCKET_TIMEOUT_S)
            except (socketio.exceptions.SocketIOError, TimeoutError):
                ack = None
            if not (isinstance(ack, dict) and ack.get("success") is True):
                self.join_failures += 1

    @property
    def connected(self) -> bool:
        return bool(self.client is not None and self.client.connected)

    async def close(self) -> None:
        for task in list(self.rejoins):
            task.cancel()
        if self.client is not None:
            await self.client.disconnect()
            await self.client.shutdown()


@dataclass
class User:
    index: int
    id: str
    token: str
    chats: list[Chat] = field(default_factory=list)
    listener: Listener | None = None


@dataclass
class World:
    users: list[User]
    chats: list[Chat]

    def user(self, user_id: str) -> User:
        return next(u for u in self.users if u.id == user_id)


def _chat_plan(n_users: int) -> list[tuple[str, list[int]]]:
    """Direct chats between neighbours (0-1, 2-3, ...), three interleaved groups, and one
    group of everyone: each user is in one direct chat and two or three groups."""
    plan = [("direct", [i, i + 1]) for i in range(0, n_users - 1, 2)]
    for offset in range(3):
        members = list(range(offset, n_users, 3))
        if len(members) >= 3:
            plan.append(("group", members))
    plan.append(("group", list(range(n_users))))
    return plan


async def _user(traffic: Traffic, index: int) -> User:
    body = {"name": f"soak-{index:02d}", "role": "user"}
    answer = await traffic.call("setup", "POST", "/api/dev/users", json=body, budgeted=False)
    if answer.status != 201:
        raise SetupFailed(f"POST /api/dev/users: {answer.status} {answer.body}")
    data = answer.data
    return User(index, data["user"]["_id"], data["token"])


async def _chat(traffic: Traffic, kind: str, members: list[User]) -> Chat:
    creator, others = members[0], members[1:]
    body: dict[str, Any] = {"participantIds": [u.id for u in others], "type": kind}
    if kind == "group":
        body["title"] = f"soak group of {len(members)}"
    answer = await traffic.call(
        "setup", "POST", "/api/chat", creator.token, json=body, budgeted=False
    )
    if answer.status not in (200, 201):
        raise SetupFailed(f"POST /api/chat: {answer.status} {answer.body}")
    chat = Chat(answer.data["chat"]["_id"], kind, [u.id for u in members])
    for member in members:
        member.chats.append(chat)
    return chat


async def build(traffic: Traffic, n_users: int) -> World:
    """Users, chats and connected, joined sockets."""
    if n_users < 3:
        raise SetupFailed("a soak needs at least 3 users")
    users = [await _user(traffic, i) for i in range(n_users)]
    chats = [
        await _chat(traffic, kind, [users[i] for i in members])
        for kind, members in _chat_plan(n_users)
    ]
    for user in users:
        user.listener = Listener(traffic.base, user.token, [c.id for c in user.chats])
        try:
            await user.listener.open()
        except socketio.exceptions.SocketIOError as exc:
            raise SetupFailed(f"socket of user {user.index}: {exc}") from exc
        if user.listener.join_failures:
            raise SetupFailed(f"socket of user {user.index} could not join its rooms")
    return World(users, chats)


async def close(world: World) -> None:
    await asyncio.gather(*(u.listener.close() for u in world.users if u.listener is not None))
