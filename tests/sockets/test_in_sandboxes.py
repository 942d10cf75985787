"""Sandboxes on the Socket.IO side: a connection made with a sandbox's token sees only
that sandbox's events, presence and notifications, and `/api/dev/sockets/disconnect`
drops the sandbox's (or one user's) connections."""

from __future__ import annotations

import asyncio

from test_sandboxes import in_sandbox, sandbox_user

from conftest import Api, assert_problem
from sockets.support import Sockets, notifications_of


async def test_events_stay_in_their_sandbox(api: Api, sockets: Sockets) -> None:
    a1, b1 = await sandbox_user(api, "w1", "a"), await sandbox_user(api, "w1", "b")
    a2, b2 = await sandbox_user(api, "w2", "a"), await sandbox_user(api, "w2", "b")
    chat1, chat2 = await a1.direct_chat(b1), await a2.direct_chat(b2)
    s1, s2 = await sockets.open(b1), await sockets.open(b2)
    await s1.join(chat1)
    await s2.join(chat2)
    await a1.sent(chat1, "one")
    await a2.sent(chat2, "two")
    got1 = await s1.next("new-message")
    got2 = await s2.next("new-message")
    await s1.barrier()
    await s2.barrier()
    assert [got1["message"]["content"], got2["message"]["content"]] == ["one", "two"]
    assert s1.names().count("new-message") == 1 and s2.names().count("new-message") == 1


async def test_a_socket_cannot_join_a_chat_of_another_sandbox(api: Api, sockets: Sockets) -> None:
    a1, b1 = await sandbox_user(api, "w1", "a"), await sandbox_user(api, "w1", "b")
    chat1 = await a1.direct_chat(b1)
    outsider = await sockets.open(await sandbox_user(api, "w2"))
    ack = await outsider.call("join-chat-room", chat1)
    assert ack["success"] is False and ack["error"]["code"] == "NOT_FOUND"


async def test_presence_and_notifications_are_per_sandbox(api: Api, sockets: Sockets) -> None:
    a, b = await sandbox_user(api, "w1", "a"), await sandbox_user(api, "w1", "b")
    chat_id = await a.direct_chat(b)
    await sockets.open(b)
    await a.sent(chat_id, "while b is online")
    assert await notifications_of(b) == []
    await api.client.post("/api/dev/sockets/disconnect", headers=in_sandbox("w1"))
    await a.sent(chat_id, "while b is away")
    assert [n["chatId"] for n in await notifications_of(b)] == [chat_id]


async def test_disconnect_drops_only_the_named_user(api: Api, sockets: Sockets) -> None:
    a, b = await sandbox_user(api, "w1", "a"), await sandbox_user(api, "w1", "b")
    sa, sb = await sockets.open(a), await sockets.open(b)
    r = await api.client.post(
        "/api/dev/sockets/disconnect", json={"userId": a.id}, headers=in_sandbox("w1")
    )
    assert r.json()["data"] == {"disconnected": 1}
    await asyncio.wait_for(sa.disconnected.wait(), 2)
    await sb.barrier()
    assert not sb.disconnected.is_set()


async def test_disconnect_all_leaves_other_sandboxes(api: Api, sockets: Sockets) -> None:
    mine = [await sockets.open(await sandbox_user(api, "w1", n)) for n in ("a", "b")]
    theirs = await sockets.open(await sandbox_user(api, "w2"))
    plain = await sockets.open(await api.user())
    r = await api.client.post("/api/dev/sockets/disconnect", headers=in_sandbox("w1"))
    assert r.json()["data"] == {"disconnected": 2}
    for opened in mine:
        await asyncio.wait_for(opened.disconnected.wait(), 2)
    await theirs.barrier()
    await plain.barrier()
    assert not theirs.disconnected.is_set() and not plain.disconnected.is_set()


async def test_disconnect_of_a_user_of_another_sandbox_is_404(api: Api) -> None:
    other = await sandbox_user(api, "w2")
    r = await api.client.post(
        "/api/dev/sockets/disconnect", json={"userId": other.id}, headers=in_sandbox("w1")
    )
    assert_problem(r, 404, "NOT_FOUND")


async def test_removing_a_sandbox_drops_its_sockets_and_refuses_new_ones(
    api: Api, sockets: Sockets
) -> None:
    user = await sandbox_user(api, "w1")
    opened = await sockets.open(user)
    await api.client.delete("/api/dev/sandboxes/w1")
    await asyncio.wait_for(opened.disconnected.wait(), 2)
    error = await sockets.refused({"token": user.token})
    assert error["data"]["code"] == "UNAUTHORIZED"


async def test_removing_a_reset_sandbox_still_drops_its_sockets(api: Api, sockets: Sockets) -> None:
    user = await sandbox_user(api, "w1")
    opened = await sockets.open(user)
    assert (await api.client.post("/api/dev/reset", headers=in_sandbox("w1"))).status_code == 200
    await opened.barrier()
    assert not opened.disconnected.is_set()
    assert (await api.client.delete("/api/dev/sandboxes/w1")).status_code == 200
    await asyncio.wait_for(opened.disconnected.wait(), 2)
