"""Attachments: typed by their bytes, bounded in size, served safely, gone with their message."""

from __future__ import annotations

from conformance import expect, samples
from conformance.check import Check
from conformance.http import Form
from conformance.registry import rule
from conformance.specs import operation

UPLOAD = operation("post", "/api/chat/{id}/messages/file")
DOWNLOAD = operation("get", "/api/chat/{id}/attachments/{fileId}")


@rule(
    "attachments.download-headers",
    "An attachment is served with Content-Disposition: attachment, X-Content-Type-Options: "
    "nosniff and an ETag; If-None-Match with that ETag is 304",
    DOWNLOAD,
)
async def download_headers(t: Check) -> None:
    (ann, ben), chat = await t.chat_of(2)
    message = expect.created(
        await ann.send_file(chat["_id"], samples.png_form("holiday photo.png"))
    )["message"]
    url = f"/api/chat/{chat['_id']}/attachments/{message['attachments'][0]['fileId']}"
    reply = expect.status(await ben.get(url), 200)
    disposition = reply.header("Content-Disposition") or ""
    expect.that(
        disposition.lower().startswith("attachment"), f"Content-Disposition is {disposition!r}"
    )
    expect.equal(
        (reply.header("X-Content-Type-Options") or "").lower(), "nosniff", "X-Content-Type-Options"
    )
    etag = reply.header("ETag")
    expect.that(etag, "no ETag")
    assert etag is not None
    expect.status(await ben.get(url, headers={"If-None-Match": etag}), 304)


@rule(
    "attachments.type-from-bytes",
    "A file's type is decided from its bytes, not the client's claim: a PNG sent as text is "
    "stored as image/png; a type not accepted is 415 UNSUPPORTED_FILE_TYPE and stores nothing",
    UPLOAD,
)
async def type_from_bytes(t: Check) -> None:
    (ann, ben), chat = await t.chat_of(2)
    disguised = samples.png_form("notes.txt", claimed="text/plain")
    message = expect.created(await ann.send_file(chat["_id"], disguised))["message"]
    expect.equal(
        message["attachments"][0]["mimeType"],
        "image/png",
        "the stored type of a PNG claimed as text",
    )
    archive = Form({}, "photo.png", samples.ARCHIVE, "image/png")
    expect.problem(await ann.send_file(chat["_id"], archive), 415, "UNSUPPORTED_FILE_TYPE")
    expect.equal(len(await ben.history(chat["_id"])), 1, "messages stored")


@rule(
    "attachments.too-large",
    "A file over upload.maxBytes is 413 FILE_TOO_LARGE with maxBytes, and stores nothing",
    UPLOAD,
)
async def too_large(t: Check) -> None:
    (ann, ben), chat = await t.chat_of(2)
    limit = t.limits.upload_max_bytes
    padded = samples.png() + bytes(limit + 1 - len(samples.png()))
    body = expect.problem(
        await ann.send_file(chat["_id"], Form({}, "huge.png", padded, "image/png")),
        413,
        "FILE_TOO_LARGE",
    )
    expect.equal(body.get("maxBytes"), limit, "the problem's maxBytes")
    expect.equal(await ben.history(chat["_id"]), [], "the history")


@rule(
    "attachments.deleted-gone",
    "Deleting a file message empties its attachments and its file is no longer served (404)",
    DOWNLOAD,
)
async def deleted_gone(t: Check) -> None:
    (ann, ben), chat = await t.chat_of(2)
    message = expect.created(await ann.send_file(chat["_id"], samples.png_form()))["message"]
    url = f"/api/chat/{chat['_id']}/attachments/{message['attachments'][0]['fileId']}"
    gone = expect.status(
        await ann.delete(f"/api/chat/{chat['_id']}/messages/{message['_id']}"), 200
    )
    expect.equal(gone.data["message"]["attachments"], [], "the tombstone's attachments")
    expect.problem(await ben.get(url), 404, "NOT_FOUND")
