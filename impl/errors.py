"""The problem exceptions and the one place that renders every failure.

    ApiError (a Connexion ProblemException: raise it anywhere)
    ├── ValidationFailed      400 VALIDATION_FAILED (or another 400 code)
    ├── Unauthorized          401 UNAUTHORIZED, with WWW-Authenticate: Bearer
    ├── Forbidden             403 FORBIDDEN / NOT_PARTICIPANT / NOT_AUTHOR / EDIT_WINDOW_EXPIRED
    ├── NotFound              404 NOT_FOUND
    ├── RequestTimeout        408 REQUEST_TIMEOUT (a body that stopped arriving), Connection: close
    ├── Conflict              409 MESSAGE_DELETED / IDEMPOTENCY_CONFLICT
    ├── Gone                  410 RESYNC_REQUIRED
    ├── PayloadTooLarge       413 PAYLOAD_TOO_LARGE / FILE_TOO_LARGE (with maxBytes)
    ├── UnsupportedMediaType  415 UNSUPPORTED_MEDIA_TYPE / UNSUPPORTED_FILE_TYPE
    ├── RateLimited           429 RATE_LIMITED, with Retry-After
    ├── StoreUnavailable      503 STORE_UNAVAILABLE, with Retry-After
    ├── BadGateway            502 BAD_GATEWAY (injected by a dev fault only)
    └── GatewayTimeout        504 GATEWAY_TIMEOUT (injected by a dev fault only)

`render_problem` turns any exception (ours, Connexion's validation problems, Starlette's
404/405, anything unexpected) into the contract's RFC 9457
document: `type, title, status, detail, success: false, code`. No trace reaches a client.
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

log = logging.getLogger("impl.errors")

PROBLEM_JSON = "application/problem+json"
# A client's own value quoted back (in a detail or a log line) is cut to this many characters.
QUOTE_LIMIT = 200

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


class ApiError(ProblemException):
    status_code_default = 500
    code_default = "INTERNAL_ERROR"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        status = self.status_code_default
        super().__init__(
            status=status,
            title=HTTPStatus(status).phrase,
            detail=detail,
            headers=headers,
            ext=extra or None,
        )
        self.code = code or self.code_default


class ValidationFailed(ApiError):
    status_code_default = 400
    code_default = "VALIDATION_FAILED"


class Unauthorized(ApiError):
    status_code_default = 401
    code_default = "UNAUTHORIZED"


class Forbidden(ApiError):
    status_code_default = 403
    code_default = "FORBIDDEN"


class NotFound(ApiError):
    status_code_default = 404
    code_default = "NOT_FOUND"


class RequestTimeout(ApiError):
    status_code_default = 408
    code_default = "REQUEST_TIMEOUT"

    def __init__(self, detail: str) -> None:
        # The rest of the body may still be on its way: the connection cannot be reused.
        super().__init__(detail, headers={"Connection": "close"})


class Conflict(ApiError):
    status_code_default = 409
    code_default = "CONFLICT"


class Gone(ApiError):
    status_code_default = 410
    code_default = "RESYNC_REQUIRED"


class PayloadTooLarge(ApiError):
    status_code_default = 413
    code_default = "PAYLOAD_TOO_LARGE"


class UnsupportedMediaType(ApiError):
    status_code_default = 415
    code_default = "UNSUPPORTED_MEDIA_TYPE"


class RateLimited(ApiError):
    status_code_default = 429
    code_default = "RATE_LIMITED"


class StoreUnavailable(ApiError):
    status_code_default = 503
    code_default = "STORE_UNAVAILABLE"


class BadGateway(ApiError):
    """Only ever injected by a dev fault: the server has no upstream of its own."""

    status_code_default = 502
    code_default = "BAD_GATEWAY"


class GatewayTimeout(ApiError):
    """Only ever injected by a dev fault."""

    status_code_default = 504
    code_default = "GATEWAY_TIMEOUT"


def not_participant() -> Forbidden:
    return Forbidden("you are not a participant of this chat", code="NOT_PARTICIPANT")


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


def shorten(text: str, limit: int = QUOTE_LIMIT) -> str:
    """`text` cut to `limit` characters, marked with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
