"""Out-of-band notifications for participants who had no connected socket when a message
arrived. Kept 90 days (a TTL index, and the same horizon applied when reading, so the
dev clock moves it too).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bson import ObjectId

from impl.context import Caller, Services
from impl.effects import NotifyOffline
from impl.reply import Reply
from impl.store import parse_id
from impl.views import notification_view, pagination


def create_for_offline(services: Services, effect: NotifyOffline, online: set[str]) -> None:
    now = services.clock.now()
    docs = [
        {
            "userId": ObjectId(user_id),
            "type": "chat_message",
            "chatId": ObjectId(effect.chat_id),
            "messageId": ObjectId(effect.message_id),
            "read": False,
            "createdAt": now,
        }
        for user_id in effect.user_ids
        if user_id not in online
    ]
    if docs:
        services.store.notifications.insert_many(docs)


def _mine(caller: Caller) -> dict[str, Any]:
    retention = timedelta(seconds=caller.settings.notification_retention_seconds)
    return {"userId": caller.id, "createdAt": {"$gt": caller.clock.now() - retention}}


def list_for(caller: Caller, page: int, limit: int, unread: bool) -> Reply:
    query = _mine(caller)
    if unread:
        query["read"] = False
    newest = [("createdAt", -1), ("_id", -1)]
    total, found = caller.store.page(caller.store.notifications, query, newest, page, limit)
    return Reply(
        {
            "notifications": [notification_view(n) for n in found],
            "pagination": pagination(page, limit, total),
        }
    )


def mark_read(caller: Caller, body: dict[str, Any] | None) -> Reply:
    query = {**_mine(caller), "read": False}
    wanted = (body or {}).get("ids") or []
    if wanted:
        query["_id"] = {"$in": [parse_id(i, "ids item") for i in wanted]}
    result = caller.store.notifications.update_many(query, {"$set": {"read": True}})
    return Reply({"modifiedCount": result.modified_count})
