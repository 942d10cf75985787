"""Handlers of the `messages` tag."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import UploadFile

from impl.api import Envelope, Response, invoke, ok
from impl.domain import attachments, messages
from impl.web.problems import rate_limit_headers


def sent(result: messages.Sent) -> Envelope:
    """201 for a new message, 200 for the original of a retry; with the allowance left."""
    status = 201 if result.created else 200
    return ok({"message": result.message}, status, rate_limit_headers(result.allowance))


async def list_messages(
    id_: str, page: int = 1, limit: int = 20, before: str | None = None
) -> Response:
    return await invoke(messages.history, id_, page, limit, before)


async def send_message(id_: str, body: dict[str, Any]) -> Response:
    return await invoke(messages.send, id_, body, answer=sent)


async def send_file_message(id_: str, body: dict[str, Any], file: Any = None) -> Response:
    upload = attachments.FileUpload(file.filename, file.file) if is_file(file) else None
    try:
        return await invoke(attachments.send, id_, body, upload, answer=sent)
    finally:
        if is_file(file):  # the upload's spooled file: nothing else closes it
            await file.close()


def is_file(field: Any) -> bool:
    """Whether a form field Connexion handed over is a file (not text, not missing)."""
    return isinstance(field, UploadFile)


async def mark_messages_read(id_: str, body: dict[str, Any] | None = None) -> Response:
    return await invoke(messages.mark_read, id_, body)


async def edit_message(id_: str, message_id: str, body: dict[str, Any]) -> Response:
    return await invoke(messages.edit, id_, message_id, body)


async def delete_message(id_: str, message_id: str) -> Response:
    return await invoke(messages.delete, id_, message_id)
