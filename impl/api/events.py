"""Handlers of the `events` tag."""

from __future__ import annotations

from impl.api import Response, invoke
from impl.domain import event_log


async def list_chat_events(id_: str, after_seq: int = 0, limit: int = 20) -> Response:
    return await invoke(event_log.replay, id_, after_seq, limit)
