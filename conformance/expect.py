"""What rules assert, each failure saying what was expected and what came.

The schema of every answer is checked by the REST client already; these say what a rule
needs beyond it: this status and not another documented one, this problem `code`, these
values.
"""

from __future__ import annotations

from typing import Any

from conformance.http import Reply
from conformance.trace import RuleFailed

PROBLEM = "application/problem+json"


def that(condition: object, message: str) -> None:
    if not condition:
        raise RuleFailed(message)


def equal(actual: Any, expected: Any, what: str) -> None:
    if actual != expected:
        raise RuleFailed(f"{what}: expected {expected!r}, got {actual!r}")


def status(reply: Reply, *expected: int) -> Reply:
    if reply.status not in expected:
        wanted = " or ".join(str(s) for s in expected)
        body = reply.exchange.response_body[:400]
        raise RuleFailed(
            f"{reply.exchange.line} answered {reply.status}, expected {wanted}: {body}"
        )
    return reply


def problem(reply: Reply, expected_status: int, code: str | None = None) -> dict[str, Any]:
    """The answer is the contract's problem document with this status (and `code`)."""
    status(reply, expected_status)
    media = (reply.header("Content-Type") or "").split(";")[0].strip()
    equal(media, PROBLEM, f"{reply.exchange.line}: Content-Type")
    body = reply.json if isinstance(reply.json, dict) else {}
    equal(body.get("success"), False, f"{reply.exchange.line}: success")
    equal(body.get("status"), expected_status, f"{reply.exchange.line}: the problem's status")
    if code is not None:
        equal(body.get("code"), code, f"{reply.exchange.line}: the problem's code")
    return body


def header_int(reply: Reply, name: str) -> int:
    """An integer header that must be there."""
    value = reply.header(name)
    if value is None:
        raise RuleFailed(f"{reply.exchange.line} ({reply.status}) has no {name} header")
    try:
        return int(value)
    except ValueError:
        raise RuleFailed(f"{reply.exchange.line}: {name} is {value!r}, not an integer") from None


def created(reply: Reply) -> dict[str, Any]:
    """A 201 whose `data` is returned."""
    status(reply, 201)
    return dict(reply.data)
