"""Connexion handlers, one module per tag of openapi.yaml.

Each handler takes Connexion's validated arguments and makes one domain call through
`invoke`, which runs the store work (see `Services.run`), then the side effects the call
queued, and wraps the result in the success envelope.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connexion.context import context

from impl.reply import Reply
from impl.services import Caller, current_services

Response = tuple[dict[str, Any], int, dict[str, str]]


def respond(reply: Reply) -> Response:
    headers = {"Content-Type": "application/json", **reply.headers}
    return {"success": True, "data": reply.data}, reply.status, headers


def current_caller() -> Caller:
    token_info: dict[str, Any] = context["token_info"]
    return Caller(current_services(), token_info["user"])


async def invoke(fn: Callable[..., Reply], *args: Any) -> Response:
    caller = current_caller()
    reply = await caller.services.run(fn, caller, *args)
    await caller.services.effects.run(caller.effects)
    return respond(reply)
