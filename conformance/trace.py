"""What a rule saw, kept for its report, and the two ways a rule ends early.

    Trace            every REST exchange and Socket.IO packet of one rule, in order, and
                     the contract breaches seen on sockets (events arrive on their own time)
    Exchange         one request and its answer, tokens redacted, bodies cut to a size
    SocketRecord     one connect, emit, acknowledgement or received event
    RuleFailed       the target broke the rule (the message says how)
    NotRun           the rule cannot run against this target (the message says why)

The trace of the rule running now is a context variable, so the clients record into it
without being handed it.
"""

from __future__ import annotations

import contextvars
import json
import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any

BODY_LIMIT = 4000
JWT = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]*")


class RuleFailed(AssertionError):
    """The target does not do what the rule says."""


class NotRun(Exception):
    """The rule needs something this target or this run does not offer."""


def redact(text: str) -> str:
    """`text` with every JWT-shaped string replaced."""
    return JWT.sub("[token]", text)


def shown(value: Any, limit: int = BODY_LIMIT) -> str:
    """A body or payload as the report shows it: JSON when it is JSON, redacted, cut."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            return f"<{len(value)} bytes>"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = redact(text)
    if len(text) > limit:
        return text[:limit] + f"... ({len(text) - limit} more characters)"
    return text


@dataclass
class Exchange:
    method: str
    path: str
    operation: str | None
    actor: str | None
    request_headers: dict[str, str]
    request_body: str
    status: int = 0
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: str = ""
    seconds: float = 0.0

    @property
    def line(self) -> str:
        who = f"{self.actor}: " if self.actor else ""
        return f"{who}{self.method} {self.path}"

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SocketRecord:
    socket: str
    kind: str  # connect, refused, emit, ack, event, disconnect
    name: str
    payload: str
    at: float = field(default_factory=time.monotonic)

    def as_json(self) -> dict[str, Any]:
        found = asdict(self)
        found.pop("at")
        return found


@dataclass
class Trace:
    exchanges: list[Exchange] = field(default_factory=list)
    socket_log: list[SocketRecord] = field(default_factory=list)
    # contract breaches of received events and acks, not yet reported as a failure
    breaches: list[str] = field(default_factory=list)

    def socket(self, socket: str, kind: str, name: str, payload: Any = None) -> None:
        self.socket_log.append(SocketRecord(socket, kind, name, shown(payload)))

    def raise_breaches(self) -> None:
        if self.breaches:
            found, self.breaches = self.breaches, []
            raise RuleFailed("\n".join(found))


current: contextvars.ContextVar[Trace] = contextvars.ContextVar("conformance_trace")


def trace() -> Trace:
    """The trace of the rule running now (a throwaway one outside any rule)."""
    try:
        return current.get()
    except LookupError:
        fresh = Trace()
        current.set(fresh)
        return fresh
