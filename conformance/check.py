"""What a rule works with: `Check`, one per rule, over the run's `Kit`.

Limits    the numbers the rules are checked against: what the target's
          `GET /api/chat/config` reports (the contract says it reports what it
          enforces), or the page's values (`PAGE`) when it reports nothing usable
Kit       one run: the contract, the REST client, the world, the limits
Check     one rule's users, sockets and trace; sockets are closed when it ends
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from conformance.http import Reply, Rest
from conformance.sockets import Live, SocketOptions, socket_url
from conformance.specs import Contract
from conformance.trace import NotRun, Trace
from conformance.world import ADMIN, SUPPORT, Actor, World


@dataclass(frozen=True)
class Limits:
    """The rules' numbers; the defaults are the requirements page's."""

    max_message_length: int = 5000
    edit_window_s: int = 900
    rate_messages: int = 20
    rate_chats: int = 60
    window_s: int = 60
    upload_max_bytes: int = 10 * 1024 * 1024
    mime_types: tuple[str, ...] = (
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "application/pdf",
        "text/plain",
    )
    typing_throttle_ms: int = 2000
    typing_expires_ms: int = 5000

    @classmethod
    def from_config(cls, data: dict[str, Any]) -> Limits:
        rate, upload, typing = data["rateLimit"], data["upload"], data["typing"]
        return cls(
            max_message_length=int(data["maxMessageLength"]),
            edit_window_s=int(data["editWindowSeconds"]),
            rate_messages=int(rate["messages"]),
            rate_chats=int(rate["chats"]),
            window_s=int(rate["windowSeconds"]),
            upload_max_bytes=int(upload["maxBytes"]),
            mime_types=tuple(upload["mimeTypes"]),
            typing_throttle_ms=int(typing["throttleMs"]),
            typing_expires_ms=int(typing["expiresInMs"]),
        )


PAGE = Limits()


@dataclass
class Kit:
    """What every rule of one run shares."""

    contract: Contract
    rest: Rest
    world: World
    sockets: SocketOptions
    limits: Limits = PAGE
    # how the limits were learnt: "config", or why the page's values are used instead
    limits_from: str = "config"
    config_reply: dict[str, Any] | None = None


@dataclass
class Check:
    kit: Kit
    trace: Trace
    opened: list[Live] = field(default_factory=list)
    labels: dict[str, int] = field(default_factory=dict)
    # ids of the users handed to this rule (a fixture's users are shared by every rule)
    given: set[str] = field(default_factory=set)

    @property
    def limits(self) -> Limits:
        return self.kit.limits

    @property
    def contract(self) -> Contract:
        return self.kit.contract

    async def users(self, count: int, role: str = "user") -> list[Actor]:
        """`count` users of `role`, each new to this rule."""
        found = await self.kit.world.users(count, role, apart_from=self.given)
        self.given.update(a.id for a in found)
        return found

    async def user(self, role: str = "user") -> Actor:
        return (await self.users(1, role))[0]

    async def admin(self) -> Actor:
        self.require(ADMIN)
        return await self.user("admin")

    async def agent(self) -> Actor:
        """A user of role support, or else admin."""
        self.require(SUPPORT)
        try:
            return await self.user("support")
        except NotRun:
            return await self.user("admin")

    async def chat_of(
        self, count: int, title: str = "conformance group"
    ) -> tuple[list[Actor], dict[str, Any]]:
        """`count` users of role user and a group chat of theirs, made by the first."""
        users = await self.users(count)
        return users, await users[0].group(*users[1:], title=title)

    async def spare(self) -> Actor:
        found = await self.kit.world.spare()
        self.given.add(found.id)
        return found

    async def banned(self, role: str) -> Actor:
        return await self.kit.world.banned(role)

    def require(self, capability: str) -> None:
        why = self.kit.world.lacks(capability)
        if why is not None:
            raise NotRun(why)

    async def advance(self, seconds: float) -> None:
        await self.kit.world.advance(seconds)

    async def anonymous(self, method: str, path: str, **kwargs: Any) -> Reply:
        """A request without a token."""
        return await self.kit.rest.request(method, path, actor="anonymous", **kwargs)

    def socket_for(self, actor: Actor, token: str | None = None) -> Live:
        """A socket of `actor`, not connected yet (closed when the rule ends)."""
        count = self.labels[actor.name] = self.labels.get(actor.name, 0) + 1
        label = f"{actor.name} socket {count}" if count > 1 else f"{actor.name} socket"
        live = Live(
            socket_url(self.kit.rest.base_url),
            label,
            actor.token if token is None else token,
            self.contract,
            self.trace,
            self.kit.sockets,
        )
        self.opened.append(live)
        return live

    async def live(self, actor: Actor) -> Live:
        """A connected socket of `actor`."""
        return await self.socket_for(actor).connect()

    async def watching(self, actor: Actor, chat_id: str) -> Live:
        """A socket of `actor` in the room of `chat_id`."""
        live = await self.live(actor)
        await live.join(chat_id)
        return live

    async def close(self) -> None:
        # a socket the server already dropped may fail to close: nothing to report
        await asyncio.gather(*(live.close() for live in self.opened), return_exceptions=True)
