"""Handlers of the `attachments` tag."""

from __future__ import annotations

from connexion import request
from starlette.responses import Response

from impl.api import current_caller
from impl.domain import attachments


async def download_attachment(id_: str, file_id: str) -> Response:
    caller = current_caller()
    if_none_match = request.headers.get("if-none-match")
    found = await caller.services.run(attachments.download, caller, id_, file_id, if_none_match)
    if found.content is None:
        return Response(status_code=304, headers=found.headers)
    return Response(
        found.content, status_code=200, headers=found.headers, media_type=found.media_type
    )
