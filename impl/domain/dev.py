"""Development operations behind `/api/dev` that work on the store: users with tokens
(made, listed, changed), a movable clock, emptying the store, and whose sockets a
disconnect drops. The rest of the contract-testing kit (sandboxes, injected faults, the
request journal) steers the HTTP edge and lives there (`impl.devkit.operations`).

They exist with the embedded store (or with `--dev`); otherwise every dev path is 404.
Each takes a `Call` of the request's sandbox (no user: dev calls are how users are made).
`seed_demo` fills an empty embedded store with the demo cast `serve` prints.
"""

from __future__ import annotations

from typing import Any

from bson import ObjectId

from impl.clock import ClockOverflow, isoformat
from impl.domain.effects import DisconnectUser
from impl.domain.input_rules import clean_text, parse_id
from impl.domain.presenters import user_view
from impl.domain.services import Call, Services
from impl.errors import NotFound, ValidationFailed
from impl.store import Doc
from impl.tokens import issue_token

# Fixed ids, so that `python -m impl token <id>` works for them on any embedded server.
DEMO_CAST = (
    ("000000000000000000000b01", "Bea Buyer", "user", "buyer@example.com"),
    ("000000000000000000000b02", "Sol Seller", "user", "seller@example.com"),
    ("000000000000000000000b03", "Sam Support", "support", "support@example.com"),
    ("000000000000000000000b04", "Ada Admin", "admin", "admin@example.com"),
)


def require_dev(call: Call) -> None:
    """404 for every dev operation unless dev endpoints are on."""
    if not call.settings.dev_enabled:
        raise NotFound("not found")


def new_user(
    call: Call,
    name: str,
    role: str = "user",
    email: str | None = None,
    status: str = "active",
    user_id: ObjectId | None = None,
) -> Doc:
    doc: Doc = {
        "_id": user_id or ObjectId(),
        "name": clean_text(name, "name"),
        "role": role,
        "status": status,
        "createdAt": call.clock.now(),
    }
    if email:
        doc["email"] = email
    call.store.users.add(doc)
    return doc


def with_token(call: Call, user: Doc) -> dict[str, Any]:
    """`{user, token}`: the user and a token for it made now, in the call's sandbox."""
    token = issue_token(call.settings, user["_id"], sandbox=call.services.sandbox)
    return {"user": user_view(user), "token": token}


def create_user(call: Call, body: dict[str, Any]) -> dict[str, Any]:
    user = new_user(
        call,
        body["name"],
        body.get("role", "user"),
        body.get("email"),
        body.get("status", "active"),
    )
    return with_token(call, user)


def list_users(call: Call, limit: int) -> dict[str, Any]:
    """The sandbox's users, oldest first, each with a token made now."""
    return {"users": [with_token(call, user) for user in call.store.users.oldest_first(limit)]}


def update_user(call: Call, user_id: str, body: dict[str, Any]) -> dict[str, Any]:
    oid = parse_id(user_id, "user id")
    changes: dict[str, Any] = {k: body[k] for k in ("role", "status") if k in body}
    user = call.store.users.change(oid, changes)
    if user["status"] == "banned":
        call.effects.append(DisconnectUser(str(oid)))
    return {"user": user_view(user)}


def read_clock(call: Call) -> dict[str, str]:
    return {"now": isoformat(call.clock.now())}


def advance_clock(call: Call, body: dict[str, Any]) -> dict[str, str]:
    try:
        return {"now": isoformat(call.clock.advance(body["advanceSeconds"]))}
    except ClockOverflow as exc:
        raise ValidationFailed(f"{exc}; reset the sandbox to start again") from None


def empty_world(call: Call) -> None:
    """A fresh world: an empty store and the clock back at real time."""
    call.store.drop_everything()
    call.clock.reset()


def seed_demo(services: Services) -> list[tuple[Doc, str]]:
    """The demo cast with a token each; reuses users that already exist by email."""
    call = Call(services)
    cast = []
    for user_id, name, role, email in DEMO_CAST:
        oid = ObjectId(user_id)
        user = call.store.users.get(oid) or new_user(call, name, role, email, user_id=oid)
        cast.append((user, issue_token(services.settings, oid)))
    return cast


def users_to_disconnect(call: Call, user_id: str | None) -> list[str]:
    """The users whose sockets a disconnect drops: one of this sandbox's, or all of them."""
    if user_id is None:
        return [str(user["_id"]) for user in call.store.users.all_ids()]
    oid = parse_id(user_id, "userId")
    if call.store.users.get(oid) is None:
        raise NotFound("no user with that id in this sandbox")
    return [user_id]
