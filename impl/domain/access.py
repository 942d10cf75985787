"""Finding a chat and deciding who may act on it: the one participant check that REST
handlers and Socket.IO handlers share, and its "or an admin" variant."""

from __future__ import annotations

from bson import ObjectId

from impl.domain.input_rules import parse_id
from impl.domain.services import Caller
from impl.errors import Unauthorized, not_participant
from impl.store import Doc, Store


def active_user(store: Store, user_id: ObjectId) -> Doc:
    user = store.users.get(user_id)
    if user is None:
        raise Unauthorized("token names an unknown user")
    if user.get("status") == "banned":
        raise Unauthorized("this user is banned")
    return user


def member_chat(store: Store, chat_id: ObjectId, user_id: ObjectId) -> Doc:
    """The chat, if `user_id` is one of its participants (404 / 403 `NOT_PARTICIPANT`)."""
    chat = store.chats.get(chat_id)
    if user_id not in chat["participants"]:
        raise not_participant()
    return chat


def load_member_chat(caller: Caller, chat_id: str) -> Doc:
    """The chat, if the caller is one of its participants."""
    return member_chat(caller.store, parse_id(chat_id, "chat id"), caller.id)


def member_or_admin_chat(caller: Caller, chat_id: str) -> Doc:
    """The chat, if the caller is one of its participants or an admin."""
    chat = caller.store.chats.get(parse_id(chat_id, "chat id"))
    if caller.id not in chat["participants"] and not caller.is_admin:
        raise not_participant()
    return chat
