"""Tokens: issue them and verify them.

HS256 JWTs with `sub` (the user id), `iat` and `exp`, both required, and `sbx` for a
token issued in a sandbox other than `default`. A token only names its user: role and
ban status are read from the stored user on every request (`impl.domain.access`), so a
ban takes effect at once. Token expiry follows real time, never the dev clock. Checking a
request's token is the web edge's job (impl.web.bearer); nothing here reads a request.
"""

from __future__ import annotations

import time
from typing import Any

import jwt
from bson import ObjectId
from bson.errors import InvalidId

from impl.errors import Unauthorized
from impl.settings import Settings

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


class VerifiedTokens:
    """Tokens already verified, by (secret, token): a token is checked by the bearer gate,
    the sandbox router and the bearer hook in one request, and again on every request of
    a client, and its signature and claims cannot change. Only expiry moves, so a hit is
    checked against the clock exactly as PyJWT checks `exp`. At most `size` are kept, the
    oldest going first; only tokens that verified are kept."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._claims: dict[tuple[str, str], dict[str, Any]] = {}

    def get(self, secret: str, token: str) -> dict[str, Any] | None:
        claims = self._claims.get((secret, token))
        if claims is not None and int(claims["exp"]) <= time.time():
            raise Unauthorized("token has expired")
        return claims

    def put(self, secret: str, token: str, claims: dict[str, Any]) -> None:
        if len(self._claims) >= self.size:
            self._claims.pop(next(iter(self._claims)), None)
        self._claims[(secret, token)] = claims


VERIFIED = VerifiedTokens()


def claims_of(settings: Settings, token: str) -> dict[str, Any]:
    """The claims of a token we signed that has not expired; `Unauthorized` otherwise."""
    secret = settings.signing_secret
    known = VERIFIED.get(secret, token)
    if known is not None:
        return known
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
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
    VERIFIED.put(secret, token, claims)
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
