"""Handlers of the `dev` tag (no bearer token: they are how tokens are made).

Each works in the sandbox `X-Chat-Sandbox` names (impl.web.sandboxes binds its services)."""

from __future__ import annotations

from typing import Any

from impl.api import Response, respond
from impl.domain import dev
from impl.domain.effects import DisconnectUser, Effect
from impl.reply import Reply
from impl.services import Services, current_services
from impl.web.sandboxes import DEFAULT, Sandboxes, current_sandbox, current_sandboxes


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
    reply = await services.run(dev.reset, services)
    current_sandbox().clear()
    return respond(reply)


def _kit() -> tuple[Services, Sandboxes]:
    """The request's services and the sandboxes; 404 first when dev endpoints are off
    (then no sandbox layer runs at all)."""
    services = current_services()
    dev.require_dev(services)
    return services, current_sandboxes()


async def list_dev_sandboxes() -> Response:
    services, sandboxes = _kit()
    return respond(dev.list_sandboxes(services, sandboxes))


async def delete_dev_sandbox(name: str) -> Response:
    services, sandboxes = _kit()
    doomed = sandboxes.get(name)
    if doomed is not None and name != DEFAULT:
        await _disconnect(doomed.services, None)
    sandbox = await services.run(sandboxes.remove, name)
    return respond(Reply({"name": sandbox.name}))


async def create_dev_fault(body: dict[str, Any]) -> Response:
    services, sandboxes = _kit()
    return respond(dev.add_fault(services, sandboxes, body))


async def list_dev_faults() -> Response:
    services, _ = _kit()
    return respond(dev.list_faults(services, current_sandbox()))


async def clear_dev_faults() -> Response:
    services, _ = _kit()
    return respond(dev.clear_faults(services, current_sandbox()))


async def disconnect_dev_sockets(body: dict[str, Any] | None = None) -> Response:
    services, _ = _kit()
    count = await _disconnect(services, (body or {}).get("userId"))
    return respond(Reply({"disconnected": count}))


async def list_dev_requests(operation_id: str | None = None, limit: int = 100) -> Response:
    services, sandboxes = _kit()
    return respond(dev.list_requests(services, sandboxes, operation_id, limit))


async def clear_dev_requests() -> Response:
    services, _ = _kit()
    return respond(dev.clear_requests(services, current_sandbox()))


async def _disconnect(services: Services, user_id: str | None) -> int:
    """Drop the sockets of one user of the sandbox, or of all its users; how many."""
    user_ids = await services.run(dev.users_to_disconnect, services, user_id)
    count = 0
    for uid in user_ids:
        sids = await services.effects.sockets_of(uid)
        count += len(sids)
        if sids:
            await services.effects.run([DisconnectUser(uid)])
    return count
