"""What `create_app` is handed reaches every world it serves: the default one and each
sandbox. The clock's source of time is shared (each sandbox moves its own offset over it),
and emit listeners see the events of every sandbox.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from test_sandboxes import in_sandbox, sandbox_user

from conftest import Api, assert_problem
from impl.app import create_app
from impl.clock import Clock, isoformat
from impl.settings import Settings

START = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


class Emitted(list[tuple[str, dict[str, Any]]]):
    def __call__(self, event: str, payload: dict[str, Any]) -> None:
        self.append((event, payload))


@pytest.fixture
def clock() -> Clock:
    return Clock(lambda: START)


@pytest.fixture
def emitted() -> Emitted:
    return Emitted()


@pytest.fixture
async def api(clock: Clock, emitted: Emitted) -> AsyncIterator[Api]:
    app = create_app(Settings(validate_responses=True), clock=clock, emit_listeners=[emitted])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Api(client)


async def moved(api: Api, seconds: int, headers: dict[str, str] | None = None) -> str:
    r = await api.client.post("/api/dev/clock", json={"advanceSeconds": seconds}, headers=headers)
    assert r.status_code == 200, r.text
    now: str = r.json()["data"]["now"]
    return now


async def test_each_sandbox_moves_its_own_offset_over_the_injected_source_of_time(
    api: Api, clock: Clock
) -> None:
    assert await moved(api, 10, in_sandbox("w1")) == isoformat(START.replace(second=15))
    assert await moved(api, 0, in_sandbox("w2")) == isoformat(START)
    assert await moved(api, 1) == isoformat(START.replace(second=6))
    assert clock.now() == START.replace(second=6)  # the default world's clock is the one given


async def test_emit_listeners_see_the_events_of_every_sandbox(api: Api, emitted: Emitted) -> None:
    for sandbox in ("w1", "default"):
        a, b = await sandbox_user(api, sandbox, "a"), await sandbox_user(api, sandbox, "b")
        chat_id = await a.direct_chat(b)
        await a.sent(chat_id, f"hello from {sandbox}")
    sent = [p["message"]["content"] for event, p in emitted if event == "new-message"]
    assert sent == ["hello from w1", "hello from default"]


async def test_an_error_outside_connexion_is_a_problem_document_not_text() -> None:
    broken = {"now": False}

    def source() -> datetime:
        if broken["now"]:
            raise OverflowError("date value out of range")
        return datetime.now(UTC)

    app = create_app(Settings(), clock=Clock(source))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        made = (await client.post("/api/dev/users", json={"name": "a"})).json()["data"]
        broken["now"] = True
        r = await client.get("/api/chat", headers={"Authorization": f"Bearer {made['token']}"})
    app.close()
    assert_problem(r, 500, "INTERNAL_ERROR")
    assert "Traceback" not in r.text and "OverflowError" not in r.text
