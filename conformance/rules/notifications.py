"""Offline notifications: a message reaches the participants with no connected socket."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from conformance import expect
from conformance.check import Check
from conformance.registry import rule
from conformance.specs import openapi
from conformance.world import Actor

# notifications may be written after the send answers: how long to look for one
ARRIVAL_S = 5.0


async def unread_total(user: Actor) -> int:
    data = await user.done(
        "GET", "/api/notifications", "counting notifications", params={"unread": "true", "limit": 1}
    )
    return int(data["pagination"]["total"])


async def about(user: Actor, message_id: str, wait: bool = True) -> list[dict[str, Any]]:
    """The user's notifications of one message (waiting a little for the first one)."""
    deadline = time.monotonic() + (ARRIVAL_S if wait else 0)
    while True:
        data = await user.done(
            "GET", "/api/notifications", "listing notifications", params={"limit": 100}
        )
        found = [n for n in data["notifications"] if n["messageId"] == message_id]
        if found or time.monotonic() >= deadline:
            return found
        await asyncio.sleep(0.1)


@rule(
    "notifications.offline",
    "A message gives each other participant with no connected socket one chat_message "
    "notification (unread); connected participants and the sender get none",
    openapi("/paths/~1api~1notifications/get"),
)
async def offline(t: Check) -> None:
    (ann, ben, cat), chat = await t.chat_of(3)
    await t.live(cat)
    message = await ann.sent(chat["_id"], "are you there?")
    notices = await about(ben, message["_id"])
    expect.equal(len(notices), 1, "notifications of the message for the offline participant")
    notice = notices[0]
    found = (notice["type"], notice["chatId"], notice["userId"], notice["read"])
    expect.equal(found, ("chat_message", chat["_id"], ben.id, False), "type, chatId, userId, read")
    expect.equal(
        await about(cat, message["_id"], wait=False),
        [],
        "the connected participant's notifications",
    )
    expect.equal(await about(ann, message["_id"], wait=False), [], "the sender's notifications")


@rule(
    "notifications.read-all",
    "PATCH /api/notifications/read with ids empty or missing marks all the caller's "
    "notifications read; modifiedCount counts them",
    openapi("/paths/~1api~1notifications~1read/patch"),
)
async def read_all(t: Check) -> None:
    (ann, ben), chat = await t.chat_of(2)
    bodies: tuple[dict[str, list[str]], ...] = ({}, {"ids": []})
    for body in bodies:
        first = await ann.sent(chat["_id"], "one")
        await ann.sent(chat["_id"], "two")
        expect.that(await about(ben, first["_id"]), "the offline participant got no notification")
        unread = await unread_total(ben)
        expect.that(unread >= 2, f"{unread} unread notifications after two messages")
        reply = expect.status(await ben.patch("/api/notifications/read", json=body), 200)
        expect.equal(reply.data["modifiedCount"], unread, f"modifiedCount with {body}")
        expect.equal(await unread_total(ben), 0, f"unread notifications after marking with {body}")
