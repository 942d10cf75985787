"""Unread counters: one integer per participant on the chat document (`unread.<userId>`),
kept exact by tying every change to a single-document transition of one message.

- a message is stored: +1 for every other participant;
- messages are marked read: -n, where n is `update_many`'s modified count, which is exactly
  the number of messages whose read transition happened (not deleted, not yet read by the
  reader, checked atomically per message);
- a message is deleted: -1 for each other participant who had not read it, taken from the
  message as it was at the instant of the delete (`find_one_and_update`, document before);
- a participant joins: their counter is counted from the messages once.

A read and a delete of the same message meet in that one message document, so the message
is subtracted once at most. Between a message's insert and its +1 a fast reader can
subtract first; views clamp at 0 and the counter settles exact. (With the embedded store
requests run one at a time, so not even that window exists.)
"""

from __future__ import annotations

from typing import Any

from bson import ObjectId

from impl.store import Doc, Store


def key(user_id: ObjectId) -> str:
    return f"unread.{user_id}"


def of(chat: Doc, user_id: ObjectId) -> int:
    return max(0, int(chat.get("unread", {}).get(str(user_id), 0)))


def initial(participants: list[ObjectId]) -> dict[str, int]:
    return {str(p): 0 for p in participants}


def for_new_message(chat: Doc, sender: ObjectId) -> dict[str, int]:
    """The `$inc` that a message from `sender` makes."""
    return {key(p): 1 for p in chat["participants"] if p != sender}


def read(store: Store, chat_id: ObjectId, reader: ObjectId, newly_read: int) -> None:
    if newly_read:
        store.chats.update_one({"_id": chat_id}, {"$inc": {key(reader): -newly_read}})


def deleted(store: Store, chat: Doc, message_before: Doc) -> None:
    had_read = {r["userId"] for r in message_before.get("readBy", [])}
    owed = {
        key(p): -1
        for p in chat["participants"]
        if p != message_before["senderId"] and p not in had_read
    }
    if owed:
        store.chats.update_one({"_id": chat["_id"]}, {"$inc": owed})


def recount(store: Store, chat_id: ObjectId, user_id: ObjectId) -> int:
    """Count from the messages: what a new participant starts with."""
    query: dict[str, Any] = {
        "chatId": chat_id,
        "senderId": {"$ne": user_id},
        "deletedAt": None,
        "readBy.userId": {"$ne": user_id},
    }
    return store.messages.count_documents(query)
