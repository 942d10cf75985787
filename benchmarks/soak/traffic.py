"""Every HTTP request of a soak run goes through `Traffic`, which counts each answer by
kind of request and status (a network failure counts as ``error:<exception name>``), keeps
the 5xx it saw, and bounds the run's requests in count and each request in time.

`Ledger` is the client's own record of every send: the `clientMessageId`, the chat, the
sender, the outcome, and the edits and deletes that were confirmed or left uncertain.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from benchmarks.procs import HOST


class RequestBudgetSpent(RuntimeError):
    """The run reached its request cap; the load stops."""


@dataclass
class Answer:
    """One request's outcome: ``status`` 0 means no HTTP answer (see ``error``)."""

    status: int
    body: Any
    headers: dict[str, str]
    seconds: float
    error: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def data(self) -> Any:
        return self.body.get("data") if isinstance(self.body, dict) else None

    @property
    def code(self) -> str:
        return str(self.body.get("code", "")) if isinstance(self.body, dict) else ""

    def retry_after(self, default: float) -> float:
        try:
            return max(0.1, float(self.headers.get("Retry-After", default)))
        except ValueError:
            return default


@dataclass
class Traffic:
    """The run's one HTTP session, limited to 127.0.0.1, counting every status."""

    base: str
    max_requests: int
    timeout_s: float
    session: aiohttp.ClientSession | None = None
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    server_errors: list[dict[str, Any]] = field(default_factory=list)
    timings: list[tuple[str, float, float]] = field(default_factory=list)  # kind, start, s
    sent: int = 0

    def __post_init__(self) -> None:
        if not self.base.startswith(f"http://{HOST}:"):
            raise ValueError(f"the soak only talks to {HOST}, not {self.base}")

    async def __aenter__(self) -> Traffic:
        connector = aiohttp.TCPConnector(limit=64)
        self.session = aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=self.timeout_s)
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.session is not None:
            await self.session.close()

    async def call(
        self,
        kind: str,
        method: str,
        path: str,
        token: str | None = None,
        *,
        budgeted: bool = True,
        **kwargs: Any,
    ) -> Answer:
        """One request, counted under ``kind``; ``budgeted=False`` for setup and checks."""
        assert self.session is not None, "use Traffic as an async context manager"
        if budgeted and self.sent >= self.max_requests:
            raise RequestBudgetSpent(f"{self.max_requests} requests")
        self.sent += 1
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        started = time.monotonic()
        try:
            async with self.session.request(
                method, self.base + path, headers=headers, **kwargs
            ) as response:
                raw = await response.read()
                answer = Answer(response.status, _json(raw), dict(response.headers), 0.0)
        except (aiohttp.ClientError, TimeoutError) as exc:
            answer = Answer(0, None, {}, 0.0, error=type(exc).__name__)
        answer.seconds = time.monotonic() - started
        self.timings.append((kind, started, answer.seconds))
        self.counts[(kind, str(answer.status) if answer.status else f"error:{answer.error}")] += 1
        if answer.status >= 500:
            self.server_errors.append({"kind": kind, "path": path, "status": answer.status})
        return answer

    def by_status(self) -> dict[str, int]:
        """Request counts per status over every kind."""
        total: Counter[str] = Counter()
        for (_, status), n in self.counts.items():
            total[status] += n
        return dict(sorted(total.items()))

    def by_kind(self) -> dict[str, dict[str, int]]:
        """Request counts per kind, then per status."""
        table: dict[str, dict[str, int]] = {}
        for (kind, status), n in sorted(self.counts.items()):
            table.setdefault(kind, {})[status] = n
        return table


@dataclass
class Send:
    """One message the client meant to send, whatever happened to it."""

    client_message_id: str
    chat_id: str
    sender_id: str
    content: str
    started_s: float
    phase: str
    attempts: int = 0
    status: int = 0  # the final answer's status (0: never answered)
    seconds: float = 0.0  # from the first attempt to the final answer, retries included
    message_id: str = ""
    created_s: float = 0.0  # when the answer came back, in seconds since the load began
    content_now: str = ""  # the content the server should hold (after confirmed edits)
    uncertain: bool = False  # an edit or delete whose outcome is unknown (no answer)
    deleted: bool = False

    @property
    def acknowledged(self) -> bool:
        return self.status in (200, 201)


@dataclass
class Ledger:
    """Every send of the run, by clientMessageId."""

    sends: dict[str, Send] = field(default_factory=dict)
    attempt_seconds: dict[str, list[float]] = field(default_factory=dict)

    def add(self, send: Send) -> None:
        self.sends[send.client_message_id] = send

    def acknowledged(self) -> int:
        return sum(1 for s in self.sends.values() if s.acknowledged)

    def attempt(self, phase: str, seconds: float) -> None:
        self.attempt_seconds.setdefault(phase, []).append(seconds)


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None
