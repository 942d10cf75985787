"""Messages: sending, history, edits, soft deletes, read receipts, idempotent sends."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from conformance import expect, samples
from conformance.check import Check
from conformance.registry import rule
from conformance.specs import operation
from conformance.world import ADMIN

MESSAGES = "/api/chat/{id}/messages"
SEND = operation("post", MESSAGES)
MESSAGE = MESSAGES + "/{messageId}"


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def of_chat(chat_id: str) -> Any:
    return lambda payload: isinstance(payload, dict) and payload.get("chatId") == chat_id


@rule(
    "messages.send.created",
    "A sent message comes back trimmed, of type text, read by its sender, with "
    "editableUntil = createdAt + the edit window; it is in the history and new-message "
    "reaches the room, the sender's own socket included",
    SEND,
)
async def send_created(t: Check) -> None:
    (ann, ben), chat = await t.chat_of(2)
    own, other = await t.live(ann), await t.live(ben)
    await own.join(chat["_id"])
    await other.join(chat["_id"])
    reply = expect.status(await ann.send(chat["_id"], "  Is it still for sale?  "), 200, 201)
    message = reply.data["message"]
    found = (
        message["content"],
        message["type"],
        message["senderId"],
        message["chatId"],
        message["attachments"],
    )
    expect.equal(
        found,
        ("Is it still for sale?", "text", ann.id, chat["_id"], []),
        "content, type, senderId, chatId, attachments",
    )
    expect.that(
        ann.id in {r["userId"] for r in message["readBy"]},
        "the sender has not read its own message",
    )
    window = moment(message["editableUntil"]) - moment(message["createdAt"])
    expect.equal(window, timedelta(seconds=t.limits.edit_window_s), "editableUntil - createdAt")
    expect.equal(
        [m["_id"] for m in await ben.history(chat["_id"])], [message["_id"]], "the history"
    )
    for live in (own, other):
        event = await live.wait("new-message", of_chat(chat["_id"]), "the message sent")
        expect.equal(event["message"]["_id"], message["_id"], f"the message {live.label} got")
        expect.equal(
            event["message"]["content"], message["content"], f"the content {live.label} got"
        )


@rule(
    "messages.send.content-rules",
    "Content blank after trimming is 400; a reply must name a message of the same chat "
    "(400 otherwise); a refused send stores nothing",
    SEND,
)
async def content_rules(t: Check) -> None:
    ann, ben = await t.users(2)
    chat, elsewhere = await ann.group(ben), await ann.group(ben, title="elsewhere")
    original = await ben.sent(chat["_id"], "original")
    foreign = await ben.sent(elsewhere["_id"], "foreign")
    expect.problem(await ann.send(chat["_id"], " \n\t "), 400, "VALIDATION_FAILED")
    expect.problem(await ann.send(chat["_id"], "reply", replyToMessageId=foreign["_id"]), 400)
    reply = await ann.sent(chat["_id"], "reply", replyToMessageId=original["_id"])
    expect.equal(reply.get("replyToMessageId"), original["_id"], "replyToMessageId")
    expect.equal(
        [m["_id"] for m in await ann.history(chat["_id"])],
        [reply["_id"], original["_id"]],
        "the history",
    )


@rule(
    "messages.send.multipart-415",
    "A multipart body sent to the JSON message endpoint is 415, never a message without its file",
    SEND,
)
async def multipart_refused(t: Check) -> None:
    (ann, _), chat = await t.chat_of(2)
    reply = await ann.post(
        f"/api/chat/{chat['_id']}/messages", form=samples.png_form(content="with a file")
    )
    expect.problem(reply, 415)
    expect.equal(await ann.history(chat["_id"]), [], "the history")


@rule(
    "messages.system.users-refused",
    "A system message from a user who is not an admin is 403 (users cannot forge notices)",
    SEND,
)
async def system_refused(t: Check) -> None:
    (ann, ben), chat = await t.chat_of(2)
    expect.problem(await ann.send(chat["_id"], "Your account is closed", type="system"), 403)
    expect.equal(await ben.history(chat["_id"]), [], "the history")


@rule(
    "messages.system.admin-may",
    "An admin may send a system message (type system)",
    SEND,
    needs=(ADMIN,),
)
async def system_admin(t: Check) -> None:
    admin = await t.admin()
    ann = await t.user()
    chat = await admin.group(ann, title="notices")
    sent = expect.status(
        await admin.send(chat["_id"], "Maintenance tonight", type="system"), 200, 201
    )
    message = sent.data["message"]
    expect.equal(message["type"], "system", "type")


@rule(
    "messages.history.cursor",
    "The history is newest first; before=<message id> pages exactly past that message, "
    "before=<timestamp> to messages created strictly earlier",
    operation("get", MESSAGES),
)
async def history_cursor(t: Check) -> None:
    (ann, ben), chat = await t.chat_of(2)
    sent = [await ann.sent(chat["_id"], f"number {n}") for n in (1, 2, 3)]
    first, second, third = (m["_id"] for m in sent)
    expect.equal(
        [m["_id"] for m in await ben.history(chat["_id"])], [third, second, first], "newest first"
    )
    expect.equal(
        [m["_id"] for m in await ben.history(chat["_id"], before=second)],
        [first],
        "before the second's id",
    )
    cut = sent[2]["createdAt"]
    earlier = [m["_id"] for m in reversed(sent[:2]) if moment(m["createdAt"]) < moment(cut)]
    expect.equal(
        [m["_id"] for m in await ben.history(chat["_id"], before=cut)], earlier, f"before {cut}"
    )
    page = await ben.done(
        "GET", f"/api/chat/{chat['_id']}/messages", "paging", params={"limit": 1, "page": 2}
    )
    expect.equal([m["_id"] for m in page["messages"]], [second], "page 2 of 1")
    expect.equal(
        (page["pagination"]["total"], page["pagination"]["pages"]), (3, 3), "total and pages"
    )


@rule(
    "messages.edit.author",
    "Only the author edits (403 NOT_AUTHOR): the content is trimmed, editedAt set, "
    "message-edited reaches the room; a deleted message cannot be edited (409 MESSAGE_DELETED)",
    operation("put", MESSAGE),
)
async def edit_author(t: Check) -> None:
    (ann, ben), chat = await t.chat_of(2)
    watcher = await t.watching(ben, chat["_id"])
    message = await ann.sent(chat["_id"], "draft")
    path = f"/api/chat/{chat['_id']}/messages/{message['_id']}"
    expect.problem(await ben.put(path, json={"content": "hijacked"}), 403, "NOT_AUTHOR")
    expect.problem(await ann.put(path, json={"content": "   "}), 400, "VALIDATION_FAILED")
    edited = expect.status(await ann.put(path, json={"content": "  final  "}), 200).data["message"]
    expect.equal(
        (edited["content"], edited["createdAt"]),
        ("final", message["createdAt"]),
        "content and createdAt",
    )
    expect.that(edited.get("editedAt"), "editedAt is not set")
    event = await watcher.wait("message-edited", of_chat(chat["_id"]), "the edit")
    expect.equal(
        (event["message"]["_id"], event["message"]["content"]),
        (message["_id"], "final"),
        "the edited message in the event",
    )
    expect.status(await ann.delete(path), 200)
    expect.problem(await ann.put(path, json={"content": "too late"}), 409, "MESSAGE_DELETED")


@rule(
    "messages.delete.tombstone",
    'Deleting a message keeps its record as a tombstone (deletedAt set, content "", '
    "attachments []) in the history; deleting again is 200; message-deleted is sent once; "
    "others' messages are not theirs to delete (403)",
    operation("delete", MESSAGE),
)
async def delete_tombstone(t: Check) -> None:
    (ann, ben), chat = await t.chat_of(2)
    watcher = await t.watching(ben, chat["_id"])
    message = await ann.sent(chat["_id"], "regrettable")
    path = f"/api/chat/{chat['_id']}/messages/{message['_id']}"
    expect.problem(await ben.delete(path), 403, "NOT_AUTHOR")
    for attempt in ("first", "second"):
        gone = expect.status(await ann.delete(path), 200).data["message"]
        expect.equal(
            (gone["content"], gone["attachments"]),
            ("", []),
            f"the tombstone of the {attempt} delete",
        )
        expect.that(gone.get("deletedAt"), f"the {attempt} delete's answer has no deletedAt")
    kept = await ben.history(chat["_id"])
    expect.equal([m["_id"] for m in kept], [message["_id"]], "the history after the delete")
    expect.equal(
        (kept[0]["content"], kept[0]["attachments"]), ("", []), "the tombstone in the history"
    )
    expect.that(kept[0].get("deletedAt"), "the tombstone in the history has no deletedAt")
    event = await watcher.wait("message-deleted", of_chat(chat["_id"]), "the delete")
    expect.equal(event["messageId"], message["_id"], "messageId")
    await watcher.nothing("message-deleted", why="a second delete changes nothing")


@rule(
    "messages.delete.admin-may",
    "An admin may delete another user's message",
    operation("delete", MESSAGE),
    needs=(ADMIN,),
)
async def delete_admin(t: Check) -> None:
    admin = await t.admin()
    ann = await t.user()
    chat = await admin.group(ann, title="moderated")
    message = await ann.sent(chat["_id"], "spam")
    gone = expect.status(
        await admin.delete(f"/api/chat/{chat['_id']}/messages/{message['_id']}"), 200
    )
    expect.equal(gone.data["message"]["content"], "", "the tombstone's content")


@rule(
    "messages.read.all-when-empty",
    "Marking read with messageIds empty or missing marks every message of the chat read; "
    "modifiedCount counts them",
    operation("patch", MESSAGES + "/read"),
)
async def read_all(t: Check) -> None:
    (ann, ben), chat = await t.chat_of(2)
    bodies: tuple[dict[str, list[str]] | None, ...] = (None, {"messageIds": []}, {})
    for body in bodies:
        await ann.sent(chat["_id"], "one")
        await ann.sent(chat["_id"], "two")
        reply = (
            await ben.mark_read(chat["_id"])
            if body is None
            else await ben.mark_read(chat["_id"], body)
        )
        what = "no body" if body is None else str(body)
        expect.equal(
            expect.status(reply, 200).data["modifiedCount"], 2, f"modifiedCount with {what}"
        )
        expect.equal(
            (await ben.info(chat["_id"]))["unreadCount"],
            0,
            f"unreadCount after marking with {what}",
        )
    again = await ben.mark_read(chat["_id"], {"messageIds": []})
    expect.equal(
        expect.status(again, 200).data["modifiedCount"], 0, "modifiedCount with nothing left unread"
    )


@rule(
    "messages.read.exact",
    "Marking read counts only others' messages newly read; messages-read carries exactly "
    "those and is sent only when something changed",
    operation("patch", MESSAGES + "/read"),
)
async def read_exact(t: Check) -> None:
    (ann, ben), chat = await t.chat_of(2)
    watcher = await t.watching(ann, chat["_id"])
    first = await ann.sent(chat["_id"], "first")
    await ann.sent(chat["_id"], "second")
    mine = await ben.sent(chat["_id"], "mine")
    await watcher.wait("new-message", what="the first")
    await watcher.wait("new-message", what="the second")
    await watcher.wait("new-message", what=f"{ben}'s own")
    reply = await ben.mark_read(chat["_id"], {"messageIds": [first["_id"], mine["_id"]]})
    expect.equal(
        expect.status(reply, 200).data["modifiedCount"],
        1,
        f"modifiedCount (one of {ann}'s messages, one of {ben}'s own)",
    )
    event = await watcher.wait("messages-read", of_chat(chat["_id"]), f"{ben}'s read")
    expect.equal(
        (event["userId"], event["messageIds"]), (ben.id, [first["_id"]]), "userId and messageIds"
    )
    again = await ben.mark_read(chat["_id"], {"messageIds": [first["_id"]]})
    expect.equal(
        expect.status(again, 200).data["modifiedCount"], 0, "modifiedCount of a message read before"
    )
    await watcher.nothing("messages-read", why="nothing was newly read")
    expect.equal((await ben.info(chat["_id"]))["unreadCount"], 1, f"{ben}'s unreadCount")
    readers = {m["_id"]: {r["userId"] for r in m["readBy"]} for m in await ann.history(chat["_id"])}
    expect.that(ben.id in readers[first["_id"]], "the message read has no receipt of its reader")


@rule(
    "messages.idempotent-send",
    "A retry with the same clientMessageId returns the original with 200, stores and emits "
    "nothing and uses no allowance; the same key with other content is 409 IDEMPOTENCY_CONFLICT",
    SEND,
)
async def idempotent_send(t: Check) -> None:
    (ann, ben), chat = await t.chat_of(2)
    watcher = await t.watching(ben, chat["_id"])
    key = samples.key()
    first = expect.status(await ann.send(chat["_id"], "only once", clientMessageId=key), 201)
    original = first.data["message"]
    expect.equal(original.get("clientMessageId"), key, "the message's clientMessageId")
    retry = expect.status(await ann.send(chat["_id"], "only once", clientMessageId=key), 200)
    expect.equal(retry.data["message"]["_id"], original["_id"], "the retry's message")
    remaining = [expect.header_int(r, "X-RateLimit-Remaining") for r in (first, retry)]
    expect.equal(remaining[1], remaining[0], "X-RateLimit-Remaining after the retry")
    event = await watcher.wait("new-message", of_chat(chat["_id"]), "the first send")
    expect.equal(event["message"].get("clientMessageId"), key, "the event's clientMessageId")
    await watcher.nothing("new-message", why="a retry emits nothing")
    expect.problem(
        await ann.send(chat["_id"], "something else", clientMessageId=key),
        409,
        "IDEMPOTENCY_CONFLICT",
    )
    expect.equal(
        [m["_id"] for m in await ben.history(chat["_id"])], [original["_id"]], "the history"
    )
