"""Injected faults: make the next calls of an operation stall or fail, in one sandbox.

`POST /api/dev/faults` queues a `Fault` in the caller's sandbox; `FaultInjector`, a layer
in front of Connexion, takes the first pending fault for each arriving request's
operation, waits its `delayMs`, and, when it has a `status`, answers the problem document
the contract gives that status, without letting the request reach the operation: an
operation answered by a fault did nothing. A fault with only a delay lets the operation
run after it. Dev operations cannot be faulted (they are how tests set faults up).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from impl.domain.rate_limits import MESSAGES, Allowance
from impl.errors import (
    BadGateway,
    Conflict,
    DomainError,
    GatewayTimeout,
    RateLimited,
    StoreUnavailable,
)
from impl.settings import Settings
from impl.web.bearer import authenticate
from impl.web.early_auth import bearer_token
from impl.web.problems import send_problem
from impl.web.routes import Routes, is_dev_path

FAULT_STATUSES = (429, 500, 502, 503, 504)
# A client honouring an injected 429 retries soon, so UI tests of the retry path stay fast.
INJECTED_RETRY_AFTER_SECONDS = 1
# Scope key through which the journal learns that a fault answered the request.
FAULTED = "chat.faulted"


@dataclass
class Fault:
    operation_id: str
    status: int | None
    delay_ms: int
    times: int

    def view(self) -> dict[str, Any]:
        view: dict[str, Any] = {
            "operationId": self.operation_id,
            "delayMs": self.delay_ms,
            "times": self.times,
        }
        if self.status is not None:
            view["status"] = self.status
        return view


def fault_error(status: int, settings: Settings) -> DomainError:
    """The answer the contract gives `status`, marked as injected in its detail."""
    detail = "injected fault (POST /api/dev/faults)"
    if status == 429:
        retry = INJECTED_RETRY_AFTER_SECONDS
        spent = Allowance(MESSAGES, settings.rate_limit, remaining=0, reset_seconds=retry)
        return RateLimited(detail, allowance=spent, retry_after=retry)
    if status == 503:
        retry_after = max(1, settings.mongo_timeout_ms // 1000 + 1)
        return StoreUnavailable(detail, retry_after=retry_after)
    if status == 502:
        return BadGateway(detail)
    if status == 504:
        return GatewayTimeout(detail)
    return DomainError(detail)


class FaultQueue:
    """The pending faults of one sandbox: per operation, oldest first, so that a request
    finds its own in one lookup however many are pending; at most `limit` in all."""

    def __init__(self) -> None:
        self._by_operation: dict[str, deque[Fault]] = {}
        self._order: list[Fault] = []

    def add(self, fault: Fault, limit: int) -> None:
        if len(self._order) >= limit:
            raise Conflict(
                f"at most {limit} faults may be pending in a sandbox (CHAT_MAX_FAULTS); "
                "clear them with DELETE /api/dev/faults",
                code="FAULT_LIMIT",
            )
        self._by_operation.setdefault(fault.operation_id, deque()).append(fault)
        self._order.append(fault)

    def due(self, operation_id: str) -> bool:
        return operation_id in self._by_operation

    def take(self, operation_id: str) -> Fault | None:
        """The first pending fault for the operation, counted down (gone when used up)."""
        queue = self._by_operation.get(operation_id)
        if not queue:
            return None
        fault = queue[0]
        fault.times -= 1
        if fault.times == 0:
            queue.popleft()
            self._order.remove(fault)
            if not queue:
                del self._by_operation[operation_id]
        return fault

    def pending(self) -> list[Fault]:
        return list(self._order)

    def clear(self) -> int:
        cleared = len(self._order)
        self._by_operation.clear()
        self._order.clear()
        return cleared


async def drain(receive: Receive) -> None:
    """Read the request's body (bounded by BodyLimit outside) so that it is answered
    whole, and the journal sees what was sent."""
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


class FaultInjector:
    """`queue_of()` is the fault queue of the running request's sandbox."""

    def __init__(
        self,
        app: ASGIApp,
        routes: Routes,
        settings: Settings,
        queue_of: Callable[[], FaultQueue],
    ) -> None:
        self.app = app
        self.routes = routes
        self.settings = settings
        self.queue_of = queue_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fault = await self.due(scope) if scope["type"] == "http" else None
        if fault is not None:
            if fault.delay_ms:
                await asyncio.sleep(fault.delay_ms / 1000)
            if fault.status is not None:
                scope[FAULTED] = True
                await drain(receive)
                await send_problem(send, fault_error(fault.status, self.settings))
                return
        await self.app(scope, receive, send)

    async def due(self, scope: Scope) -> Fault | None:
        """The fault this request takes, if one is pending for its operation and the
        request would pass authentication (a request that fails it anyway uses none)."""
        if is_dev_path(scope["path"]):
            return None
        operation_id = self.routes.find(scope["method"], scope["path"])
        queue = self.queue_of()
        if operation_id is None or not queue.due(operation_id):
            return None
        if self.routes.needs_bearer(
            scope["method"], scope["path"]
        ) and not await self.authenticates(scope):
            return None
        return queue.take(operation_id)

    @staticmethod
    async def authenticates(scope: Scope) -> bool:
        token = bearer_token(scope)
        if token is None:
            return False
        try:
            await authenticate(token)
        except DomainError:
            return False
        return True
