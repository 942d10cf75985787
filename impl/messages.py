"""Message rules: sending (trimming, length, replies, system messages, idempotency, the
rate limit), history with its exact cursor, edits within the window, soft deletes, and
read receipts.

A send is checked completely before it takes from the rate allowance; a send that is
then not stored gives the allowance back. Every change is stored before its event.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument

from impl import events, files, ratelimit, unread
from impl.access import load_chat, load_member_chat
from impl.clock import as_utc
from impl.context import Caller
from impl.effects import NotifyOffline
from impl.errors import ApiError, Conflict, Forbidden, ValidationFailed, not_participant
from impl.limits import check_metadata, clean_text
from impl.ratelimit import Allowance
from impl.reply import Reply
from impl.store import Doc, parse_id
from impl.views import message_view, pagination

ID_LENGTH = 24


@dataclass
class Draft:
    """A message that passed every check but is not stored yet."""

    content: str
    kind: str = "text"
    reply_to: ObjectId | None = None
    metadata: dict[str, Any] | None = None
    client_message_id: str | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)
    file_digest: str = ""

    @property
    def fingerprint(self) -> str:
        parts = [self.content, self.kind, str(self.reply_to or ""), self.file_digest]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def _reply_target(caller: Caller, chat: Doc, raw: str | None) -> ObjectId | None:
    if raw is None:
        return None
    target = parse_id(raw, "replyToMessageId")
    if (
        caller.store.messages.find_one({"_id": target, "chatId": chat["_id"]}, {"_id": True})
        is None
    ):
        raise ValidationFailed("replyToMessageId must name a message of this chat")
    return target


def draft(caller: Caller, chat: Doc, body: dict[str, Any], allow_empty: bool = False) -> Draft:
    kind = body.get("type", "text")
    if kind == "system" and not caller.is_admin:
        raise Forbidden("only admins may send system messages")
    raw = body.get("content", "")
    if allow_empty and not raw.strip():
        if len(raw) > caller.settings.max_message_length:
            raise ValidationFailed("content is too long")
        content = ""
    else:
        content = clean_text(raw, caller.settings.max_message_length)
    if "metadata" in body:
        check_metadata(body["metadata"])
    return Draft(
        content=content,
        kind=kind,
        reply_to=_reply_target(caller, chat, body.get("replyToMessageId")),
        metadata=body.get("metadata"),
        client_message_id=body.get("clientMessageId"),
    )


def _client_key(chat_id: ObjectId, sender: ObjectId, client_message_id: str) -> str:
    return f"{chat_id}:{sender}:{client_message_id}"


def find_retry(caller: Caller, chat: Doc, pending: Draft) -> Reply | None:
    """The reply to a retried send (same `clientMessageId`), or None for a new message."""
    if pending.client_message_id is None:
        return None
    key = _client_key(chat["_id"], caller.id, pending.client_message_id)
    original = caller.store.messages.find_one({"clientKey": key})
    if original is None:
        return None
    if original.get("fingerprint") != pending.fingerprint:
        raise Conflict(
            "this clientMessageId was already used for a different message",
            code="IDEMPOTENCY_CONFLICT",
        )
    view = message_view(original, caller.settings.edit_window_seconds)
    return Reply({"message": view}, 200, ratelimit.peek(caller).headers())


def reserve_for(caller: Caller) -> Allowance:
    return ratelimit.reserve(caller)


def preview(doc: Doc) -> Doc:
    keep = ("_id", "senderId", "content", "type", "createdAt", "editedAt", "deletedAt")
    summary = {k: doc[k] for k in keep if doc.get(k) is not None}
    summary["hasAttachments"] = bool(doc.get("attachments"))
    return summary


def store_new(caller: Caller, chat: Doc, pending: Draft, allowance: Allowance) -> Reply:
    now = caller.clock.now()
    message_id = ObjectId()
    cmid = pending.client_message_id
    doc: Doc = {
        "_id": message_id,
        "chatId": chat["_id"],
        "senderId": caller.id,
        "content": pending.content,
        "type": pending.kind,
        "attachments": pending.attachments,
        "readBy": [{"userId": caller.id, "readAt": now}],
        "createdAt": now,
        "fingerprint": pending.fingerprint,
    }
    if cmid:  # sparse unique index: only idempotent sends carry a key
        doc["clientKey"] = _client_key(chat["_id"], caller.id, cmid)
    optional = {
        "replyToMessageId": pending.reply_to,
        "metadata": pending.metadata,
        "clientMessageId": cmid,
    }
    doc.update({k: v for k, v in optional.items() if v is not None})
    if not caller.store.insert_unique(caller.store.messages, doc):
        ratelimit.release(caller, allowance)  # a concurrent retry stored it first
        retry = find_retry(caller, chat, pending)
        assert retry is not None
        return retry
    caller.store.chats.update_one(
        {"_id": chat["_id"]},
        {
            "$set": {
                "lastMessage": preview(doc),
                "lastMessageAt": now,
                "sortAt": now,
                "updatedAt": now,
            },
            "$inc": unread.for_new_message(chat, caller.id),
        },
    )
    view = message_view(doc, caller.settings.edit_window_seconds)
    events.record(caller, chat["_id"], "new-message", {"message": view}, at=now)
    others = tuple(str(p) for p in chat["participants"] if p != caller.id)
    if others:
        caller.effects.append(NotifyOffline(str(chat["_id"]), str(message_id), others))
    return Reply({"message": view}, 201, allowance.headers())


def reporting_allowance(send: Callable[..., Reply]) -> Callable[..., Reply]:
    """Make every answer of a send carry the caller's `X-RateLimit-*`, refusals included."""

    @functools.wraps(send)
    def wrapper(caller: Caller, *args: Any) -> Reply:
        try:
            return send(caller, *args)
        except ApiError as exc:
            exc.headers = {**ratelimit.peek(caller).headers(), **(exc.headers or {})}
            raise

    return wrapper


@reporting_allowance
def send(caller: Caller, chat_id: str, body: dict[str, Any]) -> Reply:
    chat = load_member_chat(caller, chat_id)
    pending = draft(caller, chat, body)
    retry = find_retry(caller, chat, pending)
    if retry is not None:
        return retry
    return store_new(caller, chat, pending, reserve_for(caller))


def _parse_before(caller: Caller, chat: Doc, before: str) -> dict[str, Any]:
    if len(before) == ID_LENGTH and "-" not in before:
        cursor = caller.store.messages.find_one(
            {"_id": parse_id(before, "before"), "chatId": chat["_id"]}, {"createdAt": True}
        )
        if cursor is None:
            raise ValidationFailed("before must name a message of this chat")
        at = cursor["createdAt"]
        return {
            "$or": [{"createdAt": {"$lt": at}}, {"createdAt": at, "_id": {"$lt": cursor["_id"]}}]
        }
    try:
        moment = datetime.fromisoformat(before.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValidationFailed("before must be an ISO 8601 timestamp or a message id") from None
    return {"createdAt": {"$lt": _utc_within_range(moment)}}


def _utc_within_range(moment: datetime) -> datetime:
    """The moment in UTC; one whose UTC form falls off datetime's range (year 1 at +01:00,
    year 9999 at -01:00) is before or after every message, so the range's edge serves."""
    try:
        return as_utc(moment)
    except OverflowError:
        return (datetime.min if moment.year == 1 else datetime.max).replace(tzinfo=UTC)


def history(caller: Caller, chat_id: str, page: int, limit: int, before: str | None) -> Reply:
    chat = load_member_chat(caller, chat_id)
    query: dict[str, Any] = {"chatId": chat["_id"]}
    if before:
        query.update(_parse_before(caller, chat, before))
    newest = [("createdAt", -1), ("_id", -1)]
    total, found = caller.store.page(caller.store.messages, query, newest, page, limit)
    window = caller.settings.edit_window_seconds
    return Reply(
        {
            "messages": [message_view(m, window) for m in found],
            "pagination": pagination(page, limit, total),
        }
    )


def _load_message(caller: Caller, chat: Doc, message_id: str) -> Doc:
    query = {"_id": parse_id(message_id, "messageId"), "chatId": chat["_id"]}
    return caller.store.get(caller.store.messages, query, "message")


def _refresh_preview(caller: Caller, message: Doc) -> None:
    caller.store.chats.update_one(
        {"_id": message["chatId"], "lastMessage._id": message["_id"]},
        {"$set": {"lastMessage": preview(message)}},
    )


def edit(caller: Caller, chat_id: str, message_id: str, body: dict[str, Any]) -> Reply:
    chat = load_member_chat(caller, chat_id)
    message = _load_message(caller, chat, message_id)
    if message["senderId"] != caller.id:
        raise Forbidden("only the author may edit a message", code="NOT_AUTHOR")
    if message.get("deletedAt") is not None:
        raise Conflict("a deleted message cannot be edited", code="MESSAGE_DELETED")
    now = caller.clock.now()
    window = timedelta(seconds=caller.settings.edit_window_seconds)
    if now > as_utc(message["createdAt"]) + window:
        raise Forbidden("the edit window of this message has passed", code="EDIT_WINDOW_EXPIRED")
    content = clean_text(body["content"], caller.settings.max_message_length)
    changed = caller.store.messages.update_one(
        {"_id": message["_id"], "deletedAt": None}, {"$set": {"content": content, "editedAt": now}}
    )
    if changed.matched_count == 0:
        raise Conflict("a deleted message cannot be edited", code="MESSAGE_DELETED")
    message.update(content=content, editedAt=now)
    _refresh_preview(caller, message)
    view = message_view(message, caller.settings.edit_window_seconds)
    events.record(caller, chat["_id"], "message-edited", {"message": view}, at=now)
    return Reply({"message": view})


def delete(caller: Caller, chat_id: str, message_id: str) -> Reply:
    chat = load_chat(caller, chat_id)
    if caller.id not in chat["participants"] and not caller.is_admin:
        raise not_participant()
    message = _load_message(caller, chat, message_id)
    if message["senderId"] != caller.id and not caller.is_admin:
        raise Forbidden("only the author or an admin may delete a message", code="NOT_AUTHOR")
    if message.get("deletedAt") is None:
        now = caller.clock.now()
        tombstone = {"deletedAt": now, "content": "", "attachments": []}
        before = caller.store.messages.find_one_and_update(
            {"_id": message["_id"], "deletedAt": None},
            {"$set": tombstone},
            return_document=ReturnDocument.BEFORE,
        )
        if before is not None:
            unread.deleted(caller.store, chat, before)
            files.remove(caller.store, files.attachment_file_ids(message.get("attachments", [])))
            message.update(tombstone)
            _refresh_preview(caller, message)
            deleted = {"messageId": message["_id"]}
            events.record(caller, chat["_id"], "message-deleted", deleted, at=now)
    message = _load_message(caller, chat, message_id)
    return Reply({"message": message_view(message, caller.settings.edit_window_seconds)})


def mark_read(caller: Caller, chat_id: str, body: dict[str, Any] | None) -> Reply:
    chat = load_member_chat(caller, chat_id)
    not_yet_read: dict[str, Any] = {
        "chatId": chat["_id"],
        "senderId": {"$ne": caller.id},
        "deletedAt": None,
        "readBy.userId": {"$ne": caller.id},
    }
    wanted = (body or {}).get("messageIds") or []
    if wanted:
        not_yet_read["_id"] = {"$in": [parse_id(m, "messageIds item") for m in wanted]}
    candidates = [m["_id"] for m in caller.store.messages.find(not_yet_read, {"_id": True})]
    if not candidates:
        return Reply({"modifiedCount": 0})
    now = caller.clock.now()
    result = caller.store.messages.update_many(
        {**not_yet_read, "_id": {"$in": candidates}},
        {"$push": {"readBy": {"userId": caller.id, "readAt": now}}},
    )
    unread.read(caller.store, chat["_id"], caller.id, result.modified_count)
    if result.modified_count:
        events.record(
            caller,
            chat["_id"],
            "messages-read",
            {"userId": caller.id, "messageIds": candidates, "readAt": now},
            at=now,
        )
    return Reply({"modifiedCount": result.modified_count})
