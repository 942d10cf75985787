"""Socket.IO: rooms joined on request, typing that reaches the room and not the typist,
acknowledgements for every client event."""

from __future__ import annotations

from typing import Any

from conformance import expect
from conformance.check import Check
from conformance.registry import rule
from conformance.sockets import Matcher
from conformance.specs import asyncapi
from conformance.trace import NotRun

# below this the throttle cannot be told from a slow round trip
SHORTEST_OBSERVABLE_THROTTLE_MS = 500


def typing_of(chat_id: str, user_id: str, is_typing: bool) -> Matcher:
    """Matches the user-typing payload of this typist, chat and state."""
    wanted = (chat_id, user_id, is_typing)

    def matches(payload: Any) -> bool:
        if not isinstance(payload, dict):
            return False
        return (payload.get("chatId"), payload.get("userId"), payload.get("isTyping")) == wanted

    return matches


@rule(
    "realtime.rooms.join-leave",
    "A participant's socket gets a chat's events only after join-chat-room (a chat id or "
    "{chatId}) and no longer after leave-chat-room; joining is per socket",
    asyncapi("/channels/chatRoom"),
)
async def join_leave(t: Check) -> None:
    (ann, ben), chat = await t.chat_of(2)
    chat_id = chat["_id"]
    by_id, by_object, idle = await t.live(ben), await t.live(ben), await t.live(ben)
    await by_id.join(chat_id)
    ack = await by_object.call("join-chat-room", {"chatId": chat_id})
    expect.equal(ack, {"success": True}, "the acknowledgement of join-chat-room {chatId}")
    await ann.sent(chat_id, "to the room")
    for live in (by_id, by_object):
        await live.wait(
            "new-message", lambda p: p.get("chatId") == chat_id, "a message to the room it joined"
        )
    await idle.nothing(why="this socket never joined the room")
    expect.equal(await by_id.call("leave-chat-room", chat_id), {"success": True}, "leave-chat-room")
    await ann.sent(chat_id, "after leaving")
    await by_object.wait("new-message", lambda p: p.get("chatId") == chat_id, "the second message")
    await by_id.nothing(why="this socket left the room")


@rule(
    "realtime.typing.not-to-sender",
    "typing-start and typing-stop reach the room as user-typing {chatId, userId, isTyping, "
    "expiresInMs} without seq, never the typist's own sockets, and are not replayed",
    asyncapi("/operations/sendUserTyping"),
)
async def typing_room(t: Check) -> None:
    (ann, ben), chat = await t.chat_of(2)
    chat_id = chat["_id"]
    typist, typist_elsewhere, reader = await t.live(ann), await t.live(ann), await t.live(ben)
    for live in (typist, typist_elsewhere, reader):
        await live.join(chat_id)
    for event, is_typing in (("typing-start", True), ("typing-stop", False)):
        expect.equal(
            await typist.call(event, {"chatId": chat_id}),
            {"success": True},
            f"the acknowledgement of {event}",
        )
        got = await reader.wait(
            "user-typing", typing_of(chat_id, ann.id, is_typing), f"after {event}"
        )
        expect.equal(got.get("expiresInMs"), t.limits.typing_expires_ms, "expiresInMs")
        expect.that("seq" not in got, "user-typing carries a seq")
    for live in (typist, typist_elsewhere):
        await live.nothing("user-typing", why="the typist's own sockets get no user-typing")
    replay = expect.status(await ben.get(f"/api/chat/{chat_id}/events"), 200)
    expect.equal(replay.data["events"], [], "events kept for replay after typing only")


@rule(
    "realtime.typing.throttled",
    "A typing-start repeated within typing.throttleMs is acknowledged but not broadcast "
    "again; a typing-stop is always broadcast and lets the next start through",
    asyncapi("/operations/typingStart"),
)
async def typing_throttled(t: Check) -> None:
    if t.limits.typing_throttle_ms < SHORTEST_OBSERVABLE_THROTTLE_MS:
        raise NotRun(f"typing.throttleMs is {t.limits.typing_throttle_ms}: too short to observe")
    (ann, ben), chat = await t.chat_of(2)
    chat_id = chat["_id"]
    typist, reader = await t.live(ann), await t.live(ben)
    await reader.join(chat_id)
    for _ in range(3):
        expect.equal(
            await typist.call("typing-start", {"chatId": chat_id}),
            {"success": True},
            "typing-start",
        )
    await reader.wait("user-typing", typing_of(chat_id, ann.id, True), "the first start")
    await reader.nothing("user-typing", why="starts within the throttle are not broadcast again")
    await typist.call("typing-stop", {"chatId": chat_id})
    await reader.wait("user-typing", typing_of(chat_id, ann.id, False), "the stop")
    await typist.call("typing-start", {"chatId": chat_id})
    await reader.wait("user-typing", typing_of(chat_id, ann.id, True), "a start after the stop")


@rule(
    "realtime.acks.refusals",
    "A client event with a bad payload is acknowledged VALIDATION_FAILED, an unknown event "
    "UNKNOWN_EVENT, and the connection stays usable",
    asyncapi("/info", "**Acknowledgements.**"),
)
async def ack_refusals(t: Check) -> None:
    ann = await t.user()
    live = await t.live(ann)
    refusals = [
        ("join-chat-room", 42, "VALIDATION_FAILED"),
        ("join-chat-room", "not-a-chat-id", "VALIDATION_FAILED"),
        ("typing-start", "000000000000000000000000", "VALIDATION_FAILED"),
        ("no-such-event", {}, "UNKNOWN_EVENT"),
    ]
    for event, payload, code in refusals:
        ack = await live.call(event, payload)
        expect.equal(
            ack.get("error", {}).get("code") if isinstance(ack, dict) else ack,
            code,
            f"{event} {payload!r}",
        )
        expect.equal(ack.get("success"), False, f"success of {event} {payload!r}")
    await live.barrier()
