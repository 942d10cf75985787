"""Sandboxes: isolated worlds in one server, for test workers that run side by side.

A sandbox is a name (`[a-z0-9-]{1,40}`) and everything a request works with: its own
`Services` (a store over its own database, its own dev clock, its own side-effect runner),
its queue of injected faults and its journal of requests. `default` is the world of a
server without sandboxes, used whenever nothing names another one.

Which sandbox a request works in (`SandboxRouter`, one layer in front of the fault and
journal layers): a dev call names it in the `X-Chat-Sandbox` header; any other call is
in the sandbox its bearer token was issued in (the `sbx` claim that `POST /api/dev/users`
puts in it). The layer binds that sandbox's `Services`, so the auth hook, the handlers and
the domain never see another world. A token naming a sandbox that no longer exists is
401, like a token of a deleted user.

A sandbox comes into being only when a dev call that needs one succeeds: one of
`CREATING` (a user, a clock move, a fault). Any other dev call naming a sandbox that does
not exist runs in a provisional, empty one that is let go afterwards, so failing or
reading calls (a 404 path, an invalid fault, a journal read) leave nothing behind; a
creating call that fails removes the sandbox it opened. At most `CHAT_MAX_SANDBOXES`
exist besides `default`; past that, a creating call is 409 `SANDBOX_LIMIT`.

Removing a sandbox (`detach`) first takes it out of the registry and retires its store,
so that a request still running there stores nothing (its next store call is 401); then
its removal listeners run (the Socket.IO layer closes its sockets); then its data goes.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from impl.devkit.faults import FaultQueue
from impl.devkit.journal import Journal, JournalBudget
from impl.domain.services import Services
from impl.errors import Conflict, DomainError, NotFound, Unauthorized, ValidationFailed
from impl.store import database as storedb
from impl.tokens import sandbox_of_token
from impl.web.context import bind_services, unbind_services
from impl.web.early_auth import bearer_token
from impl.web.problems import send_problem
from impl.web.routes import Routes, is_dev_path

log = logging.getLogger("impl.devkit.sandboxes")

DEFAULT = "default"
HEADER = "X-Chat-Sandbox"
NAME_PATTERN = re.compile(r"^[a-z0-9-]{1,40}$")
# the dev operations that need a sandbox of their own (reads and resets of one that does
# not exist answer as an empty one would)
CREATING = frozenset({"create_dev_user", "advance_dev_clock", "create_dev_fault"})
REMOVED = "the sandbox of this request was removed"

ServicesFactory = Callable[[str], Services]
Preparer = Callable[[Services], None]
Dropper = Callable[["Sandbox"], None]
RemovalListener = Callable[["Sandbox"], Awaitable[None]]

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
    journal: Journal
    faults: FaultQueue = field(default_factory=FaultQueue)
    # a creating call succeeded here (a failing one then leaves it alone)
    kept: bool = False
    # requests running in it now
    in_flight: int = 0

    def clear(self) -> None:
        """What a reset empties besides the store: pending faults and the journal."""
        self.faults.clear()
        self.journal.clear()


_index_tasks: set[asyncio.Task[None]] = set()


def prepare_database(services: Services) -> None:
    """Indexes for a new sandbox's database: at once in memory, in the background on
    MongoDB (a store that cannot be reached must not stall the dev call)."""
    if services.settings.embedded:
        storedb.ensure_indexes(services.store.db, services.settings)
        return

    async def prepare() -> None:
        try:
            await services.run(storedb.ensure_indexes, services.store.db, services.settings)
        except Exception as exc:
            level = logging.ERROR if storedb.is_permanent(exc) else logging.WARNING
            log.log(
                level,
                "sandbox %s: indexes not ensured: %s",
                services.sandbox,
                storedb.one_line(exc),
            )

    task = asyncio.get_running_loop().create_task(prepare())
    _index_tasks.add(task)
    task.add_done_callback(_index_tasks.discard)


class Sandboxes:
    """The sandboxes of this process: `default` always, the others as dev calls make them.

    `make` builds a named sandbox's Services without touching its database; `prepare`
    readies the database of one that is kept (its indexes); `drop` lets go of its data.
    """

    def __init__(
        self,
        default: Services,
        make: ServicesFactory,
        drop: Dropper,
        routes: Routes,
        prepare: Preparer = prepare_database,
    ) -> None:
        self.make = make
        self.prepare = prepare
        self.drop = drop
        self.routes = routes
        self.max_sandboxes = default.settings.max_sandboxes
        self.journal_budget = JournalBudget(default.settings.journal_max_bytes)
        self.removal_listeners: list[RemovalListener] = []
        self._all = {DEFAULT: self._sandbox(DEFAULT, default)}

    def _sandbox(self, name: str, services: Services) -> Sandbox:
        journal = Journal(self.journal_budget)
        return Sandbox(name, services, services.clock.now(), journal=journal)

    @property
    def default(self) -> Sandbox:
        return self._all[DEFAULT]

    def get(self, name: str) -> Sandbox | None:
        return self._all.get(name)

    def services_of(self, name: str) -> Services | None:
        """The services of the sandbox of that name, if it exists."""
        found = self._all.get(name)
        return None if found is None else found.services

    def open(self, name: str) -> Sandbox:
        """The sandbox of that name, made and kept now if it does not exist yet (409
        `SANDBOX_LIMIT` when as many as allowed exist)."""
        found = self._all.get(check_name(name))
        if found is not None:
            return found
        if len(self._all) - 1 >= self.max_sandboxes:
            raise Conflict(
                f"at most {self.max_sandboxes} sandboxes may exist (CHAT_MAX_SANDBOXES); "
                "remove one with DELETE /api/dev/sandboxes/{name}",
                code="SANDBOX_LIMIT",
            )
        made = self._sandbox(name, self.make(name))
        self.prepare(made.services)
        self._all[name] = made
        return made

    def provisional(self, name: str) -> Sandbox:
        """An empty sandbox of that name that is not kept (`discard` it after use)."""
        return self._sandbox(check_name(name), self.make(name))

    def discard(self, sandbox: Sandbox) -> None:
        sandbox.clear()
        sandbox.services.store.retire(REMOVED)
        self.drop(sandbox)

    def detach(self, name: str) -> Sandbox:
        """Take the sandbox out (its store retired at once); `drop` its data after."""
        if check_name(name) == DEFAULT:
            raise ValidationFailed("the default sandbox cannot be removed")
        sandbox = self._all.pop(name, None)
        if sandbox is None:
            raise NotFound(f"no sandbox named {name!r}")
        sandbox.clear()
        sandbox.services.store.retire(REMOVED)
        return sandbox

    async def removed(self, sandbox: Sandbox) -> None:
        """Tell the listeners (sockets) that `sandbox` is gone."""
        for listener in self.removal_listeners:
            await listener(sandbox)

    async def remove_with_sockets(self, name: str) -> Sandbox:
        """Detach it, close its sockets (the listeners), then drop its data."""
        removed = self.detach(name)
        await self.removed(removed)
        await removed.services.run(self.drop, removed)
        return removed

    def remove(self, name: str) -> Sandbox:
        """Detach and drop at once (a sandbox no socket can have reached yet)."""
        sandbox = self.detach(name)
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
            sandbox, made = self.resolve(scope)
        except DomainError as refused:
            await send_problem(send, refused)
            return
        status = 500

        async def noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        token = bind_services(sandbox.services)
        current = _current.set((sandbox, self.sandboxes))
        sandbox.in_flight += 1
        try:
            await self.app(scope, receive, noting_status)
        finally:
            sandbox.in_flight -= 1
            _current.reset(current)
            unbind_services(token)
            self.settle(sandbox, made, creating=self.creating(scope), ok=status < 400)

    def settle(self, sandbox: Sandbox, made: str | None, *, creating: bool, ok: bool) -> None:
        """After a dev call: keep what a creating call made, let go of the rest."""
        if made == "provisional":
            self.sandboxes.discard(sandbox)
        elif creating and ok:
            sandbox.kept = True
        elif (
            made == "opened"
            and not sandbox.kept
            and sandbox.in_flight == 0
            and self.sandboxes.get(sandbox.name) is sandbox
        ):
            self.sandboxes.remove(sandbox.name)

    def creating(self, scope: Scope) -> bool:
        """Whether the request is a dev call that needs a sandbox of its own."""
        if not is_dev_path(scope["path"]):
            return False
        return self.sandboxes.routes.find(scope["method"], scope["path"]) in CREATING

    def resolve(self, scope: Scope) -> tuple[Sandbox, str | None]:
        """The request's sandbox, and whether this request made it ("opened": kept unless
        the call fails; "provisional": let go after the call)."""
        if is_dev_path(scope["path"]):
            name = Headers(scope=scope).get(HEADER)
            found = self.sandboxes.default if name is None else self.sandboxes.get(name)
            if found is not None or name is None:
                return found or self.sandboxes.default, None
            if self.creating(scope):
                return self.sandboxes.open(name), "opened"
            return self.sandboxes.provisional(name), "provisional"
        token = bearer_token(scope)
        name = sandbox_of_token(self.sandboxes.default.services.settings, token) if token else None
        if name is None:
            return self.sandboxes.default, None
        found = self.sandboxes.get(name)
        if found is None:
            raise Unauthorized("token names a sandbox that no longer exists")
        return found, None
