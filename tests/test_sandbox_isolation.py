"""Property: sandboxes never leak into each other under concurrency.

Random programs (create users, chats, messages, reads, resets) run in several sandboxes
of one server at once, each sandbox's program as its own concurrent task; the same
programs run one by one on servers of their own, without sandboxes. Every user's view of
each sandbox (their chats, each chat's messages and unread counts, their notifications)
must equal what the single-sandbox server shows.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from impl.app import ChatApp, create_app
from impl.settings import Settings

SANDBOXES = ("w1", "w2", "w3")
USERS = 3

Step = tuple[str, int, int]
step = st.tuples(
    st.sampled_from(["chat", "send", "read", "reset"]),
    st.integers(0, USERS - 1),
    st.integers(0, USERS - 1),
)
program = st.lists(step, max_size=12)


class World:
    """One sandbox (or a whole server) driven through the public API."""

    def __init__(self, client: httpx.AsyncClient, sandbox: str | None) -> None:
        self.client = client
        self.headers = {"X-Chat-Sandbox": sandbox} if sandbox else {}
        self.tokens: list[str] = []
        self.ids: list[str] = []

    async def start(self) -> None:
        await self.client.post("/api/dev/reset", headers=self.headers)
        self.tokens, self.ids = [], []
        for n in range(USERS):
            r = await self.client.post(
                "/api/dev/users", json={"name": f"u{n}"}, headers=self.headers
            )
            self.tokens.append(r.json()["data"]["token"])
            self.ids.append(r.json()["data"]["user"]["_id"])

    def auth(self, user: int) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    async def chat_of(self, a: int, b: int) -> str | None:
        r = await self.client.post(
            "/api/chat", json={"participantIds": [self.ids[b]]}, headers=self.auth(a)
        )
        return r.json()["data"]["chat"]["_id"] if r.status_code in (200, 201) else None

    async def run(self, steps: list[Step]) -> None:
        for kind, a, b in steps:
            if kind == "reset":
                await self.start()
            elif kind == "chat":
                await self.chat_of(a, b)
            elif (chat_id := await self.chat_of(a, b)) is None:
                continue
            elif kind == "send":
                await self.client.post(
                    f"/api/chat/{chat_id}/messages",
                    json={"content": f"{a}->{b}"},
                    headers=self.auth(a),
                )
            else:
                await self.client.patch(
                    f"/api/chat/{chat_id}/messages/read", json={}, headers=self.auth(a)
                )

    async def view(self) -> list[Any]:
        """Everything each user sees, with ids replaced by user numbers."""
        names = {uid: n for n, uid in enumerate(self.ids)}
        seen = []
        for user in range(USERS):
            chats = (await self.client.get("/api/chat", headers=self.auth(user))).json()["data"][
                "chats"
            ]
            mine = []
            for chat in chats:
                r = await self.client.get(
                    f"/api/chat/{chat['_id']}/messages", headers=self.auth(user)
                )
                messages = [
                    (m["content"], names[m["senderId"]]) for m in r.json()["data"]["messages"]
                ]
                people = sorted(names[p] for p in chat["participants"])
                mine.append((people, chat["unreadCount"], messages))
            notes = (await self.client.get("/api/notifications", headers=self.auth(user))).json()
            seen.append((sorted(mine), notes["data"]["pagination"]["total"]))
        return seen


def client_for(app: ChatApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


@pytest.fixture(scope="module")
def shared() -> ChatApp:
    """The server whose sandboxes run side by side (each example resets what it uses)."""
    return create_app(Settings())


@pytest.fixture(scope="module")
def alone() -> list[ChatApp]:
    """One server of its own per sandbox: the reference each sandbox must match."""
    return [create_app(Settings()) for _ in SANDBOXES]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs=st.tuples(*[program for _ in SANDBOXES]))
def test_each_sandbox_sees_what_a_server_of_its_own_would(
    shared: ChatApp, alone: list[ChatApp], programs: tuple[list[Step], ...]
) -> None:
    async def scenario() -> None:
        async with client_for(shared) as shared_client:
            worlds = [World(shared_client, name) for name in SANDBOXES]
            await asyncio.gather(*(w.start() for w in worlds))
            await asyncio.gather(*(w.run(p) for w, p in zip(worlds, programs, strict=True)))
            views = [await w.view() for w in worlds]
        for own_app, steps, view in zip(alone, programs, views, strict=True):
            async with client_for(own_app) as own:
                reference = World(own, None)
                await reference.start()
                await reference.run(steps)
                assert view == await reference.view()

    asyncio.run(scenario())
