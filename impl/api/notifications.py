"""Handlers of the `notifications` tag."""

from __future__ import annotations

from typing import Any

from impl.api import Response, invoke
from impl.domain import notifications


async def list_notifications(page: int = 1, limit: int = 20, unread: bool = False) -> Response:
    return await invoke(notifications.list_for, page, limit, unread)


async def mark_notifications_read(body: dict[str, Any] | None = None) -> Response:
    return await invoke(notifications.mark_read, body)
