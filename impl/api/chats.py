"""Handlers of the `chats` tag."""

from __future__ import annotations

from typing import Any

from impl.api import Envelope, Response, invoke, ok
from impl.domain import chats


def opened(result: chats.Opened) -> Envelope:
    """201 for a chat this call created, 200 for one that already existed."""
    return ok({"chat": result.chat}, 201 if result.created else 200)


async def create_chat(body: dict[str, Any]) -> Response:
    return await invoke(chats.create, body, answer=opened)


async def list_chats(
    page: int = 1, limit: int = 20, type_: str | None = None, archived: bool = False
) -> Response:
    return await invoke(chats.list_for, page, limit, type_, archived)


async def create_purchase_request_chat(body: dict[str, Any]) -> Response:
    return await invoke(chats.create_for_purchase, body, answer=opened)


async def create_support_chat(body: dict[str, Any] | None = None) -> Response:
    return await invoke(chats.create_support, body, answer=opened)


async def get_chat_stats() -> Response:
    return await invoke(chats.stats)


async def get_chat_config() -> Response:
    return await invoke(chats.config)


async def get_chat_info(id_: str) -> Response:
    return await invoke(chats.info, id_)


async def archive_chat(id_: str, body: dict[str, Any] | None = None) -> Response:
    return await invoke(chats.archive, id_, body)


async def add_participant(id_: str, body: dict[str, Any]) -> Response:
    return await invoke(chats.add_participant, id_, body)


async def remove_participant(id_: str, participant_id: str) -> Response:
    return await invoke(chats.remove_participant, id_, participant_id)
