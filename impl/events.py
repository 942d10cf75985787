"""Chat events: numbered per chat, kept for replay, then broadcast.

`record` gives an event the chat's next `seq` (an atomic `$inc` on the chat document),
stores it, and queues its broadcast on the caller; `replay` serves
`GET /api/chat/{id}/events`. `user-typing` is ephemeral and never passes through here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, ReturnDocument

from impl.context import Caller
from impl.effects import Emit, chat_room
from impl.errors import Gone, NotFound
from impl.store import Doc, Store
from impl.views import jsonable

REPLAYABLE = (
    "new-message",
    "message-edited",
    "message-deleted",
    "messages-read",
    "participants-added",
    "participant-removed",
)


def next_seq(store: Store, chat_id: ObjectId) -> int:
    chat = store.chats.find_one_and_update(
        {"_id": chat_id},
        {"$inc": {"seq": 1}},
        projection={"seq": True},
        return_document=ReturnDocument.AFTER,
    )
    if chat is None:
        raise NotFound("chat not found")
    seq: int = chat["seq"]
    return seq


def record(
    caller: Caller,
    chat_id: ObjectId,
    event: str,
    payload: dict[str, Any],
    at: datetime | None = None,
) -> dict[str, Any]:
    """Number, store and queue one event of `chat-<chatId>`; returns the broadcast payload.

    `at` is the instant of the change the event reports (a message's `deletedAt`, ...), so
    that a client replaying `createdAt` gets the very timestamp a fresh fetch shows.
    """
    assert event in REPLAYABLE, event
    seq = next_seq(caller.store, chat_id)
    body: dict[str, Any] = jsonable({"chatId": chat_id, "seq": seq, **payload})
    caller.store.events.insert_one(
        {
            "chatId": chat_id,
            "seq": seq,
            "event": event,
            "payload": body,
            "createdAt": at or caller.clock.now(),
        }
    )
    caller.effects.append(Emit(chat_room(chat_id), event, body))
    return body


def replay(caller: Caller, chat: Doc, after_seq: int, limit: int) -> dict[str, Any]:
    store = caller.store
    latest = int(chat.get("seq", 0))
    horizon = caller.clock.now() - timedelta(seconds=caller.settings.event_retention_seconds)
    kept = {"chatId": chat["_id"], "createdAt": {"$gt": horizon}}
    if after_seq < latest:
        oldest = store.events.find_one(kept, sort=[("seq", ASCENDING)], projection={"seq": True})
        first_kept = oldest["seq"] if oldest else latest + 1
        if after_seq + 1 < first_kept:
            raise Gone(
                f"events after seq {after_seq} are no longer kept; fetch the chat afresh",
                latestSeq=latest,
            )
    found = (
        store.events.find({**kept, "seq": {"$gt": after_seq}}).sort("seq", ASCENDING).limit(limit)
    )
    events = [
        {"seq": e["seq"], "event": e["event"], "payload": e["payload"], "createdAt": e["createdAt"]}
        for e in found
    ]
    return {"events": jsonable(events), "latestSeq": latest}
