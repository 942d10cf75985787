"""Bare Starlette reference: one JSON GET and one JSON echo POST, nothing else.

Served under uvicorn by the benchmark runner as the ceiling of what a Python ASGI stack
can do on this machine: ``uvicorn benchmarks.ref_starlette:app``.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def ping(request: Request) -> JSONResponse:
    """Answer a fixed envelope, like the smallest Chat API success."""
    return JSONResponse({"success": True, "data": {"pong": True}})


async def echo(request: Request) -> JSONResponse:
    """Parse the JSON body and send it back inside the envelope with 201."""
    body = await request.json()
    return JSONResponse({"success": True, "data": body}, status_code=201)


async def health(request: Request) -> JSONResponse:
    """Readiness probe used by the runner."""
    return JSONResponse({"ok": True})


app = Starlette(
    routes=[
        Route("/ping", ping, methods=["GET"]),
        Route("/echo", echo, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
    ]
)
