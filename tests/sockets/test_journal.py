"""Socket.IO traffic in the journal (`GET /api/dev/requests?kind=socket`): connects,
disconnects, each client event with its acknowledgement and any asyncapi.yaml violation,
and each server event once per socket it reached, in the sandbox of the socket's token,
redacted and bounded like REST entries."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from test_sandboxes import in_sandbox, sandbox_user

from conftest import Api
from impl.app import create_app
from impl.devkit.journal import BODY_LIMIT
from impl.devkit.redaction import REDACTED
from impl.settings import Settings
from polling import until
from sockets.support import Sockets


async def socket_journal(api: Api, sandbox: str, **query: Any) -> list[dict[str, Any]]:
    r = await api.client.get(
        "/api/dev/requests", params={"kind": "socket", **query}, headers=in_sandbox(sandbox)
    )
    assert r.status_code == 200, r.text
    entries: list[dict[str, Any]] = r.json()["data"]["requests"]
    return entries


async def test_what_a_page_emitted_and_what_each_user_received(api: Api, sockets: Sockets) -> None:
    buyer, seller = await sandbox_user(api, "w1", "b"), await sandbox_user(api, "w1", "s")
    chat_id = await buyer.direct_chat(seller)
    page, other = await sockets.open(buyer), await sockets.open(seller)
    await page.join(chat_id)
    await other.join(chat_id)
    assert await page.call("typing-start", {"chatId": chat_id}) == {"success": True}
    await other.next("user-typing")
    await seller.sent(chat_id, "hello")
    await page.next("new-message")

    emitted = await socket_journal(api, "w1", userId=buyer.id, event="typing-start")
    assert [(e["type"], e["payload"], e["ack"]) for e in emitted] == [
        ("client-event", {"chatId": chat_id}, {"success": True})
    ]
    received = await socket_journal(api, "w1", event="new-message")
    assert sorted((e["userId"], e["room"], e["seq"]) for e in received) == sorted(
        [(buyer.id, f"chat-{chat_id}", 1), (seller.id, f"chat-{chat_id}", 1)]
    )
    typing = await socket_journal(api, "w1", event="user-typing")
    assert [(e["userId"], e["seq"]) for e in typing] == [(seller.id, None)]


async def test_newest_first_from_connect_to_disconnect(api: Api, sockets: Sockets) -> None:
    buyer, seller = await sandbox_user(api, "w1", "b"), await sandbox_user(api, "w1", "s")
    chat_id = await buyer.direct_chat(seller)
    page = await sockets.open(buyer)
    await page.join(chat_id)
    await page.close()

    async def disconnect_journaled() -> bool:
        entries = await socket_journal(api, "w1", userId=buyer.id, event="disconnect")
        return entries != []

    await until(disconnect_journaled)
    entries = await socket_journal(api, "w1", userId=buyer.id)
    assert [e["type"] for e in entries] == ["disconnect", "client-event", "connect"]
    assert entries[0]["reason"] and entries[0]["socketId"] == entries[2]["socketId"]
    assert entries[1]["event"] == "join-chat-room" and entries[1]["payload"] == chat_id


async def test_a_refused_payload_names_its_violation(api: Api, sockets: Sockets) -> None:
    buyer = await sandbox_user(api, "w1")
    page = await sockets.open(buyer)
    await page.call("typing-start", "not an object")
    await page.call("no-such-event", {"x": 1})
    await page.call("typing-stop", {"chatId": "0" * 24})
    stop, unknown, start = (await socket_journal(api, "w1"))[:3]
    assert start["ack"]["error"]["code"] == "VALIDATION_FAILED"
    assert start["violation"] == "payload must be {chatId}"
    assert unknown["violation"] == "not an event of asyncapi.yaml"
    assert unknown["ack"]["error"]["code"] == "UNKNOWN_EVENT"
    assert stop["ack"]["error"]["code"] == "NOT_FOUND" and "violation" not in stop


async def test_payloads_are_redacted_and_cut_like_rest_bodies(api: Api, sockets: Sockets) -> None:
    r = await api.client.post("/api/dev/users", json={"name": "a"}, headers=in_sandbox("w1"))
    token = r.json()["data"]["token"]
    page = await sockets.open(await sandbox_user(api, "w1"))
    await page.call("typing-start", {"chatId": "0" * 24, "password": "hunter2", "note": token})
    await page.call("typing-start", {"chatId": "x" * 20_000})
    raw = (
        await api.client.get(
            "/api/dev/requests", params={"kind": "socket"}, headers=in_sandbox("w1")
        )
    ).text
    assert token not in raw and "hunter2" not in raw
    big, secret = json.loads(raw)["data"]["requests"][:2]
    assert secret["payload"]["password"] == REDACTED and secret["payload"]["note"] == REDACTED
    assert big["payloadTruncated"] is True and len(big["payload"].encode()) <= BODY_LIMIT
    assert big["ack"]["error"]["code"] == "PAYLOAD_TOO_LARGE" and "larger" in big["violation"]


async def test_socket_entries_stay_in_their_sandbox_and_apart_from_rest(
    api: Api, sockets: Sockets
) -> None:
    one, two = await sandbox_user(api, "w1"), await sandbox_user(api, "w2")
    await sockets.open(one)
    await sockets.open(two)
    await one.get("/api/chat")
    assert [e["userId"] for e in await socket_journal(api, "w1")] == [one.id]
    assert [e["userId"] for e in await socket_journal(api, "w2")] == [two.id]
    r = await api.client.get("/api/dev/requests", params={"kind": "rest"}, headers=in_sandbox("w1"))
    assert [e["operationId"] for e in r.json()["data"]["requests"]] == ["list_chats"]


async def test_a_removed_sandbox_journals_nothing_more(api: Api, sockets: Sockets) -> None:
    page = await sockets.open(await sandbox_user(api, "w1"))
    await api.client.delete("/api/dev/sandboxes/w1")
    await asyncio.wait_for(page.disconnected.wait(), 2)
    assert await socket_journal(api, "w1") == []


def test_with_dev_endpoints_off_no_socket_is_observed() -> None:
    """Nothing is recorded, and nothing computed for it (no room's participants listed)."""
    app = create_app(Settings(dev=False))
    runner = app.services.effects
    assert app.sockets.observer is None and getattr(runner, "observer", "?") is None
