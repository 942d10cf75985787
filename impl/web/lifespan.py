"""ASGI lifespan: the app's own start-up and shut-down, handed in by the composition root."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Receive, Scope, Send

Step = Callable[[], Awaitable[None]]


class Lifespan:
    """Answers `lifespan` scopes with `startup` and `shutdown`; passes everything else on."""

    def __init__(self, app: ASGIApp, startup: Step, shutdown: Step) -> None:
        self.app = app
        self.startup = startup
        self.shutdown = shutdown

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.startup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return
