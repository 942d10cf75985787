"""The request journal: what each sandbox was asked, for tests that assert on it.

`JournalRecorder`, a layer in front of the fault layer and Connexion, records every
request under `/api/` except the dev calls (those are a test's own set-up and reads, and
leaving them out means reading or clearing the journal never changes it) as
`{at, method, path, operationId, status, userId, query, body, faulted}`. What it keeps
is made safe by impl.devkit.redaction: no header, no token, no value under a secret-looking
key, strict JSON, and bounded sizes, counted in the bytes an entry retains:

    query        at most QUERY_LIMIT (4 KiB) of it, whole pairs, then `queryTruncated`
    JSON body    the redacted value when its compact JSON fits BODY_LIMIT (16 KiB); else
                 its first 16 KiB as redacted text with `bodyTruncated`
    multipart    its fields and `{file: {filename, mimeType, size}}`, all of them
                 together within BODY_LIMIT; the fields past it are left out
                 (`bodyTruncated`)

Each entry is kept as its compact JSON bytes (decoded when read), so what it retains is
what it counts. Each sandbox keeps its last CAPACITY (1,000) entries; all sandboxes'
journals together keep at most `CHAT_JOURNAL_MAX_BYTES` (`JournalBudget`), the oldest
entry of any sandbox leaving first.
"""

from __future__ import annotations

import itertools
import json
from collections import OrderedDict, deque
from collections.abc import AsyncGenerator, Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import Headers, UploadFile
from starlette.formparsers import MultiPartParser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from impl.clock import Clock, isoformat
from impl.devkit.faults import FAULTED
from impl.devkit.redaction import (
    REDACTED,
    bounded_json,
    compact,
    fit,
    is_secret_key,
    scrub_text,
    utf8,
)
from impl.errors import Unauthorized
from impl.settings import Settings
from impl.tokens import claims_of
from impl.web.context import noted_user
from impl.web.early_auth import bearer_token
from impl.web.routes import Routes, is_dev_path

CAPACITY = 1000
BODY_LIMIT = 16 * 1024
QUERY_LIMIT = 4 * 1024
PATH_LIMIT = 2 * 1024

Entry = dict[str, Any]


class JournalBudget:
    """The bytes every journal of the process retains together, at most `max_bytes`:
    past it, the oldest entry of any journal is evicted first."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.used = 0
        self._ids = itertools.count()
        self._order: OrderedDict[int, Journal] = OrderedDict()

    def take(self, journal: Journal, size: int) -> int:
        """An id for a new entry of `size` bytes in `journal`, older ones evicted to fit."""
        entry_id = next(self._ids)
        self._order[entry_id] = journal
        self.used += size
        while self.used > self.max_bytes and len(self._order) > 1:
            oldest, owner = self._order.popitem(last=False)
            owner.evict(oldest)
        return entry_id

    def release(self, entry_id: int, size: int) -> None:
        """An entry left its journal (by count, clear, or eviction here)."""
        self._order.pop(entry_id, None)
        self.used -= size


class Journal:
    """One sandbox's entries, oldest first, each as (id, operationId, compact JSON)."""

    def __init__(self, budget: JournalBudget | None = None, capacity: int = CAPACITY) -> None:
        self.budget = budget or JournalBudget(max_bytes=1 << 62)
        self.capacity = capacity
        self._entries: deque[tuple[int, str | None, bytes]] = deque()

    def add(self, entry: Entry) -> None:
        blob = utf8(compact(entry))
        if len(self._entries) >= self.capacity:
            self._drop_oldest()
        entry_id = self.budget.take(self, len(blob))
        self._entries.append((entry_id, entry.get("operationId"), blob))

    def recent(self, operation_id: str | None = None, limit: int = CAPACITY) -> list[Entry]:
        """Newest first."""
        found: list[Entry] = []
        for _, operation, blob in reversed(self._entries):
            if len(found) == limit:
                break
            if operation_id in (None, operation):
                found.append(json.loads(blob))
        return found

    @property
    def retained_bytes(self) -> int:
        return sum(len(blob) for _, _, blob in self._entries)

    def evict(self, entry_id: int) -> None:
        """The budget evicts this journal's oldest entry (which is `entry_id`)."""
        if self._entries and self._entries[0][0] == entry_id:
            _, _, blob = self._entries.popleft()
            self.budget.used -= len(blob)

    def _drop_oldest(self) -> None:
        entry_id, _, blob = self._entries.popleft()
        self.budget.release(entry_id, len(blob))

    def clear(self) -> int:
        cleared = len(self._entries)
        while self._entries:
            self._drop_oldest()
        return cleared

    def __len__(self) -> int:
        return len(self._entries)


def query_of(scope: Scope, token: str | None = None) -> tuple[dict[str, Any], bool]:
    """The query's pairs, secrets replaced, as many whole pairs as fit QUERY_LIMIT; and
    whether some were left out."""
    query: dict[str, str | list[str]] = {}
    used = 2
    raw = scope.get("query_string", b"").decode("latin-1")
    for key, value in parse_qsl(raw, keep_blank_values=True):
        key = scrub_text(key, token)
        value = REDACTED if is_secret_key(key) else scrub_text(value, token)
        used += len(utf8(compact(key))) + len(utf8(compact(value))) + 2
        if used > QUERY_LIMIT:
            return query, True
        held = query.get(key)
        query[key] = (
            value if held is None else [*([held] if isinstance(held, str) else held), value]
        )
    return query, False


def json_body(raw: bytes, token: str | None = None) -> Entry:
    body, cut = bounded_json(raw, BODY_LIMIT, token)
    return {"body": body, "bodyTruncated": cut}


async def multipart_body(scope: Scope, raw: bytes, token: str | None = None) -> Entry:
    """The form's fields, and name, type and size of its files, within BODY_LIMIT all
    together. Every spooled copy the parser opens is closed here, also when the envelope
    is cut off or malformed."""

    async def chunks() -> AsyncGenerator[bytes, None]:
        yield raw

    parser = MultiPartParser(Headers(scope=scope), chunks(), max_part_size=BODY_LIMIT)
    body: dict[str, Any] = {}
    used, cut = 2, False
    try:
        form = await parser.parse()
        for key, value in form.multi_items():
            name = scrub_text(key, token)
            kept: Any
            if is_secret_key(key):
                kept = REDACTED
            elif isinstance(value, UploadFile):
                filename = scrub_text(value.filename or "", token)
                kept = {"filename": filename, "mimeType": value.content_type, "size": value.size}
            else:
                kept = scrub_text(value, token)
            size = len(utf8(compact({name: kept})))
            if used + size > BODY_LIMIT:
                if not isinstance(kept, str):
                    cut = True
                    break
                kept = fit(kept, max(BODY_LIMIT - used - len(utf8(compact(name))) - 8, 0))
                size = len(utf8(compact({name: kept})))
                cut = True
            body[name] = kept
            used += size
            if cut:
                break
    except Exception:  # a malformed envelope is the operation's to refuse; note what came
        return {"body": {"size": len(raw)}, "bodyTruncated": True}
    finally:
        for file in parser._files_to_close_on_error:
            file.close()
    return {"body": body, "bodyTruncated": cut}


class JournalRecorder:
    """`journal_of()` / `clock_of()`: the running request's sandbox's journal and clock."""

    def __init__(
        self,
        app: ASGIApp,
        routes: Routes,
        settings: Settings,
        journal_of: Callable[[], Journal],
        clock_of: Callable[[], Clock],
    ) -> None:
        self.app = app
        self.routes = routes
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
            token = bearer_token(scope)
            query, query_cut = query_of(scope, token)
            entry: Entry = {
                "at": isoformat(at),
                "method": scope["method"],
                "path": fit(scrub_text(path, token), PATH_LIMIT),
                "operationId": self.routes.find(scope["method"], path),
                "status": status,
                "userId": noted_user() or self.token_user(token),
                "query": query,
                "faulted": bool(scope.get(FAULTED)),
            }
            if query_cut:
                entry["queryTruncated"] = True
            raw = b"".join(chunks)
            if raw and "json" in content_type:
                entry.update(json_body(raw[: BODY_LIMIT + 1], token))
            elif raw and keep_all:
                entry.update(await multipart_body(scope, raw, token))
            journal.add(entry)

    def token_user(self, token: str | None) -> str | None:
        """Whom a request's token names, for requests a fault answered before auth ran."""
        try:
            return None if token is None else str(claims_of(self.settings, token)["sub"])
        except Unauthorized:
            return None
