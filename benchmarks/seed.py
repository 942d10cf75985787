"""Seed a running Chat API over its own HTTP contract (dev endpoints and REST only).

Used by ``seeded_server.py`` against the server it hosts, and by the runner to rebuild the
write server's small fixture before every rep. Every helper takes an ``aiohttp`` session
and a base URL, and raises on any answer other than the one the contract promises.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp

T = TypeVar("T")
GROUP_CREATE_MAX = 100  # participantIds maxItems in openapi.yaml


@dataclass(frozen=True)
class User:
    """A dev user and its bearer token."""

    id: str
    token: str


class SeedError(RuntimeError):
    """The server answered a seeding call with something unexpected."""


class Seeder:
    """Thin client for the calls that build benchmark fixtures."""

    def __init__(self, session: aiohttp.ClientSession, base: str, parallel: int = 16) -> None:
        self.session = session
        self.base = base.rstrip("/")
        self.gate = asyncio.Semaphore(parallel)

    async def call(
        self, method: str, path: str, token: str | None, body: Any, expect: tuple[int, ...]
    ) -> dict[str, Any]:
        """One JSON call; returns ``data`` of the envelope."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with (
            self.gate,
            self.session.request(method, self.base + path, json=body, headers=headers) as r,
        ):
            payload = await r.json(content_type=None)
            if r.status not in expect:
                raise SeedError(f"{method} {path} -> {r.status}: {str(payload)[:300]}")
        data: dict[str, Any] = payload.get("data", {}) if isinstance(payload, dict) else {}
        return data

    async def reset(self) -> None:
        """Empty every collection (dev endpoint)."""
        await self.call("POST", "/api/dev/reset", None, None, (200,))

    async def user(self, name: str) -> User:
        """Create a dev user and return it with its token."""
        data = await self.call("POST", "/api/dev/users", None, {"name": name}, (201,))
        return User(id=str(data["user"]["_id"]), token=str(data["token"]))

    async def users(self, prefix: str, count: int) -> list[User]:
        """Create ``count`` users named ``prefix-i``."""
        return await gather_all(self.user(f"{prefix}-{i}") for i in range(count))

    async def direct_chat(self, owner: User, other: User) -> str:
        """Create (or fetch) the direct chat between two users."""
        body = {"participantIds": [other.id], "type": "direct"}
        data = await self.call("POST", "/api/chat", owner.token, body, (200, 201))
        return str(data["chat"]["_id"])

    async def group_chat(self, owner: User, members: list[User], title: str) -> str:
        """Create a group chat with the owner and every member (added after the first 100)."""
        first, rest = members[:GROUP_CREATE_MAX], members[GROUP_CREATE_MAX:]
        body = {"participantIds": [m.id for m in first], "type": "group", "title": title}
        data = await self.call("POST", "/api/chat", owner.token, body, (201,))
        chat_id = str(data["chat"]["_id"])
        path = f"/api/chat/{chat_id}/participants"
        for member in rest:  # one at a time: each add rewrites the chat document
            await self.call("POST", path, owner.token, {"userId": member.id}, (200, 201))
        return chat_id

    async def send(self, sender: User, chat_id: str, content: str) -> dict[str, Any]:
        """Send one text message and return it."""
        path = f"/api/chat/{chat_id}/messages"
        data = await self.call("POST", path, sender.token, {"content": content}, (201,))
        message: dict[str, Any] = data["message"]
        return message


async def gather_all(jobs: Iterable[Awaitable[T]]) -> list[T]:
    """Await every job concurrently (the Seeder's semaphore bounds the parallelism)."""
    return list(await asyncio.gather(*jobs))


async def reader_fixture(seeder: Seeder, chats: int) -> dict[str, Any]:
    """A reader with ``chats`` direct chats, each with one message so it has a lastMessage;
    ``partnerToken`` is the other participant of the first chat."""
    reader = await seeder.user("reader")
    partners = await seeder.users("partner", chats)
    chat_ids = await gather_all(seeder.direct_chat(reader, p) for p in partners)
    await gather_all(seeder.send(reader, c, f"hello {i}") for i, c in enumerate(chat_ids))
    return {
        "userId": reader.id,
        "token": reader.token,
        "chatIds": chat_ids,
        "partnerToken": partners[0].token,
    }


async def writer_fixture(
    seeder: Seeder, senders: int, earlier: int = 0, in_window: bool = False
) -> dict[str, Any]:
    """``senders`` users, each with a direct chat of its own to post into.

    With ``earlier`` > 0 the chats already hold that many posts in all, spread evenly: each
    writer sends one over HTTP, and the server's benchmark-only ``/bench/prefill`` route
    stores the rest as earlier copies of it (see ``seeded_server.py``). With ``in_window``
    those copies were also sent just now: each took its sender's rate allowance, so they
    all count in the window.
    """
    writers = await seeder.users("writer", senders)
    partners = await seeder.users("peer", senders)
    chat_ids = await gather_all(
        seeder.direct_chat(w, p) for w, p in zip(writers, partners, strict=True)
    )
    if earlier:
        sent = await gather_all(
            seeder.send(w, c, "latest earlier post") for w, c in zip(writers, chat_ids, strict=True)
        )
        each = max(0, earlier // senders - 1)
        body = {"templates": [str(m["_id"]) for m in sent], "each": each, "allowance": in_window}
        await seeder.call("POST", "/bench/prefill", None, body, (200,))
    return {
        "targets": [{"token": w.token, "chatId": c} for w, c in zip(writers, chat_ids, strict=True)]
    }


async def fanout_fixture(seeder: Seeder, sizes: list[int]) -> dict[str, Any]:
    """One sender plus max(sizes) receivers; one group chat per size with that many receivers."""
    sender = await seeder.user("fan-sender")
    receivers = await seeder.users("fan-receiver", max(sizes, default=0))
    chats: dict[str, str] = {}
    for size in sizes:
        chats[str(size)] = await seeder.group_chat(sender, receivers[:size], f"fan-out {size}")
    return {
        "senderToken": sender.token,
        "tokens": [r.token for r in receivers],
        "chats": chats,
    }
