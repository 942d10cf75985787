"""The contract-testing kit behind `/api/dev`: sandboxes, injected faults, the request
journal (REST and Socket.IO) and its HAR export, Pact provider states, dropping sockets,
and the reset that empties a sandbox.

Faults and the journal are about HTTP requests and operationIds, and sandboxes are
worlds of `Services` that the HTTP edge binds per request, so their operations live
here beside the layers they steer (`sandboxes`, `faults`, `journal`), not in the domain;
what touches the store is asked of `impl.domain.dev`. Like a domain function, each
operation takes the request's `Call` first. Each is a coroutine: it works on this
process's sandboxes on the event loop and hands store work to `Services.run`.
"""

from __future__ import annotations

from typing import Any

from impl.clock import isoformat
from impl.devkit import har, provider_states
from impl.devkit.faults import Fault
from impl.devkit.journal import REST, Entry, Filter
from impl.devkit.sandboxes import Sandbox, current_sandbox, current_sandboxes
from impl.domain import dev
from impl.domain.effects import DisconnectUser
from impl.domain.services import Call, Services
from impl.errors import ValidationFailed, shorten


async def reset(call: Call) -> dict[str, Any]:
    """A fresh sandbox: an empty store, its clock back at real time, no pending faults
    and an empty journal."""
    await call.services.run(dev.empty_world, call)
    current_sandbox().clear()
    return {}


async def list_sandboxes(call: Call) -> dict[str, list[dict[str, str]]]:
    return {"sandboxes": [_sandbox_view(s) for s in current_sandboxes()]}


def _sandbox_view(sandbox: Sandbox) -> dict[str, str]:
    return {"name": sandbox.name, "createdAt": isoformat(sandbox.created_at)}


async def remove_sandbox(call: Call, name: str) -> dict[str, str]:
    """Take the sandbox out (a request still running there stores nothing), close every
    socket bound to it, then drop its data."""
    removed = await current_sandboxes().remove_with_sockets(name)
    return {"name": removed.name}


async def disconnect_sockets(call: Call, body: dict[str, Any] | None) -> dict[str, int]:
    return {"disconnected": await _drop_sockets(call.services, (body or {}).get("userId"))}


async def _drop_sockets(services: Services, user_id: str | None) -> int:
    """Drop the sockets of one user of the sandbox, or of all its users; how many."""
    user_ids = await services.run(dev.users_to_disconnect, Call(services), user_id)
    count = 0
    for uid in user_ids:
        sids = await services.effects.sockets_of(uid)
        count += len(sids)
        if sids:
            await services.effects.run([DisconnectUser(uid)], services)
    return count


def _known_operation(operation_id: str) -> str:
    if operation_id not in current_sandboxes().routes.ids(without_tag="dev"):
        raise ValidationFailed(
            f"{shorten(operation_id, 64)!r} is not an operationId outside the dev tag"
        )
    return operation_id


async def add_fault(call: Call, body: dict[str, Any]) -> dict[str, Any]:
    operation_id = _known_operation(body["operationId"])
    if body.get("status") is None and not body.get("delayMs"):
        raise ValidationFailed("a fault needs a status, a delayMs above 0, or both")
    fault = Fault(operation_id, body.get("status"), body.get("delayMs", 0), body.get("times", 1))
    current_sandbox().faults.add(fault, call.settings.max_faults)
    return {"fault": fault.view()}


async def list_faults(call: Call) -> dict[str, list[dict[str, Any]]]:
    return {"faults": [fault.view() for fault in current_sandbox().faults.pending()]}


async def clear_faults(call: Call) -> dict[str, int]:
    return {"cleared": current_sandbox().faults.clear()}


async def list_requests(
    call: Call,
    operation_id: str | None,
    limit: int,
    kind: str | None = None,
    event: str | None = None,
    user_id: str | None = None,
) -> dict[str, list[Entry]]:
    if operation_id is not None:
        _known_operation(operation_id)
    wanted = Filter(kind, operation_id, event, user_id)
    return {"requests": current_sandbox().journal.recent(wanted, limit)}


async def clear_requests(call: Call) -> dict[str, int]:
    return {"cleared": current_sandbox().journal.clear()}


async def export_har(call: Call) -> har.Har:
    """The sandbox's REST exchanges, oldest first, as HAR 1.2."""
    return har.archive(current_sandbox().journal.oldest_first(Filter(kind=REST)))


async def change_provider_state(call: Call, body: dict[str, Any]) -> dict[str, Any]:
    """Set up (or tear down) a Pact provider state; the values its interaction needs."""
    if body["state"] == provider_states.NO_STATE:
        return {}
    state = provider_states.STATES[body["state"]]
    if body.get("action", "setup") == "teardown":
        return await provider_states.tear_down(state)
    return await provider_states.set_up(state)
