"""The numbered event log of each chat, kept for replay (`GET /api/chat/{id}/events`).

An event's `seq` is allocated on the chat document (see `chats`), in the same atomic
update as the change it reports wherever one exists; the log entry is then written
under that number. Entries expire with a TTL index after the retention period.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bson import ObjectId

from impl.settings import Settings
from impl.store.base import ASC, Doc, Index, Table

BY_CHAT = Index("events", [("chatId", ASC), ("seq", ASC)])


def indexes(settings: Settings) -> list[Index]:
    expiry = {"expireAfterSeconds": settings.event_retention_seconds}
    return [BY_CHAT, Index("events", [("createdAt", ASC)], expiry)]


class EventLog:
    def __init__(self, table: Table) -> None:
        self.table = table

    def append(
        self, chat_id: ObjectId, seq: int, event: str, payload: dict[str, Any], at: datetime
    ) -> None:
        doc = {"chatId": chat_id, "seq": seq, "event": event, "payload": payload, "createdAt": at}
        self.table.insert(doc)

    def first_kept(self, chat_id: ObjectId, horizon: datetime) -> int | None:
        """The lowest `seq` of the chat still kept (younger than `horizon`)."""
        query = {"chatId": chat_id, "createdAt": {"$gt": horizon}}
        oldest = self.table.find_one(BY_CHAT, query, {"seq": True}, sort=[("seq", ASC)])
        return None if oldest is None else int(oldest["seq"])

    def after(self, chat_id: ObjectId, horizon: datetime, after_seq: int, limit: int) -> list[Doc]:
        query = {"chatId": chat_id, "createdAt": {"$gt": horizon}, "seq": {"$gt": after_seq}}
        return self.table.find(BY_CHAT, query, [("seq", ASC)], limit=limit)
