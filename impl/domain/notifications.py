"""Out-of-band notifications for participants who had no connected socket when a message
arrived. Kept 90 days (a TTL index, and the same horizon applied when reading, so the
dev clock moves it too).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId

from impl.domain.effects import NotifyOffline
from impl.domain.input_rules import parse_id
from impl.domain.presenters import notification_view, pagination
from impl.domain.services import Caller, Services


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
    services.store.notifications.add(docs)


def _horizon(caller: Caller) -> datetime:
    """Older notifications are gone (the TTL index), also on the dev clock."""
    return caller.clock.now() - timedelta(seconds=caller.settings.notification_retention_seconds)


def list_for(caller: Caller, page: int, limit: int, unread: bool) -> dict[str, Any]:
    skip = (page - 1) * limit
    store = caller.store.notifications
    total, found = store.page_for(caller.id, _horizon(caller), unread, skip, limit)
    return {
        "notifications": [notification_view(n) for n in found],
        "pagination": pagination(page, limit, total),
    }


def mark_read(caller: Caller, body: dict[str, Any] | None) -> dict[str, int]:
    wanted = [parse_id(i, "ids item") for i in (body or {}).get("ids") or []]
    changed = caller.store.notifications.mark_read(caller.id, _horizon(caller), wanted)
    return {"modifiedCount": changed}
