"""What every domain function works with: one world's services and the call made into it.

`Services` is built once per world (the default one, and each sandbox's) by the
composition root. Its collaborators outside the domain are named here only as the small
Protocols the domain and its callers need (`Presence`, `EffectRunner`), so this module,
like the rest of the domain, depends on no room above it. Every domain function a handler
calls takes a `Call` first (a `Caller`, the authenticated user's, for everything outside
the dev tag), which collects the side effects (events, room changes) that run once the
write is stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import anyio
import anyio.to_thread
from bson import ObjectId

from impl.clock import Clock
from impl.domain.effects import Effect, Emit
from impl.settings import Settings
from impl.store import Doc, Store

T = TypeVar("T")


class Presence(Protocol):
    """Who is connected, per user: this process's sockets, or every process's."""

    async def add(self, user_id: str, sid: str) -> None: ...

    async def remove(self, user_id: str, sid: str) -> None: ...

    async def sids(self, user_id: str) -> list[str]: ...

    async def online(self, user_ids: Iterable[str]) -> set[str]: ...

    async def close(self) -> None: ...


class EffectRunner(Protocol):
    """Performs what a stored write asked for (impl.realtime.emit is the one)."""

    async def run(self, effects: Iterable[Effect], services: Services) -> None: ...

    async def emit(self, effect: Emit) -> None: ...

    async def sockets_of(self, user_id: str) -> list[str]: ...


@dataclass
class Services:
    settings: Settings
    store: Store
    clock: Clock
    presence: Presence
    effects: EffectRunner
    # store calls wait on the store, not the CPU: let as many run as requests arrive, so
    # that an unreachable store answers every request within its timeout
    limiter: anyio.CapacityLimiter = field(default_factory=lambda: anyio.CapacityLimiter(256))
    # the sandbox these services belong to (impl.devkit.sandboxes); tokens issued here name it
    sandbox: str = "default"

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run store work: inline for the in-memory store, in a worker thread for MongoDB.

        mongomock never waits on I/O, so running it on the event loop skips a thread hop;
        pymongo blocks, so it must leave the loop. `store_threads` makes the embedded store
        run in threads too, so tests prove the thread-safety that MongoDB mode relies on.
        """
        if not self.settings.threaded_store:
            return fn(*args)
        return await anyio.to_thread.run_sync(lambda: fn(*args), limiter=self.limiter)


@dataclass
class Call:
    """One call into the domain: the services of its sandbox, and the side effects it
    queues. Dev operations take a bare `Call`: they have no user, being how users and
    tokens are made."""

    services: Services
    effects: list[Effect] = field(default_factory=list)

    @property
    def store(self) -> Store:
        return self.services.store

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def clock(self) -> Clock:
        return self.services.clock


@dataclass
class Caller(Call):
    """A call made by an authenticated user."""

    user: Doc = field(kw_only=True)

    @property
    def id(self) -> ObjectId:
        user_id: ObjectId = self.user["_id"]
        return user_id

    @property
    def is_admin(self) -> bool:
        return bool(self.user.get("role") == "admin")
