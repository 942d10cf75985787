"""Notifications for participants who were offline, newest first, kept 90 days (TTL)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bson import ObjectId

from impl.settings import Settings
from impl.store.base import ASC, DESC, Doc, Index, Table

# `_id` last: the list's sort breaks ties on it
BY_USER = Index("notifications", [("userId", ASC), ("createdAt", DESC), ("_id", DESC)])
NEWEST_FIRST = [("createdAt", DESC), ("_id", DESC)]


def indexes(settings: Settings) -> list[Index]:
    expiry = {"expireAfterSeconds": settings.notification_retention_seconds}
    return [BY_USER, Index("notifications", [("createdAt", ASC)], expiry)]


def _kept(user_id: ObjectId, horizon: datetime) -> dict[str, Any]:
    return {"userId": user_id, "createdAt": {"$gt": horizon}}


class Notifications:
    def __init__(self, table: Table) -> None:
        self.table = table

    def add(self, docs: list[Doc]) -> None:
        if docs:
            self.table.insert_many(docs)

    def page_for(
        self, user_id: ObjectId, horizon: datetime, unread_only: bool, skip: int, limit: int
    ) -> tuple[int, list[Doc]]:
        query = _kept(user_id, horizon)
        if unread_only:
            query["read"] = False
        total = self.table.count(BY_USER, query)
        return total, self.table.find(BY_USER, query, NEWEST_FIRST, skip, limit)

    def mark_read(self, user_id: ObjectId, horizon: datetime, ids: Sequence[ObjectId]) -> int:
        query = {**_kept(user_id, horizon), "read": False}
        if ids:
            query["_id"] = {"$in": list(ids)}
        return self.table.update_many(BY_USER, query, {"$set": {"read": True}}).modified
