"""Request body limits, applied before a body is read and while it is read: size and time.

JSON bodies may be up to `max_json_bytes`; the file upload path allows the file limit
plus an allowance for the multipart envelope and caption (`multipart_allowance_bytes`). A
`Content-Length` over the limit is refused before anything is read; a body without one
(chunked) is read here, counted as it streams and refused once it passes the limit
(Connexion only looks at bodies that declare their length, so a chunked body within the
limit is handed on with its length set). Either way the answer is 413 with `maxBytes`.

`BodyDeadline` bounds time: a client that stops sending its body for `idle_seconds` gets
408 `REQUEST_TIMEOUT` and its connection is closed, whoever was reading the body (Connexion
renders the problem itself; Engine.IO's reads and the chunked read here are answered by
`BodyDeadline`). How long the headers may take is bounded by the server (impl.serve).
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from impl.errors import PayloadTooLarge, RequestTimeout
from impl.web.problems import send_problem

BODY_METHODS = {"POST", "PUT", "PATCH"}


def without_content_type(scope: Scope) -> Scope:
    """An empty body has no media type: clients that label one anyway (aiohttp sends
    `application/octet-stream` on a bare PUT) must not get 415 for an optional body."""
    headers = [(k, v) for k, v in scope.get("headers", []) if k != b"content-type"]
    return {**scope, "headers": headers}


def with_body(scope: Scope, body: bytes) -> tuple[Scope, Receive]:
    """The request again, its whole body in hand and its length declared."""
    headers = [(k, v) for k, v in scope.get("headers", []) if k != b"transfer-encoding"]
    headers.append((b"content-length", str(len(body)).encode()))
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return {**scope, "headers": headers}, replay


def upload_path(path: str) -> bool:
    return path.startswith("/api/chat/") and path.endswith("/messages/file")


def too_large(limit: int, is_file: bool, allowance: int) -> PayloadTooLarge:
    if is_file:
        return PayloadTooLarge(
            f"the file is larger than {limit - allowance} bytes",
            code="FILE_TOO_LARGE",
            maxBytes=limit - allowance,
        )
    return PayloadTooLarge(f"the body is larger than {limit} bytes", maxBytes=limit)


class BodyLimit:
    """Wraps `receive` so that Connexion's own exception handling renders the 413."""

    def __init__(self, app: ASGIApp, json_limit: int, file_limit: int, allowance: int) -> None:
        self.app = app
        self.json_limit = json_limit
        self.allowance = allowance
        self.file_limit = file_limit + allowance

    def limit_for(self, path: str) -> tuple[int, bool]:
        is_file = upload_path(path)
        return (self.file_limit if is_file else self.json_limit), is_file

    def declared_length(self, scope: Scope) -> int | None:
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    return int(value)
                except ValueError:
                    return None
        return None

    async def read_chunked(self, receive: Receive, limit: int) -> bytes | None:
        """The whole body, or None as soon as it passes `limit`."""
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return bytes(body)
            body += message.get("body", b"")
            if len(body) > limit:
                return None
            if not message.get("more_body", False):
                return bytes(body)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, is_file = self.limit_for(scope["path"])
        declared = self.declared_length(scope)
        if declared is not None and declared > limit:
            await send_problem(send, too_large(limit, is_file, self.allowance))
            return
        if declared is None and scope["method"] in BODY_METHODS:
            try:
                body = await self.read_chunked(receive, limit)
            except RequestTimeout as exc:
                await send_problem(send, exc)
                return
            if body is None:
                await send_problem(send, too_large(limit, is_file, self.allowance))
                return
            scope, receive = with_body(scope, body)
            declared = len(body)
        if declared == 0:
            scope = without_content_type(scope)
        seen = 0

        async def counted_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise too_large(limit, is_file, self.allowance)
            return message

        await self.app(scope, counted_receive, send)


class BodyDeadline:
    """Wraps `receive` so that waiting for the next part of a body ends after `idle_seconds`
    with `RequestTimeout`; answers it with 408 when the reader let it escape."""

    def __init__(self, app: ASGIApp, idle_seconds: float) -> None:
        self.app = app
        self.idle_seconds = idle_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body_complete = False
        response_started = False

        async def timed_receive() -> Message:
            nonlocal body_complete
            if body_complete:  # what is left to hear is the disconnect: no deadline
                return await receive()
            try:
                async with asyncio.timeout(self.idle_seconds):
                    message = await receive()
            except TimeoutError:
                raise RequestTimeout(
                    f"no part of the request body arrived for {self.idle_seconds:g} s"
                ) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_complete = True
            return message

        async def watched_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, timed_receive, watched_send)
        except RequestTimeout as exc:
            if response_started:
                raise
            await send_problem(send, exc)
