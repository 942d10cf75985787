"""Connexion handlers, one module per tag of openapi.yaml.

Each handler takes Connexion's validated arguments and makes one domain call through
`invoke` (or, for the dev tag, which has no bearer token, `invoke_dev`). The helper hands
the function a `Caller` (`Call` for dev operations) and the arguments, runs the store work
(see `Services.run`), then the side effects the call queued, and turns the result into
the HTTP answer with the handler's `answer`: by default the success envelope around the
returned data with 200; handlers whose status or headers depend on the result (201 for
what was created, `X-RateLimit-*` on sends, a file download) pass their own.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from connexion.context import context
from starlette import responses

from impl.domain.dev import require_dev
from impl.domain.services import Call, Caller
from impl.web.context import current_services

Envelope = tuple[dict[str, Any], int, dict[str, str]]
Response = Envelope | responses.Response
Answer = Callable[[Any], Response]


def ok(data: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Envelope:
    """The success envelope around `data`."""
    return (
        {"success": True, "data": data},
        status,
        {"Content-Type": "application/json", **(headers or {})},
    )


def created(data: dict[str, Any]) -> Envelope:
    return ok(data, 201)


def current_caller() -> Caller:
    token_info: dict[str, Any] = context["token_info"]
    return Caller(current_services(), user=token_info["user"])


async def invoke(fn: Callable[..., Any], *args: Any, answer: Answer = ok) -> Response:
    """Call `fn(caller, *args)` for the authenticated user; its result as `answer` says."""
    return answer(await _run(current_caller(), fn, args))


async def invoke_dev(fn: Callable[..., Any], *args: Any, answer: Answer = ok) -> Response:
    """Call `fn(call, *args)` in the request's sandbox; 404 first when dev endpoints are off
    (then no sandbox layer runs at all)."""
    call = Call(current_services())
    require_dev(call)
    return answer(await _run(call, fn, args))


async def _run(call: Call, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    """The call's result, once its side effects have run. A domain function is store work
    (`Services.run`); a coroutine (the dev kit's) runs on the event loop and hands its own
    store work to `Services.run`."""
    if inspect.iscoroutinefunction(fn):
        result = await fn(call, *args)
    else:
        result = await call.services.run(fn, call, *args)
    await call.services.effects.run(call.effects, call.services)
    return result
