"""Conversation rules: who may be in a chat, dedupe of direct and purchase chats, the
support pool, listing with unread counts, per-user archive, group membership changes.

Unread counts live on the chat document; `impl.domain.unread` says how they stay exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bson import ObjectId

from impl.domain import event_log, messages, rate_limits, unread
from impl.domain.access import load_member_chat, member_or_admin_chat
from impl.domain.effects import Emit, LeaveRoom, chat_room, user_room
from impl.domain.input_rules import clean_text, parse_id
from impl.domain.presenters import chat_view, pagination, user_summary
from impl.domain.services import Caller
from impl.errors import Forbidden, NotFound, ValidationFailed
from impl.store import Doc

SUPPORT_ROLES = ("support", "admin")


@dataclass(frozen=True)
class Opened:
    """A chat asked for: `created` by this call, or one that already existed (a direct or
    purchase chat is one per set of people, so asking again finds it)."""

    chat: dict[str, Any]
    created: bool


def view_for(caller: Caller, chat: Doc, viewer: ObjectId | None = None) -> dict[str, Any]:
    return chat_view(chat, caller.id if viewer is None else viewer)


def _new_chat(caller: Caller, kind: str, participants: list[ObjectId], **fields: Any) -> Doc:
    now = caller.clock.now()
    chat_id = ObjectId()
    doc: Doc = {
        "_id": chat_id,
        "type": kind,
        "participants": participants,
        "createdBy": caller.id,
        "archivedBy": [],
        "unread": unread.initial(participants),
        "seq": 0,
        "createdAt": now,
        "updatedAt": now,
        "sortAt": now,
        "dedupeKey": f"chat:{chat_id}",
    }
    doc.update({k: v for k, v in fields.items() if v is not None})
    return doc


def _require_users(caller: Caller, user_ids: list[ObjectId]) -> None:
    missing = caller.store.users.missing(user_ids)
    if missing:
        raise NotFound(f"user not found: {', '.join(str(u) for u in missing[:5])}")


def _stored(caller: Caller, doc: Doc, deduplicated: bool = False) -> Opened:
    """Store a new chat, taking one from the caller's allowance; a deduplicated chat that
    already exists is returned and uses none."""
    if deduplicated:
        existing = caller.store.chats.find_deduplicated(doc["dedupeKey"])
        if existing is not None:
            return Opened(view_for(caller, existing), created=False)
    allowance = rate_limits.reserve(caller, rate_limits.CHATS)
    try:
        if deduplicated:
            stored, created = caller.store.chats.add_or_get(doc)
        else:
            caller.store.chats.add(doc)
            stored, created = doc, True
    except BaseException:
        rate_limits.release(caller, allowance)
        raise
    if not created:  # a concurrent request stored it first
        rate_limits.release(caller, allowance)
    return Opened(view_for(caller, stored), created)


def create(caller: Caller, body: dict[str, Any]) -> Opened:
    kind = body.get("type", "direct")
    if kind != "group" and "title" in body:
        raise ValidationFailed("title is for group chats only; this chat is direct")
    others = [parse_id(p, "participant id") for p in body["participantIds"]]
    participants = list(dict.fromkeys([caller.id, *others]))
    if len(participants) < 2:
        raise ValidationFailed("a chat needs at least two distinct participants")
    if kind == "direct" and len(participants) != 2:
        raise ValidationFailed("a direct chat has exactly two participants")
    title = clean_text(body["title"], "title") if "title" in body else None
    _require_users(caller, participants)
    doc = _new_chat(caller, kind, participants, title=title, metadata=body.get("metadata"))
    if kind == "group":
        return _stored(caller, doc)
    doc["dedupeKey"] = "direct:" + ":".join(sorted(str(p) for p in participants))
    return _stored(caller, doc, deduplicated=True)


def create_for_purchase(caller: Caller, body: dict[str, Any]) -> Opened:
    seller = parse_id(body["sellerId"], "sellerId")
    request_id = parse_id(body["purchaseRequestId"], "purchaseRequestId")
    if seller == caller.id:
        raise ValidationFailed("the seller cannot be the caller")
    _require_users(caller, [seller])
    doc = _new_chat(
        caller,
        "direct",
        [caller.id, seller],
        purchaseRequestId=request_id,
        metadata=body.get("metadata"),
    )
    doc["dedupeKey"] = f"purchase:{request_id}:{caller.id}:{seller}"
    return _stored(caller, doc, deduplicated=True)


def create_support(caller: Caller, body: dict[str, Any] | None) -> Opened:
    body = body or {}
    subject = clean_text(body["subject"], "subject") if "subject" in body else None
    pool = caller.store.users.active_with_roles(SUPPORT_ROLES, exclude=caller.id)
    doc = _new_chat(caller, "support", [caller.id, *pool], title=subject or "Support request")
    if "initialMessage" not in body:
        return _stored(caller, doc)
    draft = messages.draft(caller, doc, {"content": body["initialMessage"]}, field="initialMessage")
    allowance = rate_limits.reserve(caller)
    try:
        opened = _stored(caller, doc)
    except BaseException:
        rate_limits.release(caller, allowance)
        raise
    messages.store_new(caller, doc, draft, allowance)
    return Opened(view_for(caller, caller.store.chats.get(doc["_id"])), opened.created)


def list_for(
    caller: Caller, page: int, limit: int, kind: str | None, archived: bool
) -> dict[str, Any]:
    skip = (page - 1) * limit
    total, found = caller.store.chats.page_for(caller.id, kind, archived, skip, limit)
    chats = [chat_view(c, caller.id) for c in found]
    return {"chats": chats, "pagination": pagination(page, limit, total)}


def stats(caller: Caller) -> dict[str, int]:
    mine = caller.store.chats.all_of(caller.id)
    total_messages = sum(c.get("messageCount", 0) - c.get("deletedCount", 0) for c in mine)
    return {
        "totalChats": len(mine),
        "archivedChats": sum(caller.id in c.get("archivedBy", []) for c in mine),
        "totalMessages": total_messages,
        "totalUnread": sum(unread.of(c, caller.id) for c in mine),
    }


def info(caller: Caller, chat_id: str) -> dict[str, Any]:
    chat = load_member_chat(caller, chat_id)
    users = caller.store.users.by_ids(chat["participants"])
    view = view_for(caller, chat)
    view["participants"] = [user_summary(users[p]) for p in chat["participants"] if p in users]
    view["unreadCounts"] = {str(p): unread.of(chat, p) for p in chat["participants"]}
    return {"chat": view}


def archive(caller: Caller, chat_id: str, body: dict[str, Any] | None) -> dict[str, Any]:
    chat = load_member_chat(caller, chat_id)
    wanted = (body or {}).get("archived")
    chats = caller.store.chats
    if wanted is None:
        wanted = chats.toggle_archived(chat["_id"], caller.id)
    else:
        chats.set_archived(chat["_id"], caller.id, wanted)
    return {"archived": wanted, "chat": view_for(caller, chats.get(chat["_id"]))}


def _managed_group(caller: Caller, chat_id: str) -> Doc:
    chat = member_or_admin_chat(caller, chat_id)
    if chat["type"] != "group":
        raise ValidationFailed("participants can be changed in group chats only")
    if chat["createdBy"] != caller.id and not caller.is_admin:
        raise Forbidden("only the chat's creator or an admin may change its participants")
    return chat


def add_participant(caller: Caller, chat_id: str, body: dict[str, Any]) -> dict[str, Any]:
    chat = _managed_group(caller, chat_id)
    user_id = parse_id(body["userId"], "userId")
    _require_users(caller, [user_id])
    starts_with = caller.store.messages.count_unread(chat["_id"], user_id)
    now = caller.clock.now()
    added = caller.store.chats.add_participant(chat["_id"], user_id, starts_with, now)
    if added is None:
        raise ValidationFailed("that user is already a participant", code="ALREADY_PARTICIPANT")
    chat = added
    as_seen_by_new_user = view_for(caller, chat, viewer=user_id)
    payload = event_log.record(
        caller,
        chat["_id"],
        "participants-added",
        {"userIds": [user_id], "chat": as_seen_by_new_user},
        at=now,
        seq=chat["seq"],
    )
    caller.effects.append(Emit(user_room(user_id), "participants-added", payload))
    return {"chat": view_for(caller, chat)}


def remove_participant(caller: Caller, chat_id: str, participant_id: str) -> dict[str, Any]:
    chat = _managed_group(caller, chat_id)
    user_id = parse_id(participant_id, "participantId")
    now = caller.clock.now()
    removed = caller.store.chats.remove_participant(chat["_id"], user_id, now)
    if removed is None:
        raise NotFound("that user is not a participant of this chat")
    removal = {"userId": user_id}
    event_log.record(
        caller, chat["_id"], "participant-removed", removal, at=now, seq=removed["seq"]
    )
    caller.effects.append(LeaveRoom(str(user_id), chat_room(chat["_id"])))
    return {"chat": view_for(caller, removed)}


def config(caller: Caller) -> dict[str, Any]:
    s = caller.settings
    return {
        "maxMessageLength": s.max_message_length,
        "editWindowSeconds": s.edit_window_seconds,
        "rateLimit": {
            "messages": s.rate_limit,
            "chats": s.chat_create_rate_limit,
            "windowSeconds": s.rate_window_seconds,
        },
        "upload": {"maxBytes": s.max_upload_bytes, "mimeTypes": list(s.mime_types)},
        "typing": {"throttleMs": s.typing_throttle_ms, "expiresInMs": s.typing_expires_ms},
    }
