"""One rule per operation of openapi.yaml outside the dev tag: the operation answers its
documented success status, and its body holds what the operation is about. (The schema of
every answer, in every rule, is checked by the REST client; the error statuses are the
rules of the sections that follow.)"""

from __future__ import annotations

from conformance import expect, samples
from conformance.check import Check
from conformance.registry import rule
from conformance.specs import operation

CHAT = "/api/chat/{id}"


def ids(users: list[dict[str, str]] | list[str]) -> set[str]:
    return {u if isinstance(u, str) else u["_id"] for u in users}


@rule(
    "operations.create_chat",
    "POST /api/chat answers 201 with a new group chat: its participants, creator, type and title",
    operation("post", "/api/chat"),
)
async def create_chat(t: Check) -> None:
    ann, ben = await t.users(2)
    body = {"participantIds": [ben.id], "type": "group", "title": "Bike sale"}
    chat = expect.created(await ann.post("/api/chat", json=body))["chat"]
    expect.equal(ids(chat["participants"]), {ann.id, ben.id}, "participants")
    expect.equal(
        (chat["type"], chat["createdBy"], chat.get("title")),
        ("group", ann.id, "Bike sale"),
        "type, createdBy, title",
    )
    expect.equal(
        (chat["unreadCount"], chat["archived"]),
        (0, False),
        "the creator's unreadCount and archived",
    )


@rule(
    "operations.list_chats",
    "GET /api/chat answers 200 with the caller's chats and the pagination asked for",
    operation("get", "/api/chat"),
)
async def list_chats(t: Check) -> None:
    (ann, _), chat = await t.chat_of(2)
    reply = expect.status(await ann.get("/api/chat", params={"limit": 5, "page": 1}), 200)
    expect.equal(
        (reply.data["pagination"]["page"], reply.data["pagination"]["limit"]), (1, 5), "pagination"
    )
    expect.that(
        any(c["_id"] == chat["_id"] for c in reply.data["chats"]),
        "the new chat is not on the first page",
    )


@rule(
    "operations.create_purchase_request_chat",
    "POST /api/chat/purchase-request answers 201 with a direct chat of buyer and seller that "
    "carries the purchase request's id",
    operation("post", "/api/chat/purchase-request"),
)
async def create_purchase_request_chat(t: Check) -> None:
    buyer, seller = await t.users(2)
    request_id = samples.new_id()
    body = {"purchaseRequestId": request_id, "sellerId": seller.id}
    chat = expect.created(await buyer.post("/api/chat/purchase-request", json=body))["chat"]
    expect.equal(
        (chat["type"], chat.get("purchaseRequestId")),
        ("direct", request_id),
        "type and purchaseRequestId",
    )
    expect.equal(ids(chat["participants"]), {buyer.id, seller.id}, "participants")


@rule(
    "operations.create_support_chat",
    "POST /api/chat/support answers 201 with a support chat the caller is in",
    operation("post", "/api/chat/support"),
)
async def create_support_chat(t: Check) -> None:
    ann = await t.user()
    chat = expect.created(await ann.post("/api/chat/support", json={"subject": "Payout late"}))[
        "chat"
    ]
    expect.equal(chat["type"], "support", "type")
    expect.that(ann.id in chat["participants"], "the caller is not a participant")


@rule(
    "operations.get_chat_stats",
    "GET /api/chat/stats answers 200 with the caller's totals",
    operation("get", "/api/chat/stats"),
)
async def get_chat_stats(t: Check) -> None:
    ann = await t.user()
    expect.status(await ann.get("/api/chat/stats"), 200)


@rule(
    "operations.get_chat_config",
    "GET /api/chat/config answers 200 with the limits in force",
    operation("get", "/api/chat/config"),
)
async def get_chat_config(t: Check) -> None:
    ann = await t.user()
    expect.status(await ann.get("/api/chat/config"), 200)


@rule(
    "operations.get_chat_info",
    "GET /api/chat/{id}/info answers 200 with the participants as users and an unread count "
    "for each of them",
    operation("get", CHAT + "/info"),
)
async def get_chat_info(t: Check) -> None:
    (ann, ben), chat = await t.chat_of(2)
    info = expect.status(await ann.get(f"/api/chat/{chat['_id']}/info"), 200).data["chat"]
    expect.equal(ids(info["participants"]), {ann.id, ben.id}, "participants")
    roles = {p["_id"]: p["role"] for p in info["participants"]}
    expect.equal(roles, {ann.id: ann.role, ben.id: ben.role}, "participants' roles")
    expect.equal(set(info["unreadCounts"]), {ann.id, ben.id}, "unreadCounts' keys")


@rule(
    "operations.archive_chat",
    "PUT /api/chat/{id}/archive answers 200 with the new state and the chat",
    operation("put", CHAT + "/archive"),
)
async def archive_chat(t: Check) -> None:
    (ann, _), chat = await t.chat_of(2)
    data = expect.status(
        await ann.put(f"/api/chat/{chat['_id']}/archive", json={"archived": True}), 200
    ).data
    expect.equal(
        (data["archived"], data["chat"]["_id"], data["chat"]["archived"]),
        (True, chat["_id"], True),
        "archived, chat",
    )


@rule(
    "operations.add_participant",
    "POST /api/chat/{id}/participants answers 200 with the chat and its new participant",
    operation("post", CHAT + "/participants"),
)
async def add_participant(t: Check) -> None:
    ann, ben, cat = await t.users(3)
    chat = await ann.group(ben)
    reply = await ann.post(f"/api/chat/{chat['_id']}/participants", json={"userId": cat.id})
    expect.equal(
        ids(expect.status(reply, 200).data["chat"]["participants"]),
        {ann.id, ben.id, cat.id},
        "participants",
    )


@rule(
    "operations.remove_participant",
    "DELETE /api/chat/{id}/participants/{participantId} answers 200 with the chat without them",
    operation("delete", CHAT + "/participants/{participantId}"),
)
async def remove_participant(t: Check) -> None:
    (ann, ben, cat), chat = await t.chat_of(3)
    reply = await ann.delete(f"/api/chat/{chat['_id']}/participants/{cat.id}")
    expect.equal(
        ids(expect.status(reply, 200).data["chat"]["participants"]),
        {ann.id, ben.id},
        "participants",
    )


@rule(
    "operations.list_messages",
    "GET /api/chat/{id}/messages answers 200 with the history and its pagination",
    operation("get", CHAT + "/messages"),
)
async def list_messages(t: Check) -> None:
    (ann, ben), chat = await t.chat_of(2)
    sent = await ann.sent(chat["_id"], "first")
    data = expect.status(await ben.get(f"/api/chat/{chat['_id']}/messages"), 200).data
    expect.equal([m["_id"] for m in data["messages"]], [sent["_id"]], "the history")
    expect.equal(data["pagination"]["total"], 1, "pagination.total")


@rule(
    "operations.send_message",
    "POST /api/chat/{id}/messages answers 201 (not 200) with a new message",
    operation("post", CHAT + "/messages"),
)
async def send_message(t: Check) -> None:
    (ann, _), chat = await t.chat_of(2)
    message = expect.created(await ann.send(chat["_id"], "Is it still for sale?"))["message"]
    expect.equal(
        (message["chatId"], message["senderId"], message["content"]),
        (chat["_id"], ann.id, "Is it still for sale?"),
        "chatId, senderId, content",
    )


@rule(
    "operations.send_file_message",
    "POST /api/chat/{id}/messages/file answers 201 with a message holding the attachment",
    operation("post", CHAT + "/messages/file"),
)
async def send_file_message(t: Check) -> None:
    (ann, _), chat = await t.chat_of(2)
    message = expect.created(await ann.send_file(chat["_id"], samples.png_form(content="a photo")))[
        "message"
    ]
    expect.equal(len(message["attachments"]), 1, "attachments")
    attachment = message["attachments"][0]
    expect.equal(
        (attachment["mimeType"], attachment["size"]),
        ("image/png", len(samples.png())),
        "the attachment's type and size",
    )


@rule(
    "operations.mark_messages_read",
    "PATCH /api/chat/{id}/messages/read answers 200 with the count of messages newly read",
    operation("patch", CHAT + "/messages/read"),
)
async def mark_messages_read(t: Check) -> None:
    (ann, ben), chat = await t.chat_of(2)
    message = await ann.sent(chat["_id"])
    reply = await ben.mark_read(chat["_id"], {"messageIds": [message["_id"]]})
    expect.equal(expect.status(reply, 200).data["modifiedCount"], 1, "modifiedCount")


@rule(
    "operations.edit_message",
    "PUT /api/chat/{id}/messages/{messageId} answers 200 with the edited message",
    operation("put", CHAT + "/messages/{messageId}"),
)
async def edit_message(t: Check) -> None:
    (ann, _), chat = await t.chat_of(2)
    message = await ann.sent(chat["_id"], "draft")
    reply = await ann.put(
        f"/api/chat/{chat['_id']}/messages/{message['_id']}", json={"content": "final"}
    )
    edited = expect.status(reply, 200).data["message"]
    expect.equal(
        (edited["_id"], edited["content"]), (message["_id"], "final"), "the edited message"
    )


@rule(
    "operations.delete_message",
    "DELETE /api/chat/{id}/messages/{messageId} answers 200 with the tombstone",
    operation("delete", CHAT + "/messages/{messageId}"),
)
async def delete_message(t: Check) -> None:
    (ann, _), chat = await t.chat_of(2)
    message = await ann.sent(chat["_id"])
    reply = await ann.delete(f"/api/chat/{chat['_id']}/messages/{message['_id']}")
    gone = expect.status(reply, 200).data["message"]
    expect.equal(gone["_id"], message["_id"], "the tombstone's _id")


@rule(
    "operations.download_attachment",
    "GET /api/chat/{id}/attachments/{fileId} answers 200 with the file's bytes and type",
    operation("get", CHAT + "/attachments/{fileId}"),
)
async def download_attachment(t: Check) -> None:
    (ann, ben), chat = await t.chat_of(2)
    message = expect.created(await ann.send_file(chat["_id"], samples.png_form()))["message"]
    file_id = message["attachments"][0]["fileId"]
    reply = expect.status(await ben.get(f"/api/chat/{chat['_id']}/attachments/{file_id}"), 200)
    expect.equal(reply.body, samples.png(), "the bytes")
    expect.equal((reply.header("Content-Type") or "").split(";")[0], "image/png", "Content-Type")


@rule(
    "operations.list_chat_events",
    "GET /api/chat/{id}/events answers 200 with the chat's events and latestSeq",
    operation("get", CHAT + "/events"),
)
async def list_chat_events(t: Check) -> None:
    (ann, ben), chat = await t.chat_of(2)
    await ann.sent(chat["_id"])
    data = expect.status(await ben.get(f"/api/chat/{chat['_id']}/events"), 200).data
    expect.equal([e["event"] for e in data["events"]], ["new-message"], "the events")
    expect.equal(data["latestSeq"], 1, "latestSeq")


@rule(
    "operations.list_notifications",
    "GET /api/notifications answers 200 with the caller's notifications and pagination",
    operation("get", "/api/notifications"),
)
async def list_notifications(t: Check) -> None:
    ann = await t.user()
    expect.status(await ann.get("/api/notifications", params={"limit": 5}), 200)


@rule(
    "operations.mark_notifications_read",
    "PATCH /api/notifications/read answers 200 with the count of notifications newly read",
    operation("patch", "/api/notifications/read"),
)
async def mark_notifications_read(t: Check) -> None:
    ann = await t.user()
    expect.status(
        await ann.patch("/api/notifications/read", json={"ids": [samples.UNKNOWN_ID]}), 200
    )
