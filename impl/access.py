"""Finding a chat and deciding whether the caller may see it."""

from __future__ import annotations

from impl.context import Caller
from impl.errors import not_participant
from impl.store import Doc, parse_id


def load_chat(caller: Caller, chat_id: str) -> Doc:
    return caller.store.get(caller.store.chats, {"_id": parse_id(chat_id, "chat id")}, "chat")


def load_member_chat(caller: Caller, chat_id: str) -> Doc:
    """The chat, if the caller is one of its participants (403 `NOT_PARTICIPANT` if not)."""
    chat = load_chat(caller, chat_id)
    if caller.id not in chat["participants"]:
        raise not_participant()
    return chat
