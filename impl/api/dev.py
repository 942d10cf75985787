"""Handlers of the `dev` tag (no bearer token: they are how tokens are made)."""

from __future__ import annotations

from typing import Any

from impl import dev
from impl.api import Response, respond
from impl.context import current_services
from impl.effects import Effect


async def create_dev_user(body: dict[str, Any]) -> Response:
    services = current_services()
    return respond(await services.run(dev.create_user, services, body))


async def update_dev_user(id_: str, body: dict[str, Any]) -> Response:
    services = current_services()
    effects: list[Effect] = []
    reply = await services.run(dev.update_user, services, id_, body, effects)
    await services.effects.run(effects)
    return respond(reply)


async def advance_dev_clock(body: dict[str, Any]) -> Response:
    services = current_services()
    return respond(await services.run(dev.advance_clock, services, body))


async def reset_dev_store() -> Response:
    services = current_services()
    return respond(await services.run(dev.reset, services))
