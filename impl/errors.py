"""The problem exceptions: raised where a failure is discovered, rendered by impl.web.problems.

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
    ├── RateLimited           429 RATE_LIMITED, with Retry-After and `rate_limit_headers`
    ├── StoreUnavailable      503 STORE_UNAVAILABLE, with Retry-After
    ├── BadGateway            502 BAD_GATEWAY (injected by a dev fault only)
    └── GatewayTimeout        504 GATEWAY_TIMEOUT (injected by a dev fault only)

Each carries its status and the contract's `code`; `impl.web.problems` turns it (and any
other exception) into the contract's problem document.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, Protocol

from connexion.exceptions import ProblemException

# A client's own value quoted back (in a detail or a log line) is cut to this many characters.
QUOTE_LIMIT = 200


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


class RateLimitLeft(Protocol):
    """What is left of a rate limit (`impl.domain.rate_limits.Allowance`)."""

    @property
    def limit(self) -> int: ...

    @property
    def remaining(self) -> int: ...

    @property
    def reset_seconds(self) -> int: ...


def rate_limit_headers(left: RateLimitLeft) -> dict[str, str]:
    """`X-RateLimit-*`, which every answer of a send carries (its refusals too), and a 429."""
    return {
        "X-RateLimit-Limit": str(left.limit),
        "X-RateLimit-Remaining": str(left.remaining),
        "X-RateLimit-Reset": str(left.reset_seconds),
    }


def not_participant() -> Forbidden:
    return Forbidden("you are not a participant of this chat", code="NOT_PARTICIPANT")


def shorten(text: str, limit: int = QUOTE_LIMIT) -> str:
    """`text` cut to `limit` characters, marked with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
