"""The one place that renders every failure as the contract's problem document.

`STATUS` is the one table from the contract's codes to HTTP statuses; `headers_for` adds
what a code's answer carries besides (`WWW-Authenticate` on 401, `Retry-After` on 429
and 503, `Connection: close` on 408, and `X-RateLimit-*` for any error that reports an
allowance). `make_renderer` is Connexion's error handler for every exception (the
domain's, Connexion's validation problems, Starlette's 404/405, anything unexpected);
`send_problem` answers straight on the ASGI channel for the layers in front of
Connexion. The document is RFC 9457's `type, title, status, detail` plus `success: false`
and the contract's `code`. No trace reaches a client.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from http import HTTPStatus
from typing import Any

from connexion.exceptions import ProblemException
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from starlette.exceptions import HTTPException

from impl.errors import (
    Allowance,
    DomainError,
    RateLimited,
    StoreUnavailable,
    shorten,
)

log = logging.getLogger("impl.errors")

PROBLEM_JSON = "application/problem+json"

# Every code the server answers with, and its status.
STATUS = {
    "VALIDATION_FAILED": 400,
    "ALREADY_PARTICIPANT": 400,
    "UNAUTHORIZED": 401,
    "FORBIDDEN": 403,
    "NOT_PARTICIPANT": 403,
    "NOT_AUTHOR": 403,
    "EDIT_WINDOW_EXPIRED": 403,
    "NOT_FOUND": 404,
    "REQUEST_TIMEOUT": 408,
    "CONFLICT": 409,
    "MESSAGE_DELETED": 409,
    "IDEMPOTENCY_CONFLICT": 409,
    "SANDBOX_LIMIT": 409,
    "FAULT_LIMIT": 409,
    "STATE_TOO_COSTLY": 409,
    "RESYNC_REQUIRED": 410,
    "PAYLOAD_TOO_LARGE": 413,
    "FILE_TOO_LARGE": 413,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "UNSUPPORTED_FILE_TYPE": 415,
    "RATE_LIMITED": 429,
    "HEADERS_TOO_LARGE": 431,
    "INTERNAL_ERROR": 500,
    "BAD_GATEWAY": 502,
    "STORE_UNAVAILABLE": 503,
    "GATEWAY_TIMEOUT": 504,
}

# The code of a status that Connexion or Starlette answered themselves.
DEFAULT_CODES = {
    400: "VALIDATION_FAILED",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    409: "CONFLICT",
    410: "GONE",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
    501: "NOT_IMPLEMENTED",
    503: "STORE_UNAVAILABLE",
}


def problem_body(status: int, detail: str, code: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "success": False,
        "code": code,
    }
    body.update(extra)
    return body


def _validation_detail(exc: ProblemException) -> str:
    detail = str(exc.detail or exc.title or "the request is not valid").split("\n\n")[0]
    # jsonschema messages can quote a whole huge value back: keep the reply short.
    return shorten(detail)


def status_of(exc: DomainError) -> int:
    return STATUS.get(exc.code, 500)


def rate_limit_headers(left: Allowance) -> dict[str, str]:
    """`X-RateLimit-*`, which every answer of a send carries (its refusals too), and a 429."""
    return {
        "X-RateLimit-Limit": str(left.limit),
        "X-RateLimit-Remaining": str(left.remaining),
        "X-RateLimit-Reset": str(left.reset_seconds),
    }


def headers_for(exc: DomainError) -> dict[str, str]:
    """What the answer to `exc` carries besides its body."""
    headers = rate_limit_headers(exc.allowance) if exc.allowance is not None else {}
    status = status_of(exc)
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    elif status == 408:
        headers["Connection"] = "close"
    if isinstance(exc, RateLimited | StoreUnavailable) and exc.retry_after is not None:
        headers["Retry-After"] = str(exc.retry_after)
    return headers


def _describe(exc: Exception) -> tuple[int, str, str, dict[str, str], dict[str, Any]]:
    """(status, code, detail, headers, extra members) for any exception."""
    if isinstance(exc, DomainError):
        return status_of(exc), exc.code, exc.detail, headers_for(exc), dict(exc.members)
    if isinstance(exc, ProblemException):
        status = exc.status
        headers = dict(exc.headers or {})
        return status, DEFAULT_CODES.get(status, "ERROR"), _validation_detail(exc), headers, {}
    if isinstance(exc, HTTPException):
        status = exc.status_code
        detail = str(exc.detail) if exc.detail else HTTPStatus(status).phrase
        return status, DEFAULT_CODES.get(status, "ERROR"), detail, dict(exc.headers or {}), {}
    if isinstance(exc, UnicodeDecodeError):
        return 400, "VALIDATION_FAILED", "the body is not valid UTF-8", {}, {}
    return 500, "INTERNAL_ERROR", "an unexpected error occurred; it has been logged", {}, {}


async def send_problem(send: Callable[[dict[str, Any]], Any], exc: DomainError) -> None:
    """Answer with `exc` straight on the ASGI channel, for code that runs outside Connexion."""
    status = status_of(exc)
    body = json.dumps(problem_body(status, exc.detail, exc.code, **exc.members))
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    headers += [(k.lower().encode(), v.encode()) for k, v in headers_for(exc).items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body.encode()})


def make_renderer(
    allowed_methods: Callable[[str], Iterable[str]],
) -> Callable[[ConnexionRequest, Exception], Awaitable[ConnexionResponse]]:
    """The error handler registered with Connexion for every exception type. A coroutine
    function: Connexion awaits it in place, where a plain function would be handed to a
    worker thread and back for every 4xx (about a third of a rejected request's time)."""

    async def render_problem(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        status, code, detail, headers, extra = _describe(exc)
        if status >= 500 and status != 503:
            log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        if status == 401:
            headers["WWW-Authenticate"] = "Bearer"
            detail = detail if isinstance(exc, DomainError) else "token is missing or invalid"
        if status == 405:
            headers["Allow"] = ", ".join(sorted(allowed_methods(request.url.path)))
        headers.pop("Content-Type", None)
        body = problem_body(status, detail, code, **extra)
        return ConnexionResponse(
            status_code=status,
            mimetype=PROBLEM_JSON,
            content_type=PROBLEM_JSON,
            body=json.dumps(body),
            headers=headers,
        )

    return render_problem
