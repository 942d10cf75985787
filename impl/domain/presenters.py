"""Stored documents as the JSON the spec describes: ids as hex strings, times as ISO 8601.

Stored fields a client must not see (dedupe keys, per-user flags, counters) are dropped
here, and the caller-specific fields (`unreadCount`, `archived`) are added.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId

from impl.clock import isoformat
from impl.domain import unread
from impl.store import Doc

CHAT_FIELDS = (
    "_id",
    "type",
    "title",
    "participants",
    "createdBy",
    "purchaseRequestId",
    "metadata",
    "lastMessage",
    "lastMessageAt",
    "createdAt",
    "updatedAt",
)
MESSAGE_FIELDS = (
    "_id",
    "chatId",
    "senderId",
    "content",
    "type",
    "replyToMessageId",
    "metadata",
    "clientMessageId",
    "attachments",
    "readBy",
    "createdAt",
    "editedAt",
    "deletedAt",
)


_AS_IS = frozenset({str, int, float, bool, type(None)})


def jsonable(value: Any) -> Any:
    """`value` with ObjectIds and datetimes as the strings the contract shows."""
    kind = type(value)  # the exact types stored documents hold, decided without isinstance
    if kind in _AS_IS:
        return value
    if kind is ObjectId:
        return str(value)
    if kind is dict:
        return {k: jsonable(v) for k, v in value.items()}
    if kind is list:
        return [jsonable(v) for v in value]
    return _jsonable_any(value)


def _jsonable_any(value: Any) -> Any:
    if isinstance(value, ObjectId):
        return str(value)
    if isinstance(value, datetime):
        return isoformat(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def pick(doc: Doc, fields: tuple[str, ...]) -> dict[str, Any]:
    return {f: jsonable(doc[f]) for f in fields if doc.get(f) is not None}


def chat_view(doc: Doc, viewer: ObjectId) -> dict[str, Any]:
    view = pick(doc, CHAT_FIELDS)
    view.setdefault("participants", [])
    view["unreadCount"] = unread.of(doc, viewer)
    view["archived"] = viewer in doc.get("archivedBy", [])
    return view


def attachment_url(chat_id: ObjectId, file_id: ObjectId) -> str:
    """Where the contract serves an attachment's bytes (to the chat's participants)."""
    return f"/api/chat/{chat_id}/attachments/{file_id}"


def attachment_view(chat_id: ObjectId, stored: Doc) -> dict[str, Any]:
    view = pick(stored, ("fileId", "filename", "mimeType", "size"))
    view["url"] = attachment_url(chat_id, stored["fileId"])
    return view


def message_view(doc: Doc, edit_window_seconds: int) -> dict[str, Any]:
    view = pick(doc, MESSAGE_FIELDS)
    view["attachments"] = [attachment_view(doc["chatId"], a) for a in doc.get("attachments", [])]
    view.setdefault("readBy", [])
    view["editableUntil"] = isoformat(doc["createdAt"] + timedelta(seconds=edit_window_seconds))
    return view


def user_view(doc: Doc) -> dict[str, Any]:
    return pick(doc, ("_id", "name", "email", "role", "status", "createdAt"))


def user_summary(doc: Doc) -> dict[str, Any]:
    return pick(doc, ("_id", "name", "role"))


def notification_view(doc: Doc) -> dict[str, Any]:
    view = pick(doc, ("_id", "userId", "type", "chatId", "messageId", "createdAt"))
    view["read"] = bool(doc.get("read"))
    return view


def pagination(page: int, limit: int, total: int) -> dict[str, int]:
    return {"page": page, "limit": limit, "total": total, "pages": -(-total // limit)}
