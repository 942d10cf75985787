"""Handlers of the `events` tag."""

from __future__ import annotations

from impl.api import Response, invoke
from impl.domain import event_log
from impl.domain.access import load_member_chat
from impl.reply import Reply
from impl.services import Caller


def _replay(caller: Caller, chat_id: str, after_seq: int, limit: int) -> Reply:
    return Reply(event_log.replay(caller, load_member_chat(caller, chat_id), after_seq, limit))


async def list_chat_events(id_: str, after_seq: int = 0, limit: int = 20) -> Response:
    return await invoke(_replay, id_, after_seq, limit)
