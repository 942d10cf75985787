"""Chat events: numbered per chat, kept for replay, then broadcast.

`record` gives an event the chat's next `seq` (an atomic `$inc` on the chat document,
made together with the change itself where the store can), stores it, and queues its
broadcast on the caller; `replay` serves `GET /api/chat/{id}/events`. `user-typing` is
ephemeral and never passes through here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId

from impl.domain.access import load_member_chat
from impl.domain.effects import Emit, chat_room
from impl.domain.presenters import jsonable
from impl.domain.services import Caller
from impl.errors import Gone

REPLAYABLE = (
    "new-message",
    "message-edited",
    "message-deleted",
    "messages-read",
    "participants-added",
    "participant-removed",
)
APPEND_ATTEMPTS = 3


def record(
    caller: Caller,
    chat_id: ObjectId,
    event: str,
    payload: dict[str, Any],
    at: datetime | None = None,
    seq: int | None = None,
) -> dict[str, Any]:
    """Number, store and queue one event of `chat-<chatId>`; returns the broadcast payload.

    `at` is the instant of the change the event reports (a message's `deletedAt`, ...), so
    that a client replaying `createdAt` gets the very timestamp a fresh fetch shows. `seq`
    is given when the change's own update allocated it. Once a `seq` is taken, its entry
    must be written (a gap would make replay answer 410 for good), so a failed write is
    tried again before the error is let through.
    """
    if event not in REPLAYABLE:
        raise ValueError(f"{event} is not a replayable event")
    if seq is None:
        seq = caller.store.chats.next_seq(chat_id)
    body: dict[str, Any] = jsonable({"chatId": chat_id, "seq": seq, **payload})
    moment = at or caller.clock.now()
    for attempt in range(APPEND_ATTEMPTS):
        try:
            caller.store.event_log.append(chat_id, seq, event, body, moment)
            break
        except Exception:
            if attempt == APPEND_ATTEMPTS - 1:
                raise
    caller.effects.append(Emit(chat_room(chat_id), event, body))
    return body


def replay(caller: Caller, chat_id: str, after_seq: int, limit: int) -> dict[str, Any]:
    """The chat's kept events after `after_seq`, oldest first, for one of its participants;
    410 when some of them are no longer kept."""
    chat = load_member_chat(caller, chat_id)
    store = caller.store.event_log
    latest = int(chat.get("seq", 0))
    horizon = caller.clock.now() - timedelta(seconds=caller.settings.event_retention_seconds)
    if after_seq < latest:
        oldest = store.first_kept(chat["_id"], horizon)
        first_kept = latest + 1 if oldest is None else oldest
        if after_seq + 1 < first_kept:
            raise Gone(
                f"events after seq {after_seq} are no longer kept; fetch the chat afresh",
                latestSeq=latest,
            )
    found = store.after(chat["_id"], horizon, after_seq, limit)
    events = [
        {"seq": e["seq"], "event": e["event"], "payload": e["payload"], "createdAt": e["createdAt"]}
        for e in found
    ]
    return {"events": jsonable(events), "latestSeq": latest}
