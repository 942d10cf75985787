"""Chats, and the counters kept on each chat document.

Besides what a client sees, a chat document holds `seq` (the last event number of the
chat), `messageCount` and `deletedCount` (messages stored and tombstoned, so that a
history page and the stats need no count over the messages), `unread.<userId>` (one
counter per participant, kept exact as `impl.domain.unread` explains), `archivedBy`, `sortAt`
(what the chat list orders by) and `dedupeKey` (unique: one direct chat per pair, one
purchase chat per request, buyer and seller).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from impl.errors import NotFound
from impl.store.base import ASC, DESC, Doc, Index, Table, primary

BY_ID = primary("chats")
BY_DEDUPE_KEY = Index("chats", [("dedupeKey", ASC)], {"unique": True})
# `_id` last: the list's sort breaks ties on it, and MongoDB can then walk the index alone
BY_PARTICIPANT = Index("chats", [("participants", ASC), ("sortAt", DESC), ("_id", DESC)])
INDEXES = [BY_DEDUPE_KEY, BY_PARTICIPANT]
NEWEST_FIRST = [("sortAt", DESC), ("_id", DESC)]
SEQ_ONLY = {"seq": True}


def unread_key(user_id: ObjectId) -> str:
    return f"unread.{user_id}"


def _counters(deltas: Mapping[ObjectId, int]) -> dict[str, int]:
    return {unread_key(user): delta for user, delta in deltas.items() if delta}


class Chats:
    def __init__(self, table: Table) -> None:
        self.table = table

    def get(self, chat_id: ObjectId) -> Doc:
        chat = self.table.find_one(BY_ID, {"_id": chat_id})
        if chat is None:
            raise NotFound("chat not found")
        return chat

    def add(self, doc: Doc) -> None:
        self.table.insert(doc)

    def find_deduplicated(self, dedupe_key: str) -> Doc | None:
        return self.table.find_one(BY_DEDUPE_KEY, {"dedupeKey": dedupe_key})

    def add_or_get(self, doc: Doc) -> tuple[Doc, bool]:
        """Store `doc` unless a chat with its `dedupeKey` exists: (chat, created).

        Race-safe through the unique index: an upsert that loses a race raises
        DuplicateKeyError, after which the winner is read back.
        """
        key = {"dedupeKey": doc["dedupeKey"]}
        for _ in range(3):
            try:
                stored = self.table.find_one_and_update(
                    BY_DEDUPE_KEY, key, {"$setOnInsert": doc}, upsert=True
                )
            except DuplicateKeyError:
                continue
            if stored is not None:
                return stored, stored["_id"] == doc["_id"]
        winner = self.table.find_one(BY_DEDUPE_KEY, key)
        if winner is None:
            raise NotFound("chat not found")
        return winner, False

    def page_for(
        self, user_id: ObjectId, kind: str | None, archived: bool, skip: int, limit: int
    ) -> tuple[int, list[Doc]]:
        """(how many, the page): the user's chats, archived ones or the others, newest first."""
        query: dict[str, Any] = {"participants": user_id}
        if kind:
            query["type"] = kind
        query["archivedBy"] = user_id if archived else {"$ne": user_id}
        total = self.table.count(BY_PARTICIPANT, query)
        found = self.table.find(BY_PARTICIPANT, query, NEWEST_FIRST, skip, limit)
        return total, found

    def all_of(self, user_id: ObjectId) -> list[Doc]:
        """Every chat of the user, with just the counters the stats need."""
        fields = {"archivedBy": True, "unread": True, "messageCount": True, "deletedCount": True}
        return self.table.find(BY_PARTICIPANT, {"participants": user_id}, projection=fields)

    def record_message(
        self, chat_id: ObjectId, preview: Doc, at: datetime, unread: Mapping[ObjectId, int]
    ) -> int:
        """Count a stored message in one atomic update: the preview, the order of the chat
        list, the message counter, every other participant's unread counter, and the event
        number of its `new-message`, which is returned."""
        chat = self.table.find_one_and_update(
            BY_ID,
            {"_id": chat_id},
            {
                "$set": {
                    "lastMessage": preview,
                    "lastMessageAt": at,
                    "sortAt": at,
                    "updatedAt": at,
                },
                "$inc": {"seq": 1, "messageCount": 1, **_counters(unread)},
            },
            projection=SEQ_ONLY,
        )
        if chat is None:
            raise NotFound("chat not found")
        seq: int = chat["seq"]
        return seq

    def next_seq(self, chat_id: ObjectId) -> int:
        chat = self.table.find_one_and_update(
            BY_ID, {"_id": chat_id}, {"$inc": {"seq": 1}}, projection=SEQ_ONLY
        )
        if chat is None:
            raise NotFound("chat not found")
        seq: int = chat["seq"]
        return seq

    def refresh_preview(self, chat_id: ObjectId, message_id: ObjectId, preview: Doc) -> None:
        """Update the preview if it shows that message."""
        self.table.update_one(
            BY_ID,
            {"_id": chat_id, "lastMessage._id": message_id},
            {"$set": {"lastMessage": preview}},
        )

    def message_deleted(self, chat_id: ObjectId, unread: Mapping[ObjectId, int]) -> None:
        update = {"$inc": {"deletedCount": 1, **_counters(unread)}}
        self.table.update_one(BY_ID, {"_id": chat_id}, update)

    def add_unread(self, chat_id: ObjectId, unread: Mapping[ObjectId, int]) -> None:
        counters = _counters(unread)
        if counters:
            self.table.update_one(BY_ID, {"_id": chat_id}, {"$inc": counters})

    def toggle_archived(self, chat_id: ObjectId, user_id: ObjectId) -> bool:
        """Flip the user's archive flag; the new state."""
        pulled = self.table.update_one(
            BY_ID, {"_id": chat_id, "archivedBy": user_id}, {"$pull": {"archivedBy": user_id}}
        )
        if pulled.modified:
            return False
        self.table.update_one(BY_ID, {"_id": chat_id}, {"$addToSet": {"archivedBy": user_id}})
        return True

    def set_archived(self, chat_id: ObjectId, user_id: ObjectId, archived: bool) -> None:
        op = "$addToSet" if archived else "$pull"
        self.table.update_one(BY_ID, {"_id": chat_id}, {op: {"archivedBy": user_id}})

    def add_participant(
        self, chat_id: ObjectId, user_id: ObjectId, unread: int, at: datetime
    ) -> Doc | None:
        """The chat with `user_id` added, or None when they were in it already."""
        return self.table.find_one_and_update(
            BY_ID,
            {"_id": chat_id, "participants": {"$ne": user_id}},
            {
                "$push": {"participants": user_id},
                "$set": {"updatedAt": at, unread_key(user_id): unread},
                "$inc": {"seq": 1},
            },
        )

    def remove_participant(self, chat_id: ObjectId, user_id: ObjectId, at: datetime) -> Doc | None:
        """The chat without `user_id`, or None when they were not in it."""
        return self.table.find_one_and_update(
            BY_ID,
            {"_id": chat_id, "participants": user_id},
            {
                "$pull": {"participants": user_id, "archivedBy": user_id},
                "$set": {"updatedAt": at},
                "$unset": {unread_key(user_id): ""},
                "$inc": {"seq": 1},
            },
        )
