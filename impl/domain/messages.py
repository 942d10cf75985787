"""Message rules: sending (trimming, length, replies, system messages, idempotency, the
rate limit), history with its exact cursor, edits within the window, soft deletes, and
read receipts.

A send is checked completely before it takes from the rate allowance, and then written
in three steps, each a single-document atomic write: the message, the chat (preview,
counters and the event's `seq` together), the event. A step that fails undoes the ones
before it (the allowance is given back, the message removed), so a failed send leaves
nothing a client can see; only a failure of the last step, after the chat counted the
message, is retried instead, since its `seq` is already taken.
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

from impl.clock import as_utc
from impl.domain import event_log, rate_limits, unread
from impl.domain.access import load_member_chat, member_or_admin_chat
from impl.domain.effects import NotifyOffline
from impl.domain.input_rules import clean_text, parse_id
from impl.domain.presenters import message_view, pagination
from impl.domain.rate_limits import Allowance
from impl.domain.services import Caller
from impl.errors import Conflict, DomainError, Forbidden, ValidationFailed
from impl.store import Doc

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


@dataclass(frozen=True)
class Sent:
    """A send's outcome: the message, whether this send stored it (False: a retry with the
    same `clientMessageId` found the original), and the sender's allowance left."""

    message: dict[str, Any]
    created: bool
    allowance: Allowance


def _reply_target(caller: Caller, chat: Doc, raw: str | None) -> ObjectId | None:
    if raw is None:
        return None
    target = parse_id(raw, "replyToMessageId")
    if not caller.store.messages.exists(chat["_id"], target):
        raise ValidationFailed("replyToMessageId must name a message of this chat")
    return target


def draft(
    caller: Caller,
    chat: Doc,
    body: dict[str, Any],
    allow_empty: bool = False,
    field: str = "content",
) -> Draft:
    """The message `body` asks for, checked; `field` names its text in the request (a
    support chat's first message comes as `initialMessage`)."""
    kind = body.get("type", "text")
    if kind == "system" and not caller.is_admin:
        raise Forbidden("only admins may send system messages")
    raw = body.get("content", "")
    limit = caller.settings.max_message_length
    if allow_empty and not raw.strip():
        if len(raw) > limit:
            raise ValidationFailed(f"{field} is longer than {limit} characters")
        content = ""
    else:
        content = clean_text(raw, field, max_length=limit)
    return Draft(
        content=content,
        kind=kind,
        reply_to=_reply_target(caller, chat, body.get("replyToMessageId")),
        metadata=body.get("metadata"),
        client_message_id=body.get("clientMessageId"),
    )


def _client_key(chat_id: ObjectId, sender: ObjectId, client_message_id: str) -> str:
    return f"{chat_id}:{sender}:{client_message_id}"


def find_retry(caller: Caller, chat: Doc, pending: Draft) -> Sent | None:
    """The original of a retried send (same `clientMessageId`), or None for a new message."""
    if pending.client_message_id is None:
        return None
    key = _client_key(chat["_id"], caller.id, pending.client_message_id)
    original = caller.store.messages.by_client_key(key)
    if original is None:
        return None
    if original.get("fingerprint") != pending.fingerprint:
        raise Conflict(
            "this clientMessageId was already used for a different message",
            code="IDEMPOTENCY_CONFLICT",
        )
    view = message_view(original, caller.settings.edit_window_seconds)
    return Sent(view, created=False, allowance=rate_limits.peek(caller))


def preview(doc: Doc) -> Doc:
    keep = ("_id", "senderId", "content", "type", "createdAt", "editedAt", "deletedAt")
    summary = {k: doc[k] for k in keep if doc.get(k) is not None}
    summary["hasAttachments"] = bool(doc.get("attachments"))
    return summary


def store_new(caller: Caller, chat: Doc, pending: Draft, allowance: Allowance) -> Sent:
    """Store a checked message; a failure at any step gives back the allowance and undoes
    what was written (see the module docstring)."""
    try:
        return _write(caller, chat, pending, allowance)
    except BaseException:
        rate_limits.release(caller, allowance)
        raise


def _write(caller: Caller, chat: Doc, pending: Draft, allowance: Allowance) -> Sent:
    now = caller.clock.now()
    doc = _new_message(caller, chat, pending, now)
    if not caller.store.messages.record(doc):
        rate_limits.release(caller, allowance)  # a concurrent retry stored it first
        retry = find_retry(caller, chat, pending)
        if retry is None:
            raise Conflict("a message with this clientMessageId is being stored")
        return retry
    try:
        counts = unread.for_new_message(chat, caller.id)
        seq = caller.store.chats.record_message(chat["_id"], preview(doc), now, counts)
    except BaseException:
        caller.store.messages.remove_unsent(doc["_id"])
        raise
    view = message_view(doc, caller.settings.edit_window_seconds)
    event_log.record(caller, chat["_id"], "new-message", {"message": view}, at=now, seq=seq)
    others = tuple(str(p) for p in chat["participants"] if p != caller.id)
    if others:
        caller.effects.append(NotifyOffline(str(chat["_id"]), str(doc["_id"]), others))
    return Sent(view, created=True, allowance=allowance)


def _new_message(caller: Caller, chat: Doc, pending: Draft, now: datetime) -> Doc:
    cmid = pending.client_message_id
    doc: Doc = {
        "_id": ObjectId(),
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
    return doc


def reporting_allowance(send: Callable[..., Sent]) -> Callable[..., Sent]:
    """Make a send's refusals report the caller's allowance left, as its successes do."""

    @functools.wraps(send)
    def wrapper(caller: Caller, *args: Any) -> Sent:
        try:
            return send(caller, *args)
        except DomainError as exc:
            exc.allowance = exc.allowance or rate_limits.peek(caller)
            raise

    return wrapper


@reporting_allowance
def send(caller: Caller, chat_id: str, body: dict[str, Any]) -> Sent:
    chat = load_member_chat(caller, chat_id)
    pending = draft(caller, chat, body)
    retry = find_retry(caller, chat, pending)
    if retry is not None:
        return retry
    return store_new(caller, chat, pending, rate_limits.reserve(caller))


def _parse_before(caller: Caller, chat: Doc, before: str) -> tuple[Doc | None, datetime | None]:
    """(the cursor message, or the cursor instant) that `before` names."""
    if len(before) == ID_LENGTH and "-" not in before:
        cursor = caller.store.messages.cursor(chat["_id"], parse_id(before, "before"))
        if cursor is None:
            raise ValidationFailed("before must name a message of this chat")
        return cursor, None
    try:
        moment = datetime.fromisoformat(before.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValidationFailed("before must be an ISO 8601 timestamp or a message id") from None
    return None, _utc_within_range(moment)


def _utc_within_range(moment: datetime) -> datetime:
    """The moment in UTC; one whose UTC form falls off datetime's range (year 1 at +01:00,
    year 9999 at -01:00) is before or after every message, so the range's edge serves."""
    try:
        return as_utc(moment)
    except OverflowError:
        return (datetime.min if moment.year == 1 else datetime.max).replace(tzinfo=UTC)


def history(
    caller: Caller, chat_id: str, page: int, limit: int, before: str | None
) -> dict[str, Any]:
    chat = load_member_chat(caller, chat_id)
    store = caller.store.messages
    cursor, instant = _parse_before(caller, chat, before) if before else (None, None)
    found = store.history_page(chat["_id"], (page - 1) * limit, limit, cursor, instant)
    if before:
        total = store.count_older(chat["_id"], cursor, instant)
    elif "messageCount" in chat:
        total = int(chat["messageCount"])
    else:  # a chat stored before the counter existed
        total = store.count_all(chat["_id"])
    window = caller.settings.edit_window_seconds
    return {
        "messages": [message_view(m, window) for m in found],
        "pagination": pagination(page, limit, total),
    }


def _load_message(caller: Caller, chat: Doc, message_id: str) -> Doc:
    return caller.store.messages.get(chat["_id"], parse_id(message_id, "messageId"))


def _refresh_preview(caller: Caller, message: Doc) -> None:
    caller.store.chats.refresh_preview(message["chatId"], message["_id"], preview(message))


def edit(caller: Caller, chat_id: str, message_id: str, body: dict[str, Any]) -> dict[str, Any]:
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
    content = clean_text(body["content"], max_length=caller.settings.max_message_length)
    if not caller.store.messages.edit(message["_id"], content, now):
        raise Conflict("a deleted message cannot be edited", code="MESSAGE_DELETED")
    message.update(content=content, editedAt=now)
    _refresh_preview(caller, message)
    view = message_view(message, caller.settings.edit_window_seconds)
    event_log.record(caller, chat["_id"], "message-edited", {"message": view}, at=now)
    return {"message": view}


def delete(caller: Caller, chat_id: str, message_id: str) -> dict[str, Any]:
    chat = member_or_admin_chat(caller, chat_id)
    message = _load_message(caller, chat, message_id)
    if message["senderId"] != caller.id and not caller.is_admin:
        raise Forbidden("only the author or an admin may delete a message", code="NOT_AUTHOR")
    if message.get("deletedAt") is None:
        now = caller.clock.now()
        before = caller.store.messages.tombstone(message["_id"], now)
        if before is not None:
            caller.store.chats.message_deleted(chat["_id"], unread.for_deleted(chat, before))
            caller.store.files.remove(attachment_file_ids(before.get("attachments", [])))
            message.update(deletedAt=now, content="", attachments=[])
            _refresh_preview(caller, message)
            deleted = {"messageId": message["_id"]}
            event_log.record(caller, chat["_id"], "message-deleted", deleted, at=now)
        else:
            message = _load_message(caller, chat, message_id)
    return {"message": message_view(message, caller.settings.edit_window_seconds)}


def attachment_file_ids(attachments: list[dict[str, Any]]) -> list[ObjectId]:
    return [a["fileId"] for a in attachments if isinstance(a.get("fileId"), ObjectId)]


def mark_read(caller: Caller, chat_id: str, body: dict[str, Any] | None) -> dict[str, int]:
    chat = load_member_chat(caller, chat_id)
    wanted = [parse_id(m, "messageIds item") for m in (body or {}).get("messageIds") or []]
    unread_now = unread.of(chat, caller.id)
    if not wanted and unread_now == 0:
        return {"modifiedCount": 0}  # nothing unread: nothing to look at
    store = caller.store
    candidates = store.messages.unread_ids(chat["_id"], caller.id, wanted, unread_now)
    if not candidates:
        return {"modifiedCount": 0}
    now = caller.clock.now()
    newly_read = store.messages.mark_read(chat["_id"], caller.id, candidates, now)
    if newly_read:
        store.chats.add_unread(chat["_id"], unread.for_read(caller.id, newly_read))
        event_log.record(
            caller,
            chat["_id"],
            "messages-read",
            {"userId": caller.id, "messageIds": candidates, "readAt": now},
            at=now,
        )
    return {"modifiedCount": newly_read}
