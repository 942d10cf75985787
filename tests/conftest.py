"""Shared fixtures: one app per test module, emptied before each test through the public
reset; an HTTP client speaking to it in process; and `Api`, a small helper of named calls
that tests read well with.

Building an app costs about 0.3 s (Connexion reads the whole spec), more than most tests
take, so a module shares one, the way a client reuses a server between test runs: the
`client` fixture first calls `POST /api/dev/reset` (the default sandbox's store, faults and
journal) and removes every other sandbox, so each test starts on an empty server. The dev
clock is back at real time after a reset and only moves forward between resets: tests
assert durations, never absolute dates.
A module that needs other settings overrides `settings` (module scope); a class that does
overrides `app` (class scope).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from impl.app import ChatApp, create_app, load_spec
from impl.settings import Settings


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings(validate_responses=True)


@pytest.fixture(scope="module")
def app(settings: Settings) -> Iterator[ChatApp]:
    built = create_app(settings)
    yield built
    built.close()


async def empty_server(client: httpx.AsyncClient) -> None:
    """Make the server behind `client` as good as new, through public endpoints only."""
    r = await client.post("/api/dev/reset")
    assert r.status_code == 200, r.text
    listed = await client.get("/api/dev/sandboxes")
    assert listed.status_code == 200, listed.text
    for sandbox in listed.json()["data"]["sandboxes"]:
        if sandbox["name"] != "default":
            gone = await client.delete(f"/api/dev/sandboxes/{sandbox['name']}")
            assert gone.status_code == 200, gone.text


@pytest.fixture
async def client(app: ChatApp) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the module's app, emptied first (when its dev endpoints are on)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        if app.services.settings.dev_enabled:
            await empty_server(c)
        yield c


class Api:
    """Named calls over the REST API; each returns the httpx response."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def user(self, name: str = "user", role: str = "user") -> User:
        r = await self.client.post("/api/dev/users", json={"name": name, "role": role})
        assert r.status_code == 201, r.text
        data = r.json()["data"]
        return User(self.client, data["user"]["_id"], data["token"], role)

    async def advance(self, seconds: float) -> None:
        r = await self.client.post("/api/dev/clock", json={"advanceSeconds": seconds})
        assert r.status_code == 200, r.text


class User:
    def __init__(self, client: httpx.AsyncClient, user_id: str, token: str, role: str) -> None:
        self.client = client
        self.id = user_id
        self.token = token
        self.role = role
        self.headers = {"Authorization": f"Bearer {token}"}

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return await self.client.request(method, path, headers=headers, **kwargs)

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", path, **kwargs)

    async def direct_chat(self, other: User) -> str:
        r = await self.post("/api/chat", json={"participantIds": [other.id]})
        assert r.status_code in (200, 201), r.text
        chat_id: str = r.json()["data"]["chat"]["_id"]
        return chat_id

    async def group_chat(self, *others: User, title: str = "group") -> str:
        body = {"participantIds": [o.id for o in others], "type": "group", "title": title}
        r = await self.post("/api/chat", json=body)
        assert r.status_code == 201, r.text
        chat_id: str = r.json()["data"]["chat"]["_id"]
        return chat_id

    async def send(self, chat_id: str, content: str = "hello", **extra: Any) -> httpx.Response:
        return await self.post(f"/api/chat/{chat_id}/messages", json={"content": content, **extra})

    async def sent(self, chat_id: str, content: str = "hello", **extra: Any) -> dict[str, Any]:
        r = await self.send(chat_id, content, **extra)
        assert r.status_code == 201, r.text
        message: dict[str, Any] = r.json()["data"]["message"]
        return message

    async def chat(self, chat_id: str) -> dict[str, Any]:
        r = await self.get(f"/api/chat/{chat_id}/info")
        assert r.status_code == 200, r.text
        chat: dict[str, Any] = r.json()["data"]["chat"]
        return chat


def json_operations() -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path template, operation) for every operation that takes a JSON body."""
    found = []
    for template, item in load_spec()["paths"].items():
        for method, op in item.items():
            if "application/json" in op.get("requestBody", {}).get("content", {}):
                found.append((method.upper(), template, op))
    return found


@pytest.fixture
def api(client: httpx.AsyncClient) -> Api:
    return Api(client)


def assert_problem(
    response: httpx.Response,
    status: int,
    code: str,
    detail: str | None = None,
    *,
    exact: bool = False,
) -> dict[str, Any]:
    """The response is the contract's problem document with this status and code; with
    `detail`, its detail holds that text (case-insensitive), or is exactly it (`exact`)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["success"] is False
    assert body["code"] == code, body
    assert body["status"] == status
    assert isinstance(body["title"], str) and isinstance(body["detail"], str)
    if detail is not None and exact:
        assert body["detail"] == detail, body
    elif detail is not None:
        assert detail.lower() in body["detail"].lower(), body
    assert "Traceback" not in response.text
    return body
