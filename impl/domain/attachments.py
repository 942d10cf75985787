"""File messages: the upload's type decided from its bytes, its name made safe, its bytes
streamed into GridFS, and the download served only to participants.

The request body was already bounded by `impl.web.body_limits.BodyLimit` (Content-Length
preflight and a byte count while reading), so the spooled upload is at most the limit
plus the multipart envelope; here the file itself is held to `max_upload_bytes`.
"""

from __future__ import annotations

import codecs
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from typing import IO, Any

import filetype
from bson import ObjectId

from impl.domain import messages, rate_limits
from impl.domain.access import load_member_chat
from impl.domain.input_rules import parse_id
from impl.domain.services import Caller
from impl.errors import NotFound, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from impl.store import Doc
from impl.store.gridfs import StoredFile

CHUNK = 256 * 1024
SNIFF_BYTES = 512
HTML_SIGNS = (
    b"<!doctype",
    b"<html",
    b"<head",
    b"<body",
    b"<script",
    b"<iframe",
    b"<svg",
    b"<?xml",
    b"<a ",
    b"<div",
    b"<img",
    b"<style",
    b"<meta",
    b"<link",
    b"<object",
    b"<embed",
)
TEXT_CONTROLS_ALLOWED = {"\t", "\n", "\r", "\f"}
UNSAFE_NAME_CHARS = re.compile(r'[<>:"/\\|?*&;`$\']')
# our own bound (the spec sets none): a stored name stays readable in Content-Disposition
FILENAME_MAX_LENGTH = 200


@dataclass(frozen=True)
class FileUpload:
    """A file as the client sent it: the name it gave (maybe none) and its bytes, which the
    web edge has spooled (the request body's own limits already held)."""

    filename: str | None
    stream: IO[bytes]


@dataclass(frozen=True)
class Upload:
    """What the server decided about an uploaded file."""

    filename: str
    mime_type: str
    size: int
    digest: str


def safe_filename(raw: str | None) -> str:
    """The last path segment, without control characters, markup or shell metacharacters."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = UNSAFE_NAME_CHARS.sub("_", name).strip(" .")
    return name[:FILENAME_MAX_LENGTH] or "file"


def sniff(head: bytes, stream: IO[bytes]) -> str | None:
    """The type the bytes say they are: a known signature, HTML-like markup, or UTF-8 text."""
    kind: str | None = filetype.guess_mime(head)
    if kind is not None:
        return kind
    lowered = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if any(lowered.startswith(sign) for sign in HTML_SIGNS):
        return "text/html"
    return "text/plain" if _is_utf8_text(stream) else None


def _is_utf8_text(stream: IO[bytes]) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    stream.seek(0)
    try:
        while chunk := stream.read(CHUNK):
            text = decoder.decode(chunk)
            if any(ch < " " and ch not in TEXT_CONTROLS_ALLOWED for ch in text):
                return False
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def inspect(caller: Caller, upload: FileUpload) -> Upload:
    """Size, sniffed type and digest of an upload, or 413 / 415."""
    stream = upload.stream
    limit = caller.settings.max_upload_bytes
    stream.seek(0, 2)
    size = stream.tell()
    if size > limit:
        raise PayloadTooLarge(
            f"the file is larger than {limit} bytes", code="FILE_TOO_LARGE", maxBytes=limit
        )
    stream.seek(0)
    head = stream.read(SNIFF_BYTES)
    if not head:
        raise ValidationFailed("the file is empty")
    kind = sniff(head, stream)
    if kind not in caller.settings.mime_types:
        raise UnsupportedMediaType(
            f"files of type {kind or 'unknown'} are not accepted",
            code="UNSUPPORTED_FILE_TYPE",
        )
    digest = hashlib.sha256()
    stream.seek(0)
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
    return Upload(safe_filename(upload.filename), kind, size, digest.hexdigest())


def _store_bytes(caller: Caller, chat: Doc, upload: FileUpload, meta: Upload) -> dict[str, Any]:
    upload.stream.seek(0)
    file_id = caller.store.files.save(
        chat["_id"], meta.filename, meta.mime_type, upload.stream, CHUNK
    )
    return {
        "fileId": file_id,
        "filename": meta.filename,
        "mimeType": meta.mime_type,
        "size": meta.size,
    }


@messages.reporting_allowance
def send(
    caller: Caller, chat_id: str, form: dict[str, Any], upload: FileUpload | None
) -> messages.Sent:
    chat = load_member_chat(caller, chat_id)
    if upload is None:
        raise ValidationFailed("the form field 'file' must hold a file")
    fields = {
        k: form[k]
        for k in ("content", "replyToMessageId", "clientMessageId")
        if form.get(k) is not None
    }
    pending = messages.draft(caller, chat, fields, allow_empty=True)
    meta = inspect(caller, upload)
    pending.file_digest = meta.digest
    retry = messages.find_retry(caller, chat, pending)
    if retry is not None:
        return retry
    allowance = rate_limits.reserve(caller)
    attachment: dict[str, Any] | None = None
    try:
        attachment = _store_bytes(caller, chat, upload, meta)
        pending.attachments = [attachment]
        sent = messages.store_new(caller, chat, pending, allowance)
    except BaseException:
        rate_limits.release(caller, allowance)
        if attachment is not None:
            caller.store.files.remove([attachment["fileId"]])
        raise
    if not sent.created:  # a concurrent retry stored the same message first
        caller.store.files.remove([attachment["fileId"]])
    return sent


@dataclass(frozen=True)
class Download:
    """An attachment of the chat, read by one of its participants."""

    file_id: ObjectId
    file: StoredFile


def download(caller: Caller, chat_id: str, file_id: str) -> Download:
    chat = load_member_chat(caller, chat_id)
    oid = parse_id(file_id, "fileId")
    # a file outlives neither its message's delete nor a failed send: it exists only
    # while a message of the chat holds it
    stored = caller.store.files.read_in_chat(chat["_id"], oid)
    if stored is None:
        raise NotFound("attachment not found")
    return Download(oid, stored)
