"""Handlers of the `dev` tag (no bearer token: they are how tokens are made).

Each works in the sandbox `X-Chat-Sandbox` names (impl.devkit.sandboxes binds its services):
users and the clock through the domain (`impl.domain.dev`), the rest of the
contract-testing kit through `impl.devkit.operations`. Two answer a document a tool reads
as it is: the HAR export, and the provider-state values a Pact verifier reads at the top
level (beside the envelope)."""

from __future__ import annotations

from typing import Any

from impl.api import Envelope, Response, created, invoke_dev, ok
from impl.devkit import operations as kit
from impl.domain import dev


async def create_dev_user(body: dict[str, Any]) -> Response:
    return await invoke_dev(dev.create_user, body, answer=created)


async def list_dev_users(limit: int = 100) -> Response:
    return await invoke_dev(dev.list_users, limit)


async def update_dev_user(id_: str, body: dict[str, Any]) -> Response:
    return await invoke_dev(dev.update_user, id_, body)


async def read_dev_clock() -> Response:
    return await invoke_dev(dev.read_clock)


async def advance_dev_clock(body: dict[str, Any]) -> Response:
    return await invoke_dev(dev.advance_clock, body)


async def reset_dev_store() -> Response:
    return await invoke_dev(kit.reset)


async def list_dev_sandboxes() -> Response:
    return await invoke_dev(kit.list_sandboxes)


async def delete_dev_sandbox(name: str) -> Response:
    return await invoke_dev(kit.remove_sandbox, name)


async def create_dev_fault(body: dict[str, Any]) -> Response:
    return await invoke_dev(kit.add_fault, body, answer=created)


async def list_dev_faults() -> Response:
    return await invoke_dev(kit.list_faults)


async def clear_dev_faults() -> Response:
    return await invoke_dev(kit.clear_faults)


async def disconnect_dev_sockets(body: dict[str, Any] | None = None) -> Response:
    return await invoke_dev(kit.disconnect_sockets, body)


async def list_dev_requests(
    operation_id: str | None = None,
    limit: int = 100,
    kind: str | None = None,
    event: str | None = None,
    user_id: str | None = None,
) -> Response:
    return await invoke_dev(kit.list_requests, operation_id, limit, kind, event, user_id)


async def clear_dev_requests() -> Response:
    return await invoke_dev(kit.clear_requests)


async def export_dev_requests_har() -> Response:
    return await invoke_dev(kit.export_har, answer=document)


async def set_dev_provider_state(body: dict[str, Any]) -> Response:
    return await invoke_dev(kit.change_provider_state, body, answer=with_values_on_top)


def document(data: dict[str, Any]) -> Envelope:
    """A document a tool reads as it is (HAR), not in the envelope."""
    return data, 200, {"Content-Type": "application/json"}


def with_values_on_top(values: dict[str, Any]) -> Envelope:
    """The envelope, with the values also at the top level, where Pact's verifiers read
    provider-state injected values."""
    envelope, status, headers = ok(values)
    return {**values, **envelope}, status, headers
