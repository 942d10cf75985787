"""Conversation rules: who may be in a chat, dedupe of direct and purchase chats, the
support pool, listing with unread counts, per-user archive, group membership changes.

Unread counts live on the chat document; `impl.unread` says how they stay exact.
"""

from __future__ import annotations

from typing import Any

from bson import ObjectId

from impl import events, messages, unread
from impl.access import load_chat, load_member_chat
from impl.context import Caller
from impl.effects import Emit, LeaveRoom, chat_room, user_room
from impl.errors import Forbidden, NotFound, ValidationFailed, not_participant
from impl.limits import check_metadata, clean_text
from impl.reply import Reply
from impl.store import Doc, parse_id
from impl.views import chat_view, pagination, user_summary

SUPPORT_ROLES = ("support", "admin")


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
    found = {u["_id"] for u in caller.store.users.find({"_id": {"$in": user_ids}}, {"_id": True})}
    missing = [str(u) for u in user_ids if u not in found]
    if missing:
        raise NotFound(f"user not found: {', '.join(missing[:5])}")


def _stored(caller: Caller, doc: Doc, key: dict[str, Any] | None = None) -> Reply:
    if key is None:
        caller.store.chats.insert_one(doc)
        stored, created = doc, True
    else:
        stored, created = caller.store.insert_or_get(caller.store.chats, key, doc)
    return Reply({"chat": view_for(caller, stored)}, 201 if created else 200)


def create(caller: Caller, body: dict[str, Any]) -> Reply:
    others = [parse_id(p, "participant id") for p in body["participantIds"]]
    participants = list(dict.fromkeys([caller.id, *others]))
    kind = body.get("type", "direct")
    if len(participants) < 2:
        raise ValidationFailed("a chat needs at least two distinct participants")
    if kind == "direct" and len(participants) != 2:
        raise ValidationFailed("a direct chat has exactly two participants")
    title = clean_text(body["title"], 200, "title") if "title" in body else None
    if "metadata" in body:
        check_metadata(body["metadata"])
    _require_users(caller, participants)
    doc = _new_chat(caller, kind, participants, title=title, metadata=body.get("metadata"))
    if kind == "group":
        return _stored(caller, doc)
    doc["dedupeKey"] = "direct:" + ":".join(sorted(str(p) for p in participants))
    return _stored(caller, doc, {"dedupeKey": doc["dedupeKey"]})


def create_for_purchase(caller: Caller, body: dict[str, Any]) -> Reply:
    seller = parse_id(body["sellerId"], "sellerId")
    request_id = parse_id(body["purchaseRequestId"], "purchaseRequestId")
    if seller == caller.id:
        raise ValidationFailed("the seller cannot be the caller")
    if "metadata" in body:
        check_metadata(body["metadata"])
    _require_users(caller, [seller])
    doc = _new_chat(
        caller,
        "direct",
        [caller.id, seller],
        purchaseRequestId=request_id,
        metadata=body.get("metadata"),
    )
    doc["dedupeKey"] = f"purchase:{request_id}:{caller.id}:{seller}"
    return _stored(caller, doc, {"dedupeKey": doc["dedupeKey"]})


def create_support(caller: Caller, body: dict[str, Any] | None) -> Reply:
    body = body or {}
    subject = clean_text(body["subject"], 200, "subject") if "subject" in body else None
    pool = caller.store.users.find(
        {"role": {"$in": list(SUPPORT_ROLES)}, "status": "active", "_id": {"$ne": caller.id}},
        {"_id": True},
    ).sort("_id", 1)
    participants = [caller.id, *(u["_id"] for u in pool)]
    doc = _new_chat(caller, "support", participants, title=subject or "Support request")
    if "initialMessage" not in body:
        return _stored(caller, doc)
    draft = messages.draft(caller, doc, {"content": body["initialMessage"]})
    allowance = messages.reserve_for(caller)
    caller.store.chats.insert_one(doc)
    messages.store_new(caller, doc, draft, allowance)
    return Reply({"chat": view_for(caller, load_chat(caller, str(doc["_id"])))}, 201)


def list_for(caller: Caller, page: int, limit: int, kind: str | None, archived: bool) -> Reply:
    query: dict[str, Any] = {"participants": caller.id}
    if kind:
        query["type"] = kind
    query["archivedBy"] = caller.id if archived else {"$ne": caller.id}
    newest = [("sortAt", -1), ("_id", -1)]
    total, found = caller.store.page(caller.store.chats, query, newest, page, limit)
    chats = [chat_view(c, caller.id) for c in found]
    return Reply({"chats": chats, "pagination": pagination(page, limit, total)})


def stats(caller: Caller) -> Reply:
    mine = list(
        caller.store.chats.find({"participants": caller.id}, {"archivedBy": True, "unread": True})
    )
    ids = [c["_id"] for c in mine]
    total_messages = caller.store.messages.count_documents(
        {"chatId": {"$in": ids}, "deletedAt": None}
    )
    return Reply(
        {
            "totalChats": len(mine),
            "archivedChats": sum(caller.id in c.get("archivedBy", []) for c in mine),
            "totalMessages": total_messages,
            "totalUnread": sum(unread.of(c, caller.id) for c in mine),
        }
    )


def info(caller: Caller, chat_id: str) -> Reply:
    chat = load_member_chat(caller, chat_id)
    users = {u["_id"]: u for u in caller.store.users.find({"_id": {"$in": chat["participants"]}})}
    view = view_for(caller, chat)
    view["participants"] = [user_summary(users[p]) for p in chat["participants"] if p in users]
    view["unreadCounts"] = {str(p): unread.of(chat, p) for p in chat["participants"]}
    return Reply({"chat": view})


def archive(caller: Caller, chat_id: str, body: dict[str, Any] | None) -> Reply:
    chat = load_member_chat(caller, chat_id)
    wanted = (body or {}).get("archived")
    chats = caller.store.chats
    if wanted is None:
        pulled = chats.update_one(
            {"_id": chat["_id"], "archivedBy": caller.id}, {"$pull": {"archivedBy": caller.id}}
        )
        wanted = pulled.modified_count == 0
    if wanted:
        chats.update_one({"_id": chat["_id"]}, {"$addToSet": {"archivedBy": caller.id}})
    else:
        chats.update_one({"_id": chat["_id"]}, {"$pull": {"archivedBy": caller.id}})
    return Reply({"archived": wanted, "chat": view_for(caller, load_chat(caller, chat_id))})


def _managed_group(caller: Caller, chat_id: str) -> Doc:
    chat = load_chat(caller, chat_id)
    if caller.id not in chat["participants"] and not caller.is_admin:
        raise not_participant()
    if chat["type"] != "group":
        raise ValidationFailed("participants can be changed in group chats only")
    if chat["createdBy"] != caller.id and not caller.is_admin:
        raise Forbidden("only the chat's creator or an admin may change its participants")
    return chat


def add_participant(caller: Caller, chat_id: str, body: dict[str, Any]) -> Reply:
    chat = _managed_group(caller, chat_id)
    user_id = parse_id(body["userId"], "userId")
    _require_users(caller, [user_id])
    starts_with = unread.recount(caller.store, chat["_id"], user_id)
    added = caller.store.chats.update_one(
        {"_id": chat["_id"], "participants": {"$ne": user_id}},
        {
            "$push": {"participants": user_id},
            "$set": {"updatedAt": caller.clock.now(), unread.key(user_id): starts_with},
        },
    )
    if added.modified_count == 0:
        raise ValidationFailed("that user is already a participant", code="ALREADY_PARTICIPANT")
    chat = load_chat(caller, chat_id)
    as_seen_by_new_user = view_for(caller, chat, viewer=user_id)
    payload = events.record(
        caller,
        chat["_id"],
        "participants-added",
        {"userIds": [user_id], "chat": as_seen_by_new_user},
    )
    caller.effects.append(Emit(user_room(user_id), "participants-added", payload))
    return Reply({"chat": view_for(caller, chat)})


def remove_participant(caller: Caller, chat_id: str, participant_id: str) -> Reply:
    chat = _managed_group(caller, chat_id)
    user_id = parse_id(participant_id, "participantId")
    removed = caller.store.chats.update_one(
        {"_id": chat["_id"], "participants": user_id},
        {
            "$pull": {"participants": user_id, "archivedBy": user_id},
            "$set": {"updatedAt": caller.clock.now()},
            "$unset": {unread.key(user_id): ""},
        },
    )
    if removed.modified_count == 0:
        raise NotFound("that user is not a participant of this chat")
    events.record(caller, chat["_id"], "participant-removed", {"userId": user_id})
    caller.effects.append(LeaveRoom(str(user_id), chat_room(chat["_id"])))
    return Reply({"chat": view_for(caller, load_chat(caller, chat_id))})


def config(caller: Caller) -> Reply:
    s = caller.settings
    return Reply(
        {
            "maxMessageLength": s.max_message_length,
            "editWindowSeconds": s.edit_window_seconds,
            "rateLimit": {"messages": s.rate_limit, "windowSeconds": s.rate_window_seconds},
            "upload": {"maxBytes": s.max_upload_bytes, "mimeTypes": list(s.mime_types)},
            "typing": {"throttleMs": s.typing_throttle_ms, "expiresInMs": s.typing_expires_ms},
        }
    )
