"""The Socket.IO contract both ways: driving every REST operation makes the server emit
exactly the events asyncapi.yaml documents, each payload valid against it.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import yaml

from asyncapi_contract import SERVER_EVENTS, validate_server_event
from conftest import Api
from impl.app import ChatApp
from impl.resources import OPENAPI_PATH
from sockets.support import NO_CHAT, Sockets, World, build_world


def operation_table() -> list[tuple[str, re.Pattern[str], str]]:
    """(method, path regex, operationId) of every operation in openapi.yaml, literal
    paths before templated ones so `/api/chat/stats` is not taken for a chat id."""
    spec = yaml.safe_load(OPENAPI_PATH.read_text(encoding="utf-8"))
    table = []
    for template, item in spec["paths"].items():
        pattern = re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", template) + "$")
        for method, operation in item.items():
            if method in {"get", "put", "post", "patch", "delete"}:
                table.append((template.count("{"), method.upper(), pattern, operation))
    table.sort(key=lambda row: row[0])
    return [(method, pattern, op["operationId"]) for _, method, pattern, op in table]


class OperationLog:
    """Which operations of openapi.yaml the requests made so far reached, successfully."""

    def __init__(self) -> None:
        self.table = operation_table()
        self.reached: set[str] = set()

    def everything(self) -> set[str]:
        return {operation for _, _, operation in self.table}

    async def record(self, response: httpx.Response) -> None:
        request = response.request
        for method, pattern, operation in self.table:
            if method == request.method and pattern.match(request.url.path):
                if response.status_code < 400:
                    self.reached.add(operation)
                return


@pytest.fixture
async def logged_api(app: ChatApp) -> AsyncIterator[tuple[Api, OperationLog]]:
    operations = OperationLog()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://testserver",
        event_hooks={"response": [operations.record]},
    ) as client:
        yield Api(client), operations


class Emitted:
    """An emit listener: every event the app emits, each checked against asyncapi.yaml.
    A payload that breaks the spec is kept in `failures` for the test to raise (the emit
    site logs a listener's error instead of failing the request that caused it)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []
        self.failures: list[AssertionError] = []

    def __call__(self, event: str, payload: dict[str, Any]) -> None:
        try:
            validate_server_event(event, payload)
        except AssertionError as failure:
            self.failures.append(failure)
        self.seen.append((event, payload))

    def names(self) -> set[str]:
        return {name for name, _ in self.seen}


@pytest.fixture(scope="module")
def module_emitted() -> Emitted:
    return Emitted()


@pytest.fixture(scope="module")
def module_world(module_emitted: Emitted) -> World:
    """This module's app hands every emitted event to `module_emitted`."""
    return build_world(emit_listeners=[module_emitted])


@pytest.fixture
def emitted(world: World, module_emitted: Emitted) -> Emitted:
    """What the app emits from the start of the test on."""
    module_emitted.seen.clear()
    module_emitted.failures.clear()
    return module_emitted


class TestContractBothWays:
    async def test_the_server_emits_exactly_the_events_asyncapi_documents(
        self,
        logged_api: tuple[Api, OperationLog],
        sockets: Sockets,
        emitted: Emitted,
    ) -> None:
        """Drive every REST operation (and typing) and compare the emitted names with the
        spec: a documented event nothing emits fails, and so does an undocumented one."""
        api, operations = logged_api
        await drive_every_operation(api, sockets)
        assert operations.reached == operations.everything(), (
            "operations this test does not drive yet: "
            f"{sorted(operations.everything() - operations.reached)}"
        )
        names = emitted.names()
        assert emitted.failures == [], emitted.failures[0]
        assert not SERVER_EVENTS - names, f"documented, never emitted: {SERVER_EVENTS - names}"
        assert not names - SERVER_EVENTS, f"emitted, not documented: {names - SERVER_EVENTS}"


async def drive_every_operation(api: Api, sockets: Sockets) -> None:
    """Call each operation of openapi.yaml at least once, successfully."""
    owner, member, newcomer = await api.user("o"), await api.user("m"), await api.user("n")
    admin = await api.user("admin", role="admin")
    await api.user("helper", role="support")
    r = await api.client.patch(f"/api/dev/users/{newcomer.id}", json={"role": "user"})
    assert r.status_code == 200, r.text
    direct = await owner.direct_chat(member)
    group = await owner.group_chat(member)
    for path, body in (
        ("/api/chat/purchase-request", {"sellerId": member.id, "purchaseRequestId": NO_CHAT}),
        ("/api/chat/support", {"subject": "help", "initialMessage": "hello support"}),
    ):
        r = await owner.post(path, json=body)
        assert r.status_code == 201, r.text
    for path in ("/api/chat", "/api/chat/stats", "/api/chat/config", f"/api/chat/{group}/info"):
        assert (await owner.get(path)).status_code == 200, path
    assert (await owner.request("PUT", f"/api/chat/{direct}/archive")).status_code == 200

    sent = await owner.sent(group, "text")
    r = await owner.post(
        f"/api/chat/{group}/messages/file",
        files={"file": ("note.txt", b"plain words", "text/plain")},
        data={"content": "a file"},
    )
    assert r.status_code == 201, r.text
    url = r.json()["data"]["message"]["attachments"][0]["url"]
    assert (await member.get(url)).status_code == 200
    assert (await member.get(f"/api/chat/{group}/messages")).status_code == 200
    r = await owner.request(
        "PUT", f"/api/chat/{group}/messages/{sent['_id']}", json={"content": "t"}
    )
    assert r.status_code == 200, r.text
    r = await member.request("PATCH", f"/api/chat/{group}/messages/read", json={})
    assert r.status_code == 200, r.text
    r = await owner.request("DELETE", f"/api/chat/{group}/messages/{sent['_id']}")
    assert r.status_code == 200, r.text
    r = await owner.post(f"/api/chat/{group}/participants", json={"userId": newcomer.id})
    assert r.status_code == 200, r.text
    r = await admin.request("DELETE", f"/api/chat/{group}/participants/{newcomer.id}")
    assert r.status_code == 200, r.text
    assert (await owner.get(f"/api/chat/{group}/events")).status_code == 200
    assert (await member.get("/api/notifications")).status_code == 200
    r = await member.request("PATCH", "/api/notifications/read", json={})
    assert r.status_code == 200, r.text

    typist = await sockets.open(owner)
    assert await typist.call("typing-start", {"chatId": group}) == {"success": True}
    await api.advance(1)
    assert (await api.client.get("/api/dev/clock")).status_code == 200
    assert (await api.client.get("/api/dev/users")).status_code == 200
    r = await api.client.patch(f"/api/dev/users/{member.id}", json={"status": "banned"})
    assert r.status_code == 200, r.text
    await drive_the_contract_testing_kit(api)
    assert (await api.client.post("/api/dev/reset")).status_code == 200


async def drive_the_contract_testing_kit(api: Api) -> None:
    """The dev operations of sandboxes, faults, the journal and its HAR export, and Pact's
    provider states (they emit no event except the disconnects, which this test's sockets
    see as a server-side close)."""
    dev = api.client
    fault = {"operationId": "get_chat_stats", "status": 503, "times": 2}
    assert (await dev.post("/api/dev/faults", json=fault)).status_code == 201
    assert (await dev.get("/api/dev/faults")).status_code == 200
    assert (await dev.delete("/api/dev/faults")).status_code == 200
    assert (await dev.get("/api/dev/requests", params={"limit": 5})).status_code == 200
    assert (await dev.get("/api/dev/requests.har")).status_code == 200
    state = {"state": "a buyer and a seller", "params": {}}
    r = await dev.post("/api/dev/provider-states", json={**state, "action": "setup"})
    assert r.status_code == 200, r.text
    r = await dev.post("/api/dev/provider-states", json={**state, "action": "teardown"})
    assert r.status_code == 200, r.text
    assert (await dev.delete("/api/dev/requests")).status_code == 200
    other = {"X-Chat-Sandbox": "kit-check"}
    r = await dev.post("/api/dev/users", json={"name": "w"}, headers=other)
    assert r.status_code == 201, r.text
    assert (await dev.get("/api/dev/sandboxes")).status_code == 200
    assert (await dev.delete("/api/dev/sandboxes/kit-check")).status_code == 200
    assert (await dev.post("/api/dev/sockets/disconnect", json={})).status_code == 200
