"""Ordered, replayable events: `seq` per chat, and replay with `afterSeq`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conformance import expect
from conformance.check import Check
from conformance.registry import rule
from conformance.sockets import Live
from conformance.specs import asyncapi, operation
from conformance.world import CLOCK, Actor

REPLAY = operation("get", "/api/chat/{id}/events")
RETENTION_S = 7 * 24 * 3600
# each step of `busy_chat` and the event it causes
STEPS = (
    "new-message",
    "message-edited",
    "messages-read",
    "message-deleted",
    "participants-added",
    "participant-removed",
)


@dataclass
class Busy:
    chat_id: str
    member: Actor
    watcher: Live


async def busy_chat(t: Check) -> Busy:
    """A chat in which one of each replayable event happens, watched by a participant's
    socket that joined its room first."""
    ann, ben, cat = await t.users(3)
    chat_id = (await ann.group(ben))["_id"]
    watcher = await t.watching(ben, chat_id)
    message = await ann.sent(chat_id, "hello")
    path = f"/api/chat/{chat_id}/messages/{message['_id']}"
    expect.status(await ann.put(path, json={"content": "hello again"}), 200)
    expect.status(await ben.mark_read(chat_id, {"messageIds": [message["_id"]]}), 200)
    expect.status(await ann.delete(path), 200)
    expect.status(await ann.post(f"/api/chat/{chat_id}/participants", json={"userId": cat.id}), 200)
    expect.status(await ann.delete(f"/api/chat/{chat_id}/participants/{cat.id}"), 200)
    return Busy(chat_id, ben, watcher)


async def live_events(live: Live, chat_id: str) -> list[tuple[str, Any]]:
    found = []
    for name in STEPS:
        found.append(
            (
                name,
                await live.wait(name, lambda p: isinstance(p, dict) and p.get("chatId") == chat_id),
            )
        )
    return found


@rule(
    "events.seq.order",
    "Every event of chat-<id> but user-typing carries seq: 1 for the chat's first event, "
    "then one more for each (none missing, none repeated)",
    asyncapi("/info", "**Ordering and replay.**"),
)
async def seq_order(t: Check) -> None:
    busy = await busy_chat(t)
    seqs = [
        (name, payload.get("seq"))
        for name, payload in await live_events(busy.watcher, busy.chat_id)
    ]
    expect.equal(
        seqs,
        [(name, n) for n, name in enumerate(STEPS, 1)],
        "(event, seq) in the order they were caused",
    )


@rule(
    "events.replay.matches",
    "GET /api/chat/{id}/events?afterSeq=N returns the events after N, oldest first, as they "
    "were broadcast (seq included), and latestSeq",
    REPLAY,
)
async def replay_matches(t: Check) -> None:
    busy = await busy_chat(t)
    live = await live_events(busy.watcher, busy.chat_id)
    outsider = await t.user()
    path = f"/api/chat/{busy.chat_id}/events"
    expect.problem(await outsider.get(path), 403, "NOT_PARTICIPANT")
    data = expect.status(await busy.member.get(path), 200).data
    expect.equal(data["latestSeq"], len(STEPS), "latestSeq")
    expect.equal(
        [(e["event"], e["payload"]) for e in data["events"]],
        live,
        "the replay vs what the room got",
    )
    later = expect.status(await busy.member.get(path, params={"afterSeq": 3}), 200)
    expect.equal([e["seq"] for e in later.data["events"]], [4, 5, 6], "seq after afterSeq=3")


@rule(
    "events.replay.expired",
    "Asking for events older than the 7 days they are kept is 410 RESYNC_REQUIRED with latestSeq",
    REPLAY,
    needs=(CLOCK,),
    clock_order=2,
)
async def replay_expired(t: Check) -> None:
    (ann, ben), chat = await t.chat_of(2)
    await ann.sent(chat["_id"], "long ago")
    await t.advance(RETENTION_S + 3600)
    await ann.sent(chat["_id"], "today")
    gone = expect.problem(
        await ben.get(f"/api/chat/{chat['_id']}/events", params={"afterSeq": 0}),
        410,
        "RESYNC_REQUIRED",
    )
    expect.equal(gone.get("latestSeq"), 2, "the problem's latestSeq")
    recent = expect.status(
        await ben.get(f"/api/chat/{chat['_id']}/events", params={"afterSeq": 1}), 200
    )
    expect.equal([e["seq"] for e in recent.data["events"]], [2], "the events still kept")
