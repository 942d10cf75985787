"""Handlers of the `attachments` tag: the stored bytes with their type, a safe
`Content-Disposition` and an `ETag` (304 when the client already holds them)."""

from __future__ import annotations

from urllib.parse import quote

from connexion import request
from starlette import responses

from impl.api import Response, invoke
from impl.domain import attachments


async def download_attachment(id_: str, file_id: str) -> Response:
    if_none_match = request.headers.get("if-none-match")
    return await invoke(
        attachments.download, id_, file_id, answer=lambda d: _file(d, if_none_match)
    )


def _file(found: attachments.Download, if_none_match: str | None) -> responses.Response:
    etag = f'"{found.file_id}"'  # stored files never change, so the id identifies the bytes
    headers = {
        "ETag": etag,
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": content_disposition(found.file.filename),
        "Cache-Control": "private, no-cache",
    }
    if if_none_match and etag in {t.strip() for t in if_none_match.split(",")}:
        return responses.Response(status_code=304, headers=headers)
    return responses.Response(
        found.file.content, status_code=200, headers=headers, media_type=found.file.mime_type
    )


def content_disposition(filename: str) -> str:
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_")
    value = f'attachment; filename="{ascii_name}"'
    if ascii_name != filename:
        value += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return value
