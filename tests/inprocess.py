"""The one in-process server of the tests: an app served by the production server
(`impl.serve`: the same header bounds and deadline, the same stop), on a free 127.0.0.1
port, inside the test's event loop.

`served(app)` yields once the server listens (it says so itself: no polling) and stops it
afterwards; `parser` picks uvicorn's HTTP protocol (httptools or h11).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from uvicorn.protocols.http.auto import AutoHTTPProtocol

from impl.app import ChatApp
from impl.serve import bind, server_for

HOST = "127.0.0.1"
STOP_TIMEOUT_S = 15


@dataclass
class Served:
    app: ChatApp
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@asynccontextmanager
async def served(
    app: ChatApp, parser: type[asyncio.Protocol] = AutoHTTPProtocol
) -> AsyncIterator[Served]:
    listening = asyncio.Event()
    listener = bind(HOST, 0)
    settings = app.services.settings
    server = server_for(app, settings, log_level="warning", announce=listening.set, parser=parser)
    task = asyncio.create_task(server.serve(sockets=[listener]))
    waiting = asyncio.create_task(listening.wait())
    try:
        await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()
            raise RuntimeError("the server stopped before it listened")
        yield Served(app, HOST, listener.getsockname()[1])
    finally:
        waiting.cancel()
        server.should_exit = True
        await asyncio.wait_for(task, STOP_TIMEOUT_S)
        listener.close()
