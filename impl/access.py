"""Finding a chat and deciding whether a user may see it: the one participant check that
REST handlers and Socket.IO handlers share."""

from __future__ import annotations

from bson import ObjectId

from impl.context import Caller
from impl.errors import not_participant
from impl.store import Doc, Store, parse_id


def load_chat(caller: Caller, chat_id: str) -> Doc:
    return caller.store.get(caller.store.chats, {"_id": parse_id(chat_id, "chat id")}, "chat")


def member_chat(store: Store, chat_id: ObjectId, user_id: ObjectId) -> Doc:
    """The chat, if `user_id` is one of its participants (404 / 403 `NOT_PARTICIPANT`)."""
    chat = store.get(store.chats, {"_id": chat_id}, "chat")
    if user_id not in chat["participants"]:
        raise not_participant()
    return chat


def load_member_chat(caller: Caller, chat_id: str) -> Doc:
    """The chat, if the caller is one of its participants."""
    return member_chat(caller.store, parse_id(chat_id, "chat id"), caller.id)
