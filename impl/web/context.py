"""What the HTTP edge knows about the running request, for the layers and hooks it passes.

The outer layer binds the world (`Services`) serving the request, so that two apps can
live in one process (the scale-out test does), and starts a record of what is learnt
about the request for its log lines (its id, then its user once the bearer hook ran).
"""

from __future__ import annotations

import contextvars

from starlette.types import ASGIApp, Receive, Scope, Send

from impl.domain.services import Services

_services: contextvars.ContextVar[Services] = contextvars.ContextVar("chat_services")
_request_info: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("chat_request")


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


class BindWorld:
    """Binds the default world's `Services` for everything inside (a sandbox's router,
    further in, binds its own)."""

    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = bind_services(self.services)
        try:
            await self.app(scope, receive, send)
        finally:
            unbind_services(token)
