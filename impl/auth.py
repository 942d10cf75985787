"""Tokens: issue them, verify them, and Connexion's bearer hook.

HS256 JWTs with `sub` (the user id), `iat` and `exp`, both required. The token only names
the user: role and ban status are read from the stored user on every request, so a ban
takes effect at once. Token expiry follows real time, never the dev clock.
"""

from __future__ import annotations

import time
from typing import Any

import jwt
from bson import ObjectId
from bson.errors import InvalidId

from impl.errors import Unauthorized
from impl.services import current_services, note_user
from impl.settings import Settings
from impl.store import Doc, Store

ALGORITHM = "HS256"
SANDBOX_CLAIM = "sbx"
DEFAULT_SANDBOX = "default"


def issue_token(
    settings: Settings,
    user_id: ObjectId | str,
    ttl_seconds: int | None = None,
    sandbox: str | None = None,
) -> str:
    """A token for the user; one made in a sandbox other than the default names it (`sbx`)."""
    now = int(time.time())
    ttl = settings.token_ttl_seconds if ttl_seconds is None else ttl_seconds
    claims: dict[str, Any] = {"sub": str(user_id), "iat": now, "exp": now + ttl}
    if sandbox and sandbox != DEFAULT_SANDBOX:
        claims[SANDBOX_CLAIM] = sandbox
    return jwt.encode(claims, settings.signing_secret, algorithm=ALGORITHM)


def claims_of(settings: Settings, token: str) -> dict[str, Any]:
    """The claims of a token we signed that has not expired; `Unauthorized` otherwise."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            settings.signing_secret,
            algorithms=[ALGORITHM],
            options={"require": ["exp", "sub", "iat"]},
        )
        ObjectId(claims["sub"])
    except jwt.ExpiredSignatureError:
        raise Unauthorized("token has expired") from None
    except (jwt.InvalidTokenError, InvalidId, TypeError):
        raise Unauthorized("token is missing or invalid") from None
    if not isinstance(claims.get(SANDBOX_CLAIM, ""), str):
        raise Unauthorized("token is missing or invalid")
    return claims


def subject_of(settings: Settings, token: str) -> ObjectId:
    """The user id a token names; `Unauthorized` for any token we did not sign or that expired."""
    return ObjectId(claims_of(settings, token)["sub"])


def sandbox_of_token(settings: Settings, token: str) -> str | None:
    """The sandbox a valid token was issued in (None: the default one, or not a valid token)."""
    try:
        sandbox: str | None = claims_of(settings, token).get(SANDBOX_CLAIM)
    except Unauthorized:
        return None
    return sandbox


def active_user(store: Store, user_id: ObjectId) -> Doc:
    user = store.users.get(user_id)
    if user is None:
        raise Unauthorized("token names an unknown user")
    if user.get("status") == "banned":
        raise Unauthorized("this user is banned")
    return user


async def authenticate(token: str) -> Doc:
    services = current_services()
    user_id = subject_of(services.settings, token)
    return await services.run(active_user, services.store, user_id)


async def bearer_info(token: str) -> dict[str, Any]:
    """Connexion's `x-bearerInfoFunc`: the token info handed to every handler."""
    user = await authenticate(token)
    note_user(str(user["_id"]))
    return {"sub": str(user["_id"]), "user": user}
