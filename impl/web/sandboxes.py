"""Sandboxes: isolated worlds in one server, for test workers that run side by side.

A sandbox is a name (`[a-z0-9-]{1,40}`) and everything a request works with: its own
`Services` (a store over its own database, its own dev clock, its own side-effect runner),
its queue of injected faults and its journal of requests. `default` is the world of a
server without sandboxes, used whenever nothing names another one.

Which sandbox a request works in (`SandboxRouter`, one layer in front of the fault and
journal layers): a dev call names it in the `X-Chat-Sandbox` header (created on first
use); any other call is in the sandbox its bearer token was issued in (the `sbx` claim
that `POST /api/dev/users` puts in it). The layer binds that sandbox's `Services`, so
the auth hook, the handlers and the domain never see another world. A token naming a
sandbox that no longer exists is 401, like a token of a deleted user.
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from impl.auth import sandbox_of_token
from impl.errors import ApiError, NotFound, Unauthorized, ValidationFailed
from impl.services import Services, bind_services, unbind_services
from impl.web.early_auth import bearer_token
from impl.web.faults import FaultQueue
from impl.web.journal import Journal, JournalBudget
from impl.web.operations import Operations, is_dev_path
from impl.web.problems import send_problem

DEFAULT = "default"
HEADER = "X-Chat-Sandbox"
NAME_PATTERN = re.compile(r"^[a-z0-9-]{1,40}$")

ServicesFactory = Callable[[str], Services]
Dropper = Callable[["Sandbox"], None]

_current: contextvars.ContextVar[tuple[Sandbox, Sandboxes]] = contextvars.ContextVar("chat_sandbox")


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise ValidationFailed(f"a sandbox name matches {NAME_PATTERN.pattern}")
    return name


@dataclass
class Sandbox:
    name: str
    services: Services
    created_at: datetime
    faults: FaultQueue = field(default_factory=FaultQueue)
    journal: Journal = field(default_factory=Journal)

    def clear(self) -> None:
        """What a reset empties besides the store: pending faults and the journal."""
        self.faults.clear()
        self.journal.clear()


class Sandboxes:
    """The sandboxes of this process: `default` always, the others made on first use.

    `make` builds a named sandbox's Services; `drop` lets go of its data when it is removed.
    """

    def __init__(
        self, default: Services, make: ServicesFactory, drop: Dropper, operations: Operations
    ) -> None:
        self.make = make
        self.drop = drop
        self.operations = operations
        self.journal_budget = JournalBudget(default.settings.journal_max_bytes)
        self._all = {DEFAULT: self._sandbox(DEFAULT, default)}

    def _sandbox(self, name: str, services: Services) -> Sandbox:
        journal = Journal(self.journal_budget)
        return Sandbox(name, services, services.clock.now(), journal=journal)

    @property
    def default(self) -> Sandbox:
        return self._all[DEFAULT]

    def get(self, name: str) -> Sandbox | None:
        return self._all.get(name)

    def open(self, name: str) -> Sandbox:
        """The sandbox of that name, created now if it does not exist yet."""
        found = self._all.get(check_name(name))
        if found is None:
            found = self._all[name] = self._sandbox(name, self.make(name))
        return found

    def remove(self, name: str) -> Sandbox:
        if check_name(name) == DEFAULT:
            raise ValidationFailed("the default sandbox cannot be removed")
        sandbox = self._all.pop(name, None)
        if sandbox is None:
            raise NotFound(f"no sandbox named {name!r}")
        sandbox.clear()
        self.drop(sandbox)
        return sandbox

    def __iter__(self) -> Iterator[Sandbox]:
        return iter(sorted(self._all.values(), key=lambda s: (s.name != DEFAULT, s.name)))

    def __len__(self) -> int:
        return len(self._all)


def current_sandbox() -> Sandbox:
    """The running request's sandbox (bound by `SandboxRouter`)."""
    return _current.get()[0]


def current_sandboxes() -> Sandboxes:
    return _current.get()[1]


class SandboxRouter:
    """Binds the request's sandbox (its Services) for every layer inside this one."""

    def __init__(self, app: ASGIApp, sandboxes: Sandboxes) -> None:
        self.app = app
        self.sandboxes = sandboxes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            sandbox = self.resolve(scope)
        except ApiError as refused:
            await send_problem(send, refused)
            return
        token = bind_services(sandbox.services)
        current = _current.set((sandbox, self.sandboxes))
        try:
            await self.app(scope, receive, send)
        finally:
            _current.reset(current)
            unbind_services(token)

    def resolve(self, scope: Scope) -> Sandbox:
        if is_dev_path(scope["path"]):
            name = Headers(scope=scope).get(HEADER)
            return self.sandboxes.default if name is None else self.sandboxes.open(name)
        token = bearer_token(scope)
        name = sandbox_of_token(self.sandboxes.default.services.settings, token) if token else None
        if name is None:
            return self.sandboxes.default
        found = self.sandboxes.get(name)
        if found is None:
            raise Unauthorized(
                "token names a sandbox that no longer exists",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return found
