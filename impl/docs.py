"""The documents a browser reads: the landing page and the raw spec files.

(Swagger UI and `/openapi.json` are served by Connexion itself.)
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse
from starlette.routing import Route

from impl.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DOCS_PREFIXES = ("/openapi.yaml", "/asyncapi.yaml", "/docs/asyncapi")

LANDING = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Chat API</title></head>
<body><h1>Marketplace Chat API</h1><ul>
<li><a href="/docs/api/">REST API (Swagger UI)</a></li>
<li><a href="/openapi.yaml">openapi.yaml</a> / <a href="/openapi.json">openapi.json</a></li>
<li><a href="/asyncapi.yaml">asyncapi.yaml</a> (Socket.IO events)</li>
</ul></body></html>
"""


def handles(path: str) -> bool:
    return path == "/" or path.startswith(DOCS_PREFIXES)


async def landing(request: Request) -> HTMLResponse:
    return HTMLResponse(LANDING)


async def openapi_yaml(request: Request) -> FileResponse:
    return FileResponse(ROOT / "openapi.yaml", media_type="application/yaml")


async def asyncapi_yaml(request: Request) -> FileResponse:
    return FileResponse(ROOT / "asyncapi.yaml", media_type="application/yaml")


def create_docs_app(settings: Settings) -> Starlette:
    return Starlette(
        routes=[
            Route("/", landing),
            Route("/openapi.yaml", openapi_yaml),
            Route("/asyncapi.yaml", asyncapi_yaml),
        ]
    )
