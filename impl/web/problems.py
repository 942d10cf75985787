"""The one place that renders every failure as the contract's problem document.

`make_renderer` is Connexion's error handler for every exception (ours, Connexion's
validation problems, Starlette's 404/405, anything unexpected); `send_problem` answers
straight on the ASGI channel for the layers in front of Connexion. The document is RFC 9457's
`type, title, status, detail` plus `success: false` and the contract's `code`. No trace
reaches a client.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from connexion.exceptions import ProblemException
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from starlette.exceptions import HTTPException

from impl.errors import ApiError, shorten

log = logging.getLogger("impl.errors")

PROBLEM_JSON = "application/problem+json"

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


def _describe(exc: Exception) -> tuple[int, str, str, dict[str, str], dict[str, Any]]:
    """(status, code, detail, headers, extra members) for any exception."""
    if isinstance(exc, ApiError):
        return exc.status, exc.code, str(exc.detail), dict(exc.headers or {}), dict(exc.ext or {})
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


async def send_problem(send: Callable[[dict[str, Any]], Any], exc: ApiError) -> None:
    """Answer with `exc` straight on the ASGI channel, for code that runs outside Connexion."""
    body = json.dumps(problem_body(exc.status, str(exc.detail), exc.code, **(exc.ext or {})))
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    headers += [(k.lower().encode(), v.encode()) for k, v in (exc.headers or {}).items()]
    await send({"type": "http.response.start", "status": exc.status, "headers": headers})
    await send({"type": "http.response.body", "body": body.encode()})


def make_renderer(
    allowed_methods: Callable[[str], Iterable[str]],
) -> Callable[[ConnexionRequest, Exception], ConnexionResponse]:
    """The error handler registered with Connexion for every exception type."""

    def render_problem(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        status, code, detail, headers, extra = _describe(exc)
        if status >= 500 and status != 503:
            log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        if status == 401:
            headers["WWW-Authenticate"] = "Bearer"
            detail = detail if isinstance(exc, ApiError) else "token is missing or invalid"
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
