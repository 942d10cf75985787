"""Development helpers behind `/api/dev`: users with tokens, a movable clock, a reset,
and the contract-testing kit: sandboxes, injected faults, the request journal.

They exist with the embedded store (or with `--dev`); otherwise every dev path is 404.
Each works in the request's sandbox (impl.web.sandboxes): the `Services` it is handed are
that sandbox's. `seed_demo` fills an empty embedded store with the demo cast `serve` prints.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bson import ObjectId

from impl.auth import issue_token
from impl.clock import isoformat
from impl.domain.effects import DisconnectUser, Effect
from impl.domain.input_rules import clean_text
from impl.domain.presenters import user_view
from impl.errors import NotFound, ValidationFailed, shorten
from impl.reply import Reply
from impl.services import Services
from impl.store import Doc, parse_id
from impl.web.faults import Fault

if TYPE_CHECKING:
    from impl.web.sandboxes import Sandbox, Sandboxes

# Fixed ids, so that `python -m impl token <id>` works for them on any embedded server.
DEMO_CAST = (
    ("000000000000000000000b01", "Bea Buyer", "user", "buyer@example.com"),
    ("000000000000000000000b02", "Sol Seller", "user", "seller@example.com"),
    ("000000000000000000000b03", "Sam Support", "support", "support@example.com"),
    ("000000000000000000000b04", "Ada Admin", "admin", "admin@example.com"),
)


def require_dev(services: Services) -> None:
    if not services.settings.dev_enabled:
        raise NotFound("not found")


def new_user(
    services: Services,
    name: str,
    role: str = "user",
    email: str | None = None,
    status: str = "active",
    user_id: ObjectId | None = None,
) -> Doc:
    doc: Doc = {
        "_id": user_id or ObjectId(),
        "name": clean_text(name, 100, "name"),
        "role": role,
        "status": status,
        "createdAt": services.clock.now(),
    }
    if email:
        doc["email"] = email
    services.store.users.add(doc)
    return doc


def create_user(services: Services, body: dict[str, Any]) -> Reply:
    require_dev(services)
    user = new_user(
        services,
        body["name"],
        body.get("role", "user"),
        body.get("email"),
        body.get("status", "active"),
    )
    token = issue_token(services.settings, user["_id"], sandbox=services.sandbox)
    return Reply({"user": user_view(user), "token": token}, 201)


def update_user(
    services: Services, user_id: str, body: dict[str, Any], effects: list[Effect]
) -> Reply:
    require_dev(services)
    oid = parse_id(user_id, "user id")
    changes: dict[str, Any] = {k: body[k] for k in ("role", "status") if k in body}
    user = services.store.users.change(oid, changes)
    if user["status"] == "banned":
        effects.append(DisconnectUser(str(oid)))
    return Reply({"user": user_view(user)})


def advance_clock(services: Services, body: dict[str, Any]) -> Reply:
    require_dev(services)
    return Reply({"now": isoformat(services.clock.advance(body["advanceSeconds"]))})


def reset(services: Services) -> Reply:
    require_dev(services)
    services.store.drop_everything()
    return Reply({})


def seed_demo(services: Services) -> list[tuple[Doc, str]]:
    """The demo cast with a token each; reuses users that already exist by email."""
    cast = []
    for user_id, name, role, email in DEMO_CAST:
        oid = ObjectId(user_id)
        user = services.store.users.get(oid) or new_user(services, name, role, email, user_id=oid)
        cast.append((user, issue_token(services.settings, oid)))
    return cast


def _fault_ids(sandboxes: Sandboxes) -> list[str]:
    return sandboxes.operations.ids(without_tag="dev")


def _known_operation(sandboxes: Sandboxes, operation_id: str) -> str:
    if operation_id not in _fault_ids(sandboxes):
        raise ValidationFailed(
            f"{shorten(operation_id, 64)!r} is not an operationId outside the dev tag"
        )
    return operation_id


def add_fault(services: Services, sandboxes: Sandboxes, body: dict[str, Any]) -> Reply:
    require_dev(services)
    operation_id = _known_operation(sandboxes, body["operationId"])
    if body.get("status") is None and not body.get("delayMs"):
        raise ValidationFailed("a fault needs a status, a delayMs above 0, or both")
    fault = Fault(operation_id, body.get("status"), body.get("delayMs", 0), body.get("times", 1))
    sandboxes.of_services(services).faults.add(fault)
    return Reply({"fault": fault.view()}, 201)


def list_faults(services: Services, sandbox: Sandbox) -> Reply:
    require_dev(services)
    return Reply({"faults": [fault.view() for fault in sandbox.faults.pending()]})


def clear_faults(services: Services, sandbox: Sandbox) -> Reply:
    require_dev(services)
    return Reply({"cleared": sandbox.faults.clear()})


def list_requests(
    services: Services, sandboxes: Sandboxes, operation_id: str | None, limit: int
) -> Reply:
    require_dev(services)
    if operation_id is not None:
        _known_operation(sandboxes, operation_id)
    sandbox = sandboxes.of_services(services)
    return Reply({"requests": sandbox.journal.recent(operation_id, limit)})


def clear_requests(services: Services, sandbox: Sandbox) -> Reply:
    require_dev(services)
    return Reply({"cleared": sandbox.journal.clear()})


def list_sandboxes(services: Services, sandboxes: Sandboxes) -> Reply:
    require_dev(services)
    return Reply(
        {"sandboxes": [{"name": s.name, "createdAt": isoformat(s.created_at)} for s in sandboxes]}
    )


def users_to_disconnect(services: Services, user_id: str | None) -> list[str]:
    """The users whose sockets a disconnect drops: one of this sandbox's, or all of them."""
    require_dev(services)
    if user_id is None:
        return [str(user["_id"]) for user in services.store.users.all_ids()]
    oid = parse_id(user_id, "userId")
    if services.store.users.get(oid) is None:
        raise NotFound("no user with that id in this sandbox")
    return [user_id]
