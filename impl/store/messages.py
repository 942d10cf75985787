"""Messages: stored once, edited or tombstoned in place, paged newest first by
(`createdAt`, `_id`), read receipts pushed onto `readBy`.

`clientKey` (chat, sender and `clientMessageId`) is unique where present, which makes a
retried send find its original instead of storing a duplicate.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bson import ObjectId

from impl.errors import NotFound
from impl.store.base import ASC, DESC, Doc, Index, Table, primary

BY_ID = primary("messages")
BY_CHAT = Index("messages", [("chatId", ASC), ("createdAt", DESC), ("_id", DESC)])
# sparse: only sends with a clientMessageId carry a key (and pay for the check)
BY_CLIENT_KEY = Index("messages", [("clientKey", ASC)], {"unique": True, "sparse": True})
INDEXES = [BY_CHAT, BY_CLIENT_KEY]
NEWEST_FIRST = [("createdAt", DESC), ("_id", DESC)]


def _older_than(cursor: Doc) -> dict[str, Any]:
    at = cursor["createdAt"]
    return {"$or": [{"createdAt": {"$lt": at}}, {"createdAt": at, "_id": {"$lt": cursor["_id"]}}]}


def _unread_by(chat_id: ObjectId, reader: ObjectId) -> dict[str, Any]:
    return {
        "chatId": chat_id,
        "senderId": {"$ne": reader},
        "deletedAt": None,
        "readBy.userId": {"$ne": reader},
    }


class Messages:
    def __init__(self, table: Table) -> None:
        self.table = table

    def get(self, chat_id: ObjectId, message_id: ObjectId) -> Doc:
        message = self.table.find_one(BY_ID, {"_id": message_id, "chatId": chat_id})
        if message is None:
            raise NotFound("message not found")
        return message

    def exists(self, chat_id: ObjectId, message_id: ObjectId) -> bool:
        query = {"_id": message_id, "chatId": chat_id}
        return self.table.find_one(BY_ID, query, {"_id": True}) is not None

    def cursor(self, chat_id: ObjectId, message_id: ObjectId) -> Doc | None:
        """Where a page `before` that message starts, if it is one of the chat's."""
        query = {"_id": message_id, "chatId": chat_id}
        return self.table.find_one(BY_ID, query, {"createdAt": True})

    def by_client_key(self, key: str) -> Doc | None:
        return self.table.find_one(BY_CLIENT_KEY, {"clientKey": key})

    def record(self, doc: Doc) -> bool:
        """Store a new message; False when its `clientKey` is taken (a concurrent retry)."""
        return self.table.insert(doc)

    def remove_unsent(self, message_id: ObjectId) -> None:
        """Remove a message whose send could not complete (nobody has seen it)."""
        self.table.delete_many(BY_ID, {"_id": message_id})

    def history_page(
        self,
        chat_id: ObjectId,
        skip: int,
        limit: int,
        before_id: Doc | None = None,
        before_time: datetime | None = None,
    ) -> list[Doc]:
        """Newest first; `before_id` (a message of the chat) or `before_time` bound it."""
        query = self._older(chat_id, before_id, before_time)
        return self.table.find(BY_CHAT, query, NEWEST_FIRST, skip, limit)

    def count_older(
        self, chat_id: ObjectId, before_id: Doc | None, before_time: datetime | None
    ) -> int:
        return self.table.count(BY_CHAT, self._older(chat_id, before_id, before_time))

    def count_all(self, chat_id: ObjectId) -> int:
        """Only for chats stored before `messageCount` existed."""
        return self.table.count(BY_CHAT, {"chatId": chat_id})

    @staticmethod
    def _older(
        chat_id: ObjectId, before_id: Doc | None, before_time: datetime | None
    ) -> dict[str, Any]:
        query: dict[str, Any] = {"chatId": chat_id}
        if before_id is not None:
            query.update(_older_than(before_id))
        elif before_time is not None:
            query["createdAt"] = {"$lt": before_time}
        return query

    def edit(self, message_id: ObjectId, content: str, at: datetime) -> bool:
        """False when the message was deleted meanwhile."""
        changed = self.table.update_one(
            BY_ID,
            {"_id": message_id, "deletedAt": None},
            {"$set": {"content": content, "editedAt": at}},
        )
        return changed.matched > 0

    def tombstone(self, message_id: ObjectId, at: datetime) -> Doc | None:
        """Delete softly; the message as it was just before, or None if it was deleted."""
        return self.table.find_one_and_update(
            BY_ID,
            {"_id": message_id, "deletedAt": None},
            {"$set": {"deletedAt": at, "content": "", "attachments": []}},
            before=True,
        )

    def unread_ids(
        self, chat_id: ObjectId, reader: ObjectId, among: Sequence[ObjectId], at_most: int
    ) -> list[ObjectId]:
        """Messages of others the reader has not read: of `among`, or else the newest
        `at_most` (the reader's unread counter), so the walk stops where the unread end."""
        query = _unread_by(chat_id, reader)
        if among:
            query["_id"] = {"$in": list(among)}
            found = self.table.find(BY_ID, query, projection={"_id": True})
        else:
            found = self.table.find(
                BY_CHAT, query, NEWEST_FIRST, limit=at_most, projection={"_id": True}
            )
        return [m["_id"] for m in found]

    def mark_read(
        self, chat_id: ObjectId, reader: ObjectId, ids: list[ObjectId], at: datetime
    ) -> int:
        """Push the receipt onto each message still unread; how many it reached."""
        query = {**_unread_by(chat_id, reader), "_id": {"$in": ids}}
        pushed = self.table.update_many(
            BY_ID, query, {"$push": {"readBy": {"userId": reader, "readAt": at}}}
        )
        return pushed.modified

    def count_unread(self, chat_id: ObjectId, reader: ObjectId) -> int:
        """Counted from the messages: what a participant who joins starts with."""
        return self.table.count(BY_CHAT, _unread_by(chat_id, reader))
