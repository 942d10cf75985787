"""Request body limits, applied before a body is read and while it is read.

JSON bodies may be up to `max_json_bytes`; the file upload path allows the file limit
plus 64 KiB for the multipart envelope and caption. A `Content-Length` over the limit is
refused at once; a body without one (chunked) is counted as it streams and refused when
it passes the limit. Either way the answer is 413 with `maxBytes`.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from impl.errors import PayloadTooLarge

MULTIPART_ALLOWANCE = 64 * 1024


def upload_path(path: str) -> bool:
    return path.startswith("/api/chat/") and path.endswith("/messages/file")


def too_large(limit: int, is_file: bool) -> PayloadTooLarge:
    if is_file:
        return PayloadTooLarge(
            f"the file is larger than {limit - MULTIPART_ALLOWANCE} bytes",
            code="FILE_TOO_LARGE",
            maxBytes=limit - MULTIPART_ALLOWANCE,
        )
    return PayloadTooLarge(f"the body is larger than {limit} bytes", maxBytes=limit)


class BodyLimit:
    """Wraps `receive` so that Connexion's own exception handling renders the 413."""

    def __init__(self, app: ASGIApp, json_limit: int, file_limit: int) -> None:
        self.app = app
        self.json_limit = json_limit
        self.file_limit = file_limit + MULTIPART_ALLOWANCE

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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, is_file = self.limit_for(scope["path"])
        declared = self.declared_length(scope)
        seen = 0
        refuse_now = declared is not None and declared > limit

        async def counted_receive() -> Message:
            nonlocal seen
            if refuse_now:
                raise too_large(limit, is_file)
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise too_large(limit, is_file)
            return message

        await self.app(scope, counted_receive, send)
