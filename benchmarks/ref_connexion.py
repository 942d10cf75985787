"""Bare Connexion 3 reference: a ping and an echo from a tiny spec, validation on.

``ref_connexion.yaml`` declares bearer security (any token is accepted, so only the
framework's own work is measured) and a strict request-body schema. Served by the runner
as ``uvicorn benchmarks.ref_connexion:app``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from connexion import AsyncApp

SPEC_DIR = Path(__file__).resolve().parent


def accept_token(token: str) -> dict[str, Any]:
    """Accept any bearer token: the reference measures routing and validation only."""
    return {"sub": "benchmark", "token": token}


async def ping() -> tuple[dict[str, Any], int]:
    """Answer a fixed envelope."""
    return {"success": True, "data": {"pong": True}}, 200


async def echo(body: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Send the validated body back inside the envelope with 201."""
    return {"success": True, "data": body}, 201


async def health() -> tuple[dict[str, Any], int]:
    """Readiness probe used by the runner."""
    return {"ok": True}, 200


def build_app() -> AsyncApp:
    """Build the AsyncApp with request validation on (strict: unknown query params fail)."""
    connexion_app = AsyncApp(__name__, specification_dir=SPEC_DIR)
    connexion_app.add_api("ref_connexion.yaml", strict_validation=True)
    return connexion_app


app = build_app()
