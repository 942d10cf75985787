"""The request journal: what each sandbox was asked, for tests that assert on it.

`JournalRecorder`, a layer in front of the fault layer and Connexion, records every
request under `/api/` except the dev calls (those are a test's own set-up and reads, and
leaving them out means reading or clearing the journal never changes it) as
`{at, method, path, operationId, status, userId, query, body, faulted}`. Bodies: JSON as
sent up to 16 KiB (beyond that, the first 16 KiB as text and `bodyTruncated`); multipart
as its fields plus `{file: {filename, mimeType, size}}`; anything else left out. No header
is recorded, and values under keys that name credentials (token, password, secret,
authorization) are replaced, so no token ever reaches the journal. Each sandbox keeps its
last 1,000 entries.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import AsyncGenerator, Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import Headers, UploadFile
from starlette.formparsers import MultiPartParser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from impl.auth import claims_of
from impl.clock import Clock, isoformat
from impl.domain.input_rules import BODY_MAX_DEPTH
from impl.errors import Unauthorized
from impl.services import noted_user
from impl.settings import Settings
from impl.web.early_auth import bearer_token
from impl.web.faults import FAULTED
from impl.web.operations import Operations, is_dev_path

CAPACITY = 1000
BODY_LIMIT = 16 * 1024
SECRET_KEY = re.compile(r"token|password|secret|authorization", re.IGNORECASE)
REDACTED = "[redacted]"
MAX_DEPTH = BODY_MAX_DEPTH
TOO_DEEP = "[nested too deep]"

Entry = dict[str, Any]


class Journal:
    def __init__(self, capacity: int = CAPACITY) -> None:
        self._entries: deque[Entry] = deque(maxlen=capacity)

    def add(self, entry: Entry) -> None:
        self._entries.append(entry)

    def recent(self, operation_id: str | None = None, limit: int = CAPACITY) -> list[Entry]:
        """Newest first."""
        found = [e for e in reversed(self._entries) if operation_id in (None, e["operationId"])]
        return found[:limit]

    def clear(self) -> int:
        cleared = len(self._entries)
        self._entries.clear()
        return cleared


def redacted(value: Any, depth: int = 0) -> Any:
    """`value` with secrets masked; nesting past what any valid body has is cut (the
    request itself is refused with 400, but its journal entry must not fail)."""
    if depth > MAX_DEPTH and isinstance(value, dict | list):
        return TOO_DEEP
    if isinstance(value, dict):
        return {
            k: REDACTED if SECRET_KEY.search(str(k)) else redacted(v, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redacted(v, depth + 1) for v in value]
    return value


def query_of(scope: Scope) -> dict[str, str | list[str]]:
    query: dict[str, str | list[str]] = {}
    for key, value in parse_qsl(scope.get("query_string", b"").decode("latin-1"), True):
        held = query.get(key)
        query[key] = (
            value if held is None else [*([held] if isinstance(held, str) else held), value]
        )
    return redacted(query)  # type: ignore[no-any-return]


def json_body(raw: bytes) -> dict[str, Any]:
    if len(raw) > BODY_LIMIT:
        text = raw[:BODY_LIMIT].decode("utf-8", "replace")
        return {"body": text, "bodyTruncated": True}
    try:
        return {"body": redacted(json.loads(raw))}
    except (ValueError, RecursionError):
        return {"body": raw.decode("utf-8", "replace"), "bodyTruncated": False}


async def multipart_body(scope: Scope, raw: bytes) -> dict[str, Any]:
    """The form's fields, and name, type and size of its files. Every spooled copy the
    parser opens is closed here, also when the envelope is cut off or malformed."""

    async def chunks() -> AsyncGenerator[bytes, None]:
        yield raw

    parser = MultiPartParser(Headers(scope=scope), chunks(), max_part_size=BODY_LIMIT)
    body: dict[str, Any] = {}
    try:
        form = await parser.parse()
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                body[key] = {
                    "filename": value.filename,
                    "mimeType": value.content_type,
                    "size": value.size,
                }
            else:
                body[key] = value
    except Exception:  # a malformed envelope is the operation's to refuse; note what came
        return {"body": {"size": len(raw)}, "bodyTruncated": True}
    finally:
        for file in parser._files_to_close_on_error:
            file.close()
    return {"body": redacted(body)}


class JournalRecorder:
    """`journal_of()` / `clock_of()`: the running request's sandbox's journal and clock."""

    def __init__(
        self,
        app: ASGIApp,
        operations: Operations,
        settings: Settings,
        journal_of: Callable[[], Journal],
        clock_of: Callable[[], Clock],
    ) -> None:
        self.app = app
        self.operations = operations
        self.settings = settings
        self.journal_of = journal_of
        self.clock_of = clock_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/api/") or is_dev_path(path):
            await self.app(scope, receive, send)
            return
        journal, at = self.journal_of(), self.clock_of().now()
        content_type = Headers(scope=scope).get("content-type", "").lower()
        keep_all = content_type.startswith("multipart/")
        chunks: list[bytes] = []
        held = 0
        status = 500

        async def recording_receive() -> Message:
            nonlocal held
            message = await receive()
            if message["type"] == "http.request" and (keep_all or held <= BODY_LIMIT):
                chunks.append(message.get("body", b""))
                held += len(chunks[-1])
            return message

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, recording_receive, recording_send)
        finally:
            entry: Entry = {
                "at": isoformat(at),
                "method": scope["method"],
                "path": path,
                "operationId": self.operations.find(scope["method"], path),
                "status": status,
                "userId": noted_user() or self.token_user(scope),
                "query": query_of(scope),
                "faulted": bool(scope.get(FAULTED)),
            }
            raw = b"".join(chunks)
            if raw and "json" in content_type:
                entry.update(json_body(raw))
            elif raw and keep_all:
                entry.update(await multipart_body(scope, raw))
            journal.add(entry)

    def token_user(self, scope: Scope) -> str | None:
        """Whom a request's token names, for requests a fault answered before auth ran."""
        token = bearer_token(scope)
        try:
            return None if token is None else str(claims_of(self.settings, token)["sub"])
        except Unauthorized:
            return None
