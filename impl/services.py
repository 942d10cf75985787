"""What a request works with: the app's services and the call it makes into the domain.

`Services` is built once per app by the composition root; `current_services()` finds the
one serving the running request (set by the outer ASGI wrapper), so two apps can live in
one process (the scale-out test does). Every domain function a handler calls takes a
`Call` first (a `Caller`, the authenticated user's, for everything outside the dev tag),
which collects the side effects (events, room changes) that run once the write is stored.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import anyio.to_thread
from bson import ObjectId

from impl.clock import Clock
from impl.settings import Settings
from impl.store import Doc, Store

if TYPE_CHECKING:
    from impl.domain.effects import Effect
    from impl.realtime.emit import EffectRunner
    from impl.realtime.presence import Presence

T = TypeVar("T")

_services: contextvars.ContextVar[Services] = contextvars.ContextVar("chat_services")
_request_info: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("chat_request")


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
    # the sandbox these services belong to (impl.web.sandboxes); tokens issued here name it
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


def bind_services(services: Services) -> contextvars.Token[Services]:
    return _services.set(services)


def unbind_services(token: contextvars.Token[Services]) -> None:
    _services.reset(token)


def current_services() -> Services:
    return _services.get()


def begin_request(request_id: str) -> dict[str, str]:
    """A fresh record of what is learnt about the running request (for its log lines)."""
    info: dict[str, str] = {"requestId": request_id}
    _request_info.set(info)
    return info


def request_info() -> dict[str, str] | None:
    """What is known about the running request (None outside a request)."""
    return _request_info.get(None)


def noted_user() -> str | None:
    """The user the running request authenticated as, once the auth hook has run."""
    info = _request_info.get(None)
    return None if info is None else info.get("userId")


def note_user(user_id: str) -> None:
    info = _request_info.get(None)
    if info is not None:
        info["userId"] = user_id


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
