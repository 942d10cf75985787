"""Connexion's bearer hook (`x-bearerInfoFunc` in openapi.yaml): the user a request's
token names, if that user exists and is active, handed to every handler as token info.

`impl.web.early_auth` has already refused missing, malformed, expired and wrongly signed
tokens before the body was read; this hook looks the user up in the request's world.
"""

from __future__ import annotations

from typing import Any

from impl.domain.access import active_user
from impl.store import Doc
from impl.tokens import subject_of
from impl.web.context import current_services, note_user


async def authenticate(token: str) -> Doc:
    services = current_services()
    user_id = subject_of(services.settings, token)
    return await services.run(active_user, services.store, user_id)


async def bearer_info(token: str) -> dict[str, Any]:
    """Connexion's `x-bearerInfoFunc`: the token info handed to every handler."""
    user = await authenticate(token)
    note_user(str(user["_id"]))
    return {"sub": str(user["_id"]), "user": user}
