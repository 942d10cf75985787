"""Unread counts: exactly the messages from others, not deleted, not read."""

from __future__ import annotations

from conformance import expect
from conformance.check import Check
from conformance.registry import rule
from conformance.specs import openapi
from conformance.world import Actor


async def counts(reader: Actor, chat_id: str, *users: Actor) -> dict[str, int]:
    """Unread counts as `info` reports them, by user name, and the reader's own views agree."""
    info = await reader.info(chat_id)
    listed = next((c for c in await reader.listed() if c["_id"] == chat_id), None)
    expect.that(listed is not None, f"{reader} does not find the chat in its list")
    assert listed is not None
    per_user = info["unreadCounts"]
    expect.equal(
        info["unreadCount"],
        per_user.get(reader.id),
        f"{reader}'s unreadCount in info vs unreadCounts",
    )
    expect.equal(
        listed["unreadCount"],
        per_user.get(reader.id),
        f"{reader}'s unreadCount in the list vs info",
    )
    return {str(u): per_user.get(u.id, -1) for u in users}


@rule(
    "unread.counts-move-exactly",
    "Each message raises every other participant's unread count by exactly one; reading k "
    "messages lowers it by k; deleting an unread message lowers it; it never goes below 0",
    openapi("/paths/~1api~1chat~1{id}~1messages~1read/patch"),
)
async def move_exactly(t: Check) -> None:
    (ann, ben, cat), chat = await t.chat_of(3)
    chat_id = chat["_id"]
    sent = [await ann.sent(chat_id, f"ann {n}") for n in (1, 2, 3)]
    expect.equal(
        await counts(ann, chat_id, ann, ben, cat),
        {str(ann): 0, str(ben): 3, str(cat): 3},
        f"after 3 from {ann}",
    )
    await ben.sent(chat_id, "ben 1")
    expect.equal(
        await counts(ben, chat_id, ann, ben, cat),
        {str(ann): 1, str(ben): 3, str(cat): 4},
        f"after 1 from {ben}",
    )
    reply = await ben.mark_read(chat_id, {"messageIds": [sent[0]["_id"], sent[1]["_id"]]})
    expect.equal(
        expect.status(reply, 200).data["modifiedCount"], 2, f"modifiedCount of {ben}'s read"
    )
    expect.equal(
        await counts(ben, chat_id, ann, ben, cat),
        {str(ann): 1, str(ben): 1, str(cat): 4},
        f"after {ben} read 2",
    )
    expect.status(await ann.delete(f"/api/chat/{chat_id}/messages/{sent[2]['_id']}"), 200)
    expect.equal(
        await counts(cat, chat_id, ann, ben, cat),
        {str(ann): 1, str(ben): 0, str(cat): 3},
        f"after {ann} deleted an unread one",
    )
    expect.equal(
        expect.status(await ben.mark_read(chat_id, {}), 200).data["modifiedCount"],
        0,
        f"{ben} marking all again",
    )
    expect.equal(
        expect.status(await cat.mark_read(chat_id, {}), 200).data["modifiedCount"],
        3,
        f"{cat} marking all",
    )
    expect.equal(
        await counts(cat, chat_id, ann, ben, cat),
        {str(ann): 1, str(ben): 0, str(cat): 0},
        f"after {cat} read all",
    )
