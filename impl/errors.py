"""The errors a client is told about: plain exceptions, raised where a failure is
discovered (the domain, the store, the dev kit, the edge), rendered once by the web edge.

    DomainError               a `code` (the contract's), a one-line `detail`, and `members`
    │                         (extension members of the problem document: maxBytes, ...)
    ├── ValidationFailed      VALIDATION_FAILED, or ALREADY_PARTICIPANT, PAYLOAD_TOO_LARGE
    ├── Unauthorized          UNAUTHORIZED
    ├── Forbidden             FORBIDDEN / NOT_PARTICIPANT / NOT_AUTHOR / EDIT_WINDOW_EXPIRED
    ├── NotFound              NOT_FOUND
    ├── RequestTimeout        REQUEST_TIMEOUT (a body that stopped arriving)
    ├── Conflict              CONFLICT / MESSAGE_DELETED / IDEMPOTENCY_CONFLICT /
    │                         SANDBOX_LIMIT / FAULT_LIMIT / STATE_TOO_COSTLY
    ├── Gone                  RESYNC_REQUIRED (with latestSeq)
    ├── PayloadTooLarge       PAYLOAD_TOO_LARGE / FILE_TOO_LARGE (with maxBytes)
    ├── UnsupportedMediaType  UNSUPPORTED_MEDIA_TYPE / UNSUPPORTED_FILE_TYPE
    ├── RateLimited           RATE_LIMITED, with the `allowance` left and `retry_after`
    ├── StoreUnavailable      STORE_UNAVAILABLE, with `retry_after`
    ├── BadGateway            BAD_GATEWAY (injected by a dev fault only)
    └── GatewayTimeout        GATEWAY_TIMEOUT (injected by a dev fault only)

Nothing here knows HTTP: `impl.web.problems` holds the one table from code to status and
headers (`WWW-Authenticate`, `Retry-After`, `X-RateLimit-*` from an allowance the error
carries); Socket.IO acknowledges failures with the code and detail alone. A send's
refusal carries the caller's allowance too (`allowance`), so its answer reports it.
"""

from __future__ import annotations

from typing import Any, Protocol

# A client's own value quoted back (in a detail or a log line) is cut to this many characters.
QUOTE_LIMIT = 200


class Allowance(Protocol):
    """What is left of a rate limit (`impl.domain.rate_limits.Allowance`)."""

    @property
    def limit(self) -> int: ...

    @property
    def remaining(self) -> int: ...

    @property
    def reset_seconds(self) -> int: ...


class DomainError(Exception):
    code_default = "INTERNAL_ERROR"

    def __init__(self, detail: str, *, code: str | None = None, **members: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.code_default
        self.members = members
        # the caller's rate allowance, when the refused call was one that uses it
        self.allowance: Allowance | None = None


class ValidationFailed(DomainError):
    code_default = "VALIDATION_FAILED"


class Unauthorized(DomainError):
    code_default = "UNAUTHORIZED"


class Forbidden(DomainError):
    code_default = "FORBIDDEN"


class NotFound(DomainError):
    code_default = "NOT_FOUND"


class RequestTimeout(DomainError):
    code_default = "REQUEST_TIMEOUT"


class Conflict(DomainError):
    code_default = "CONFLICT"


class Gone(DomainError):
    code_default = "RESYNC_REQUIRED"


class PayloadTooLarge(DomainError):
    code_default = "PAYLOAD_TOO_LARGE"


class UnsupportedMediaType(DomainError):
    code_default = "UNSUPPORTED_MEDIA_TYPE"


class RateLimited(DomainError):
    """Too much, too fast. Over HTTP it comes with the allowance left and when to retry;
    a socket's event budget has neither."""

    code_default = "RATE_LIMITED"

    def __init__(
        self, detail: str, *, allowance: Allowance | None = None, retry_after: int | None = None
    ) -> None:
        super().__init__(detail)
        if retry_after is not None:
            self.members["retryAfter"] = retry_after
        self.allowance = allowance
        self.retry_after = retry_after


class StoreUnavailable(DomainError):
    code_default = "STORE_UNAVAILABLE"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class BadGateway(DomainError):
    """Only ever injected by a dev fault: the server has no upstream of its own."""

    code_default = "BAD_GATEWAY"


class GatewayTimeout(DomainError):
    """Only ever injected by a dev fault."""

    code_default = "GATEWAY_TIMEOUT"


def not_participant() -> Forbidden:
    return Forbidden("you are not a participant of this chat", code="NOT_PARTICIPANT")


def shorten(text: str, limit: int = QUOTE_LIMIT) -> str:
    """`text` cut to `limit` characters, marked with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
