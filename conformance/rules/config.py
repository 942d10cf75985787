"""The limits the target says it enforces, and whether they are the page's."""

from __future__ import annotations

from conformance import expect
from conformance.check import PAGE, Check
from conformance.registry import rule
from conformance.specs import openapi, operation


@rule(
    "config.reported",
    "GET /api/chat/config reports the limits in force as positive whole numbers, and the "
    "rules of this run are checked against them",
    operation("get", "/api/chat/config"),
)
async def reported(t: Check) -> None:
    user = await t.user()
    reply = expect.status(await user.get("/api/chat/config"), 200)
    data = reply.data
    numbers = {
        "maxMessageLength": data["maxMessageLength"],
        "editWindowSeconds": data["editWindowSeconds"],
        "rateLimit.messages": data["rateLimit"]["messages"],
        "rateLimit.chats": data["rateLimit"]["chats"],
        "rateLimit.windowSeconds": data["rateLimit"]["windowSeconds"],
        "upload.maxBytes": data["upload"]["maxBytes"],
    }
    for name, value in numbers.items():
        expect.that(
            isinstance(value, int) and value > 0, f"{name} is {value!r}, not a positive integer"
        )
    expect.that(
        t.kit.limits_from == "config",
        f"the run could not use the reported limits: {t.kit.limits_from}",
    )


@rule(
    "config.page-defaults",
    "The limits in force are the page's: 20 messages per 60 s, a 900 s (15-minute) edit "
    "window, 5,000 characters per message (a target that raised them for its own tests "
    "fails only this rule)",
    openapi("/info", "**Rules**"),
)
async def page_defaults(t: Check) -> None:
    limits = t.limits
    found = {
        "rateLimit.messages": (limits.rate_messages, PAGE.rate_messages),
        "rateLimit.windowSeconds": (limits.window_s, PAGE.window_s),
        "editWindowSeconds": (limits.edit_window_s, PAGE.edit_window_s),
        "maxMessageLength": (limits.max_message_length, PAGE.max_message_length),
    }
    differ = [
        f"{name} is {ours}, the page says {page}"
        for name, (ours, page) in found.items()
        if ours != page
    ]
    expect.that(not differ, "; ".join(differ))
