"""Chats: dedupe, purchase-request and support chats, archive, the list, participants."""

from __future__ import annotations

import asyncio

from conformance import expect, samples
from conformance.check import Check
from conformance.registry import rule
from conformance.specs import asyncapi, operation
from conformance.world import RESET, SUPPORT

CREATE = operation("post", "/api/chat")
PARTICIPANTS = operation("post", "/api/chat/{id}/participants")


def fresh_world(t: Check) -> bool:
    """Whether every user of this rule is new (a world of the kit's own)."""
    return t.kit.world.lacks(RESET) is None


@rule(
    "chats.direct.dedupe",
    "Asking again for the direct chat between the same two users returns the same chat "
    "with 200, whoever asks (the first time, 201)",
    CREATE,
)
async def direct_dedupe(t: Check) -> None:
    ann, ben = await t.users(2)
    first = await ann.post("/api/chat", json={"participantIds": [ben.id]})
    if fresh_world(t):
        expect.status(first, 201)
    else:  # the fixture's users may have their direct chat from an earlier run
        expect.status(first, 200, 201)
    chat = first.data["chat"]
    expect.equal(
        (chat["type"], set(chat["participants"])),
        ("direct", {ann.id, ben.id}),
        "type and participants",
    )
    for who, body in ((ann, [ben.id]), (ben, [ann.id]), (ann, [ann.id, ben.id])):
        again = expect.status(await who.post("/api/chat", json={"participantIds": body}), 200)
        expect.equal(
            again.data["chat"]["_id"], chat["_id"], f"the chat {who} gets for participantIds {body}"
        )


@rule(
    "chats.create.rules",
    "A chat needs two distinct users, a direct chat exactly two and no title (400 "
    "VALIDATION_FAILED); an unknown participant is 404",
    CREATE,
)
async def create_rules(t: Check) -> None:
    ann, ben, cat = await t.users(3)
    refused = [
        {"participantIds": [ann.id]},
        {"participantIds": [ben.id, cat.id]},
        {"participantIds": [ben.id], "type": "direct", "title": "not for direct chats"},
    ]
    for body in refused:
        expect.problem(await ann.post("/api/chat", json=body), 400, "VALIDATION_FAILED")
    unknown = {"participantIds": [samples.UNKNOWN_ID], "type": "group", "title": "ghosts"}
    expect.problem(await ann.post("/api/chat", json=unknown), 404, "NOT_FOUND")


@rule(
    "chats.purchase-request.idempotent",
    "A purchase-request chat is one per (request, buyer, seller): 201 once, then 200 with the "
    "same chat, also when asked for concurrently; a seller who is the caller is 400",
    operation("post", "/api/chat/purchase-request"),
)
async def purchase_request(t: Check) -> None:
    buyer, seller = await t.users(2)
    body = {"purchaseRequestId": samples.new_id(), "sellerId": seller.id}
    first = expect.created(await buyer.post("/api/chat/purchase-request", json=body))["chat"]
    again = expect.status(await buyer.post("/api/chat/purchase-request", json=body), 200)
    expect.equal(again.data["chat"]["_id"], first["_id"], "the chat asked for again")
    racing = {"purchaseRequestId": samples.new_id(), "sellerId": seller.id}
    replies = await asyncio.gather(
        *(buyer.post("/api/chat/purchase-request", json=racing) for _ in range(4))
    )
    statuses = sorted(r.status for r in replies)
    expect.equal(statuses, [200, 200, 200, 201], "the statuses of four concurrent requests")
    expect.equal(
        len({r.data["chat"]["_id"] for r in replies}),
        1,
        "distinct chats made by four concurrent requests",
    )
    expect.that(
        replies[0].data["chat"]["_id"] != first["_id"], "another purchase request got the same chat"
    )
    mine = {"purchaseRequestId": samples.new_id(), "sellerId": buyer.id}
    expect.problem(
        await buyer.post("/api/chat/purchase-request", json=mine), 400, "VALIDATION_FAILED"
    )


@rule(
    "chats.support.pool",
    "A support chat holds the caller and the support pool (users of role support or admin), "
    "and its initialMessage is its first message, sent by the caller",
    operation("post", "/api/chat/support"),
    needs=(SUPPORT,),
)
async def support_pool(t: Check) -> None:
    agent = await t.agent()
    ann = await t.user()
    body = {"subject": "Payout late", "initialMessage": "  My payout is two days late.  "}
    chat = expect.created(await ann.post("/api/chat/support", json=body))["chat"]
    expect.equal(chat["type"], "support", "type")
    expect.that(
        {ann.id, agent.id} <= set(chat["participants"]),
        f"participants {chat['participants']} lack the caller or {agent}",
    )
    info = await ann.info(chat["_id"])
    others = [p for p in info["participants"] if p["_id"] != ann.id]
    strangers = [p["_id"] for p in others if p["role"] not in ("support", "admin")]
    expect.that(not strangers, f"participants who are neither support nor admin: {strangers}")
    history = await agent.history(chat["_id"])
    expect.equal(
        [(m["senderId"], m["content"]) for m in history],
        [(ann.id, "My payout is two days late.")],
        "the history",
    )


@rule(
    "chats.support.pool-exact",
    "A support chat's participants are exactly the caller and every active user of role "
    "support or admin: no plain user, no banned agent",
    operation("post", "/api/chat/support"),
    needs=(RESET, SUPPORT),
)
async def support_pool_exact(t: Check) -> None:
    await t.user("support")
    await t.user("admin")
    await t.banned("support")
    ann, _ = await t.users(2)
    pool = {
        a.id
        for a, status in t.kit.world.everyone()
        if a.role in ("support", "admin") and status == "active"
    }
    chat = expect.created(await ann.post("/api/chat/support", json={}))["chat"]
    expect.equal(
        set(chat["participants"]),
        {ann.id} | pool,
        "participants (the caller and every active agent)",
    )


@rule(
    "chats.archive.toggles",
    "PUT archive without a body toggles the caller's flag (on, off); {archived} sets it, "
    "idempotently; other participants' flags stay as they were",
    operation("put", "/api/chat/{id}/archive"),
)
async def archive_toggles(t: Check) -> None:
    (ann, ben), chat = await t.chat_of(2)
    path = f"/api/chat/{chat['_id']}/archive"
    steps = [(None, True), (None, False), (True, True), (True, True), (False, False), (None, True)]
    for number, (body, expected) in enumerate(steps, 1):
        reply = (
            await ann.put(path) if body is None else await ann.put(path, json={"archived": body})
        )
        data = expect.status(reply, 200).data
        what = "without a body" if body is None else f"with archived: {body}"
        expect.equal(data["archived"], expected, f"archived after call {number} ({what})")
        expect.equal(data["chat"]["archived"], expected, f"the chat's archived after call {number}")
    expect.equal(
        (await ben.info(chat["_id"]))["archived"], False, "the other participant's archived"
    )


@rule(
    "chats.list.archived-filter",
    "GET /api/chat leaves out the chats the caller archived; archived=true lists only those",
    operation("get", "/api/chat"),
)
async def archived_filter(t: Check) -> None:
    ann, ben = await t.users(2)
    kept, shelved = await ann.group(ben, title="kept"), await ann.group(ben, title="shelved")
    expect.status(
        await ann.put(f"/api/chat/{shelved['_id']}/archive", json={"archived": True}), 200
    )
    listed = {c["_id"] for c in await ann.listed()}
    expect.that(
        kept["_id"] in listed and shelved["_id"] not in listed,
        "the default list should hold the kept chat only",
    )
    archived = await ann.listed(archived="true")
    expect.that(
        shelved["_id"] in {c["_id"] for c in archived},
        "archived=true does not list the archived chat",
    )
    expect.that(
        all(c["archived"] for c in archived), "archived=true lists a chat that is not archived"
    )
    expect.that(
        shelved["_id"] in {c["_id"] for c in await ben.listed()},
        "the other participant's list lost the chat",
    )


@rule(
    "chats.list.newest-first",
    "GET /api/chat lists the newest activity first (lastMessageAt, else createdAt)",
    operation("get", "/api/chat"),
)
async def newest_first(t: Check) -> None:
    ann, ben = await t.users(2)
    older, newer = await ann.group(ben, title="older"), await ann.group(ben, title="newer")
    order = [c["_id"] for c in await ann.listed() if c["_id"] in (older["_id"], newer["_id"])]
    if newer["createdAt"] != older["createdAt"]:  # made within one tick, either may come first
        expect.equal(order, [newer["_id"], older["_id"]], "the order before any message")
    await ben.sent(older["_id"], "bump")
    order = [c["_id"] for c in await ann.listed() if c["_id"] in (older["_id"], newer["_id"])]
    expect.equal(order, [older["_id"], newer["_id"]], "the order after a message in the older chat")


@rule(
    "chats.participants.rules",
    "Participants change in group chats only (400), by the creator or an admin only (403); "
    "adding a participant again is 400, removing a non-participant 404",
    PARTICIPANTS,
)
async def participant_rules(t: Check) -> None:
    ann, ben, cat = await t.users(3)
    direct = expect.status(
        await ann.post(
            "/api/chat/purchase-request",
            json={"purchaseRequestId": samples.new_id(), "sellerId": ben.id},
        ),
        201,
    ).data["chat"]
    expect.problem(
        await ann.post(f"/api/chat/{direct['_id']}/participants", json={"userId": cat.id}), 400
    )
    group = await ann.group(ben)
    path = f"/api/chat/{group['_id']}/participants"
    expect.problem(await ben.post(path, json={"userId": cat.id}), 403)
    expect.problem(await ann.post(path, json={"userId": ben.id}), 400)
    expect.problem(await ann.delete(f"{path}/{cat.id}"), 404)
    participants = (await ann.info(group["_id"]))["participants"]
    expect.equal(
        sorted(p["_id"] for p in participants),
        sorted([ann.id, ben.id]),
        "participants after the refusals",
    )


@rule(
    "chats.participants.added-event",
    "Adding a participant emits participants-added {chatId, userIds, chat} to chat-<id> "
    "(the actor's sockets too) and once to the added user's own room",
    asyncapi("/operations/sendParticipantsAddedToUser"),
)
async def added_event(t: Check) -> None:
    ann, ben, cat = await t.users(3)
    chat = await ann.group(ben)
    actor, member, newcomer = await t.live(ann), await t.live(ben), await t.live(cat)
    await actor.join(chat["_id"])
    await member.join(chat["_id"])
    expect.status(
        await ann.post(f"/api/chat/{chat['_id']}/participants", json={"userId": cat.id}), 200
    )
    for live in (actor, member, newcomer):
        event = await live.wait(
            "participants-added", lambda p: p.get("chatId") == chat["_id"], "the addition"
        )
        expect.equal(event["userIds"], [cat.id], f"userIds seen by {live.label}")
        expect.that(
            cat.id in event["chat"]["participants"],
            f"{live.label}: the chat in the event lacks the new participant",
        )
    await newcomer.nothing("participants-added", why="the added user gets the event once")


@rule(
    "chats.participants.removed-event",
    "Removing a participant emits participant-removed {chatId, userId} to chat-<id>, the "
    "removed user's sockets included, which get no later event of that chat",
    asyncapi("/operations/sendParticipantRemoved"),
)
async def removed_event(t: Check) -> None:
    (ann, ben, cat), chat = await t.chat_of(3)
    member, leaving = await t.live(ben), await t.live(cat)
    await member.join(chat["_id"])
    await leaving.join(chat["_id"])
    expect.status(await ann.delete(f"/api/chat/{chat['_id']}/participants/{cat.id}"), 200)
    for live in (member, leaving):
        event = await live.wait(
            "participant-removed", lambda p: p.get("chatId") == chat["_id"], "the removal"
        )
        expect.equal(event["userId"], cat.id, f"userId seen by {live.label}")
    await ann.sent(chat["_id"], "after the removal")
    await member.wait("new-message", what="the message after the removal")
    await leaving.nothing(why="a removed participant gets no later event of the chat")


@rule(
    "chats.stats.counts",
    "GET /api/chat/stats moves with the caller's chats: one more chat, its messages and "
    "unread messages, its archive, a deleted message no longer counted",
    operation("get", "/api/chat/stats"),
)
async def stats_counts(t: Check) -> None:
    ann, ben = await t.users(2)
    before = await ben.stats()
    chat = await ann.group(ben)
    first = await ann.sent(chat["_id"], "one")
    await ann.sent(chat["_id"], "two")
    expect.status(await ben.put(f"/api/chat/{chat['_id']}/archive", json={"archived": True}), 200)
    expect.status(await ann.delete(f"/api/chat/{chat['_id']}/messages/{first['_id']}"), 200)
    after = await ben.stats()
    moved = {name: after[name] - before[name] for name in before}
    wanted = {"totalChats": 1, "archivedChats": 1, "totalMessages": 1, "totalUnread": 1}
    expect.equal(moved, wanted, "how the stats moved")
