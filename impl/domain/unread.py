"""Unread counters: one integer per participant on the chat document (`unread.<userId>`),
kept exact by tying every change to a single-document transition of one message.

- a message is stored: +1 for every other participant;
- messages are marked read: -n, where n is `update_many`'s modified count, which is exactly
  the number of messages whose read transition happened (not deleted, not yet read by the
  reader, checked atomically per message);
- a message is deleted: -1 for each other participant who had not read it, taken from the
  message as it was at the instant of the delete (`find_one_and_update`, document before);
- a participant joins: their counter is counted from the messages once.

This module decides the deltas; `impl.store.chats` applies them in the same atomic
update as the rest of the change where there is one.

A read and a delete of the same message meet in that one message document, so the message
is subtracted once at most. Between a message's insert and its +1 a fast reader can
subtract first; views clamp at 0 and the counter settles exact.
"""

from __future__ import annotations

from bson import ObjectId

from impl.store import Doc


def of(chat: Doc, user_id: ObjectId) -> int:
    return max(0, int(chat.get("unread", {}).get(str(user_id), 0)))


def initial(participants: list[ObjectId]) -> dict[str, int]:
    return {str(p): 0 for p in participants}


def for_new_message(chat: Doc, sender: ObjectId) -> dict[ObjectId, int]:
    """+1 for every participant but the sender."""
    return {p: 1 for p in chat["participants"] if p != sender}


def for_read(reader: ObjectId, newly_read: int) -> dict[ObjectId, int]:
    return {reader: -newly_read}


def for_deleted(chat: Doc, message_before: Doc) -> dict[ObjectId, int]:
    """-1 for each other participant who had not read the message when it was deleted."""
    had_read = {r["userId"] for r in message_before.get("readBy", [])}
    return {
        p: -1 for p in chat["participants"] if p != message_before["senderId"] and p not in had_read
    }
