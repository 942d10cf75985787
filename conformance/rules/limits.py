"""The page's numbers, as the target reports them: the message rate limit and its
headers, the chat rate limit, the length of a message, the size of a JSON body, and the
edit window."""

from __future__ import annotations

from conformance import expect, samples
from conformance.check import Check
from conformance.http import Reply
from conformance.registry import rule
from conformance.specs import openapi, operation
from conformance.trace import NotRun
from conformance.world import CLOCK, RESET, Actor

SEND = operation("post", "/api/chat/{id}/messages")
RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
JSON_LIMIT = 1024 * 1024


def accepted(reply: Reply) -> Reply:
    """A send that was taken (whether its status is right is operations.send_message's rule)."""
    return expect.status(reply, 200, 201)


def allowance(t: Check, reply: Reply) -> tuple[int, int, int]:
    """(limit, remaining, reset) of a send's answer, each checked for sense."""
    limit, remaining, reset = (expect.header_int(reply, name) for name in RATE_HEADERS)
    expect.equal(
        limit, t.limits.rate_messages, f"{reply.exchange.line} ({reply.status}): X-RateLimit-Limit"
    )
    expect.that(0 <= remaining <= limit, f"X-RateLimit-Remaining {remaining} is outside 0..{limit}")
    expect.that(
        0 <= reset <= t.limits.window_s,
        f"X-RateLimit-Reset {reset} is outside 0..{t.limits.window_s}",
    )
    return limit, remaining, reset


async def use_up(t: Check, sender: Actor, chat_id: str) -> Reply:
    """Send until the allowance is gone; the refusal of the send past it."""
    limit = t.limits.rate_messages
    for number in range(1, limit + 1):
        reply = accepted(await sender.send(chat_id, f"message {number} of {limit}"))
        _, remaining, _ = allowance(t, reply)
        if number == 1 and remaining != limit - 1:
            if t.kit.world.lacks(RESET) is None:
                expect.equal(
                    remaining, limit - 1, "X-RateLimit-Remaining after a new user's first send"
                )
            raise NotRun(
                f"{sender} had sent messages within the window before this run "
                f"({remaining} left of {limit})"
            )
        expect.equal(remaining, limit - number, f"X-RateLimit-Remaining after send {number}")
    return await sender.send(chat_id, f"message {limit + 1} of {limit}")


def refused_for_rate(t: Check, reply: Reply) -> int:
    """The answer is 429 RATE_LIMITED with Retry-After and X-RateLimit-*; its Retry-After."""
    body = expect.problem(reply, 429, "RATE_LIMITED")
    retry_after = expect.header_int(reply, "Retry-After")
    expect.that(
        1 <= retry_after <= t.limits.window_s,
        f"Retry-After {retry_after} is outside 1..{t.limits.window_s}",
    )
    _, remaining, _ = allowance(t, reply)
    expect.equal(remaining, 0, "X-RateLimit-Remaining of the refusal")
    if "retryAfter" in body:
        expect.equal(body["retryAfter"], retry_after, "the problem's retryAfter vs Retry-After")
    return retry_after


@rule(
    "limits.rate.headers",
    "Every answer of a send (201, a refused 400, a retried 200) carries X-RateLimit-Limit "
    "(the configured limit), X-RateLimit-Remaining (down by one per accepted message) and "
    "X-RateLimit-Reset",
    SEND,
)
async def rate_headers(t: Check) -> None:
    (ann, _), chat = await t.chat_of(2)
    key = samples.key()
    first = accepted(await ann.send(chat["_id"], "one", clientMessageId=key))
    _, before, _ = allowance(t, first)
    second = accepted(await ann.send(chat["_id"], "two"))
    expect.equal(
        allowance(t, second)[1], before - 1, "X-RateLimit-Remaining after another accepted send"
    )
    refused = expect.status(await ann.send(chat["_id"], "   "), 400)
    expect.equal(allowance(t, refused)[1], before - 1, "X-RateLimit-Remaining of a refused send")
    retried = expect.status(await ann.send(chat["_id"], "one", clientMessageId=key), 200)
    expect.equal(allowance(t, retried)[1], before - 1, "X-RateLimit-Remaining of a retried send")


@rule(
    "limits.rate.limit-plus-one",
    "Within one window a user's sends are accepted up to the limit (refused ones do not "
    "count) and the one past it is 429 RATE_LIMITED with Retry-After and X-RateLimit-*",
    openapi("/components/responses/TooManyRequests"),
)
async def limit_plus_one(t: Check) -> None:
    sender = await t.spare()
    other = await t.user()
    chat = await sender.group(other)
    expect.status(await sender.send(chat["_id"], "   "), 400)
    expect.status(await sender.send(chat["_id"], "forged notice", type="system"), 403)
    refused_for_rate(t, await use_up(t, sender, chat["_id"]))
    sent = await other.history(chat["_id"])
    expect.equal(len(sent), t.limits.rate_messages, "messages stored")


@rule(
    "limits.rate.window-slides",
    "Once Retry-After seconds have passed (the clock moved), the user may send again",
    openapi("/info", "**Rules**"),
    needs=(CLOCK,),
    clock_order=1,
)
async def window_slides(t: Check) -> None:
    sender, other = await t.spare(), await t.user()
    chat = await sender.group(other)
    retry_after = refused_for_rate(t, await use_up(t, sender, chat["_id"]))
    await t.advance(retry_after)
    again = accepted(await sender.send(chat["_id"], "after the wait"))
    expect.that(allowance(t, again)[1] >= 0, "no allowance headers after the wait")


@rule(
    "limits.chat-rate",
    "A user may open rateLimit.chats new chats per window, the next one is 429 "
    "RATE_LIMITED with Retry-After; an existing direct chat returned (200) uses none",
    operation("post", "/api/chat"),
    needs=(RESET,),
)
async def chat_rate(t: Check) -> None:
    ann, ben = await t.users(2)
    for number in range(t.limits.rate_chats):
        body = {"participantIds": [ben.id], "type": "group", "title": f"chat {number + 1}"}
        expect.status(await ann.post("/api/chat", json=body), 201)
    body = {"participantIds": [ben.id], "type": "group", "title": "one too many"}
    refused = await ann.post("/api/chat", json=body)
    expect.problem(refused, 429, "RATE_LIMITED")
    expect.header_int(refused, "Retry-After")
    direct = await ben.direct(ann)
    again = expect.status(await ann.post("/api/chat", json={"participantIds": [ben.id]}), 200)
    expect.equal(again.data["chat"]["_id"], direct["_id"], "the direct chat asked for again")


@rule(
    "limits.message-length",
    "A message of exactly maxMessageLength characters (Unicode code points, emoji "
    "included) is accepted; one more, counted before trimming, is 400 on send and on edit",
    openapi("/components/schemas/MessageContent"),
)
async def message_length(t: Check) -> None:
    (ann, ben), chat = await t.chat_of(2)
    longest = t.limits.max_message_length
    wide = "\N{GRINNING FACE}" * longest
    message = accepted(await ann.send(chat["_id"], wide)).data["message"]
    expect.equal(len(message["content"]), longest, "code points stored")
    expect.problem(await ann.send(chat["_id"], "a" * (longest + 1)), 400, "VALIDATION_FAILED")
    expect.problem(await ann.send(chat["_id"], "a" * longest + " "), 400, "VALIDATION_FAILED")
    path = f"/api/chat/{chat['_id']}/messages/{message['_id']}"
    expect.problem(
        await ann.put(path, json={"content": "b" * (longest + 1)}), 400, "VALIDATION_FAILED"
    )
    expect.equal(len(await ben.history(chat["_id"])), 1, "messages stored")


@rule(
    "limits.json-body-413",
    "A JSON body over 1 MiB is 413",
    openapi("/info", "**Rules**"),
)
async def json_body(t: Check) -> None:
    (ann, ben), chat = await t.chat_of(2)
    body = {"content": "big", "metadata": {"padding": "x" * JSON_LIMIT}}
    expect.problem(await ann.post(f"/api/chat/{chat['_id']}/messages", json=body), 413)
    expect.equal(await ben.history(chat["_id"]), [], "the history")


@rule(
    "limits.edit-window",
    "A message can be edited until editWindowSeconds after its createdAt; after that the "
    "edit is 403 EDIT_WINDOW_EXPIRED",
    operation("put", "/api/chat/{id}/messages/{messageId}"),
    needs=(CLOCK,),
    clock_order=1,
)
async def edit_window(t: Check) -> None:
    (ann, ben), chat = await t.chat_of(2)
    message = await ann.sent(chat["_id"], "first draft")
    path = f"/api/chat/{chat['_id']}/messages/{message['_id']}"
    margin = min(30, t.limits.edit_window_s // 2)
    await t.advance(t.limits.edit_window_s - margin)
    expect.status(await ann.put(path, json={"content": "second draft"}), 200)
    await t.advance(2 * margin)
    expect.problem(await ann.put(path, json={"content": "too late"}), 403, "EDIT_WINDOW_EXPIRED")
    kept = await ben.history(chat["_id"])
    expect.equal(kept[0]["content"], "second draft", "the content after the refused edit")
