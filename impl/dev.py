"""Development helpers behind `/api/dev`: users with tokens, a movable clock, a reset.

They exist with the embedded store (or with `--dev`); otherwise every dev path is 404.
`seed_demo` fills an empty embedded store with the demo cast `serve` prints.
"""

from __future__ import annotations

from typing import Any

from bson import ObjectId

from impl.auth import issue_token
from impl.clock import isoformat
from impl.context import Services
from impl.effects import DisconnectUser, Effect
from impl.errors import NotFound
from impl.limits import clean_text
from impl.reply import Reply
from impl.store import Doc, parse_id
from impl.views import user_view

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
    token = issue_token(services.settings, user["_id"])
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
