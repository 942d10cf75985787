"""The journal: what each sandbox was asked, for tests that assert on it.

`JournalRecorder`, a layer in front of the fault layer and Connexion, records every
request under `/api/` except the dev calls (those are a test's own set-up and reads, and
leaving them out means reading or clearing the journal never changes it) as
`{kind: "rest", at, method, path, operationId, status, userId, query, body, faulted,
baseUrl, bearer, contentType, durationMs, response}`; impl.devkit.socket_journal adds
the Socket.IO traffic as `kind: "socket"` entries. What it keeps is made safe by
impl.devkit.redaction: no header but the request's media type and the response headers a
client's logic reads (`KEPT_RESPONSE_HEADERS`), no token (`bearer` only says one was
sent), no value under a secret-looking key, strict JSON, and bounded sizes, counted in
the bytes an entry retains:

    query        at most QUERY_LIMIT (4 KiB) of it, whole pairs, then `queryTruncated`
    JSON body    the redacted value when its compact JSON fits BODY_LIMIT (16 KiB); else
                 its first 16 KiB as redacted text with `bodyTruncated`
    multipart    its fields and `{file: {filename, mimeType, size}}`, all of them
                 together within BODY_LIMIT; the fields past it are left out
                 (`bodyTruncated`)
    response     a JSON or text body kept like a JSON request body (others: only their
                 size), within BODY_LIMIT

Each entry is kept as its compact JSON bytes (decoded when read), so what it retains is
what it counts. Each sandbox keeps the last CAPACITY (1,000) entries of each kind; all
sandboxes' journals together keep at most `CHAT_JOURNAL_MAX_BYTES` (`JournalBudget`),
the oldest entry of any sandbox leaving first.
"""

from __future__ import annotations

import heapq
import itertools
import json
import time
from collections import OrderedDict, deque
from collections.abc import AsyncGenerator, Callable, Iterator
from dataclasses import dataclass
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
    raw_text,
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
REST = "rest"
SOCKET = "socket"
BODY_LIMIT = 16 * 1024
QUERY_LIMIT = 4 * 1024
PATH_LIMIT = 2 * 1024
HEADER_LIMIT = 256
# the response headers a client's logic reads, kept for exports (never Set-Cookie)
KEPT_RESPONSE_HEADERS = frozenset(
    {
        "content-type",
        "location",
        "retry-after",
        "www-authenticate",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    }
)

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


@dataclass(frozen=True)
class Tags:
    """What the journal filters on without decoding an entry."""

    kind: str
    operation: str | None = None
    event: str | None = None
    user: str | None = None

    @classmethod
    def of(cls, entry: Entry) -> Tags:
        return cls(
            entry.get("kind", REST),
            entry.get("operationId"),
            entry.get("event"),
            entry.get("userId"),
        )


@dataclass(frozen=True)
class Filter:
    """Which entries a read wants; None matches anything."""

    kind: str | None = None
    operation: str | None = None
    event: str | None = None
    user: str | None = None

    def matches(self, tags: Tags) -> bool:
        return (
            self.kind in (None, tags.kind)
            and self.operation in (None, tags.operation)
            and self.event in (None, tags.event)
            and self.user in (None, tags.user)
        )


class Journal:
    """One sandbox's entries, oldest first, each as (id, tags, compact JSON). Each kind
    (`rest`, `socket`) keeps its last `capacity` entries, so a busy room's deliveries never
    push the REST requests out."""

    def __init__(self, budget: JournalBudget | None = None, capacity: int = CAPACITY) -> None:
        self.budget = budget or JournalBudget(max_bytes=1 << 62)
        self.capacity = capacity
        self._entries: dict[str, deque[tuple[int, Tags, bytes]]] = {}

    def add(self, entry: Entry) -> None:
        tags = Tags.of(entry)
        blob = utf8(compact(entry))
        entries = self._entries.setdefault(tags.kind, deque())
        if len(entries) >= self.capacity:
            self._drop_oldest(entries)
        entry_id = self.budget.take(self, len(blob))
        entries.append((entry_id, tags, blob))

    def recent(self, wanted: Filter = Filter(), limit: int = CAPACITY) -> list[Entry]:
        """Newest first."""
        found: list[Entry] = []
        for _, tags, blob in self._newest_first():
            if len(found) == limit:
                break
            if wanted.matches(tags):
                found.append(json.loads(blob))
        return found

    def oldest_first(self, wanted: Filter = Filter()) -> list[Entry]:
        found = [json.loads(blob) for _, tags, blob in self._newest_first() if wanted.matches(tags)]
        return found[::-1]

    def _newest_first(self) -> Iterator[tuple[int, Tags, bytes]]:
        return heapq.merge(
            *(reversed(entries) for entries in self._entries.values()),
            key=lambda item: item[0],
            reverse=True,
        )

    @property
    def retained_bytes(self) -> int:
        return sum(len(blob) for entries in self._entries.values() for _, _, blob in entries)

    def evict(self, entry_id: int) -> None:
        """The budget evicts this journal's oldest entry (which is `entry_id`)."""
        for entries in self._entries.values():
            if entries and entries[0][0] == entry_id:
                _, _, blob = entries.popleft()
                self.budget.used -= len(blob)
                return

    def _drop_oldest(self, entries: deque[tuple[int, Tags, bytes]]) -> None:
        entry_id, _, blob = entries.popleft()
        self.budget.release(entry_id, len(blob))

    def clear(self) -> int:
        cleared = len(self)
        for entries in self._entries.values():
            while entries:
                self._drop_oldest(entries)
        return cleared

    def __len__(self) -> int:
        return sum(len(entries) for entries in self._entries.values())


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


def base_url(scope: Scope, headers: Headers, token: str | None) -> str:
    """The server as the client addressed it (`http://localhost:8080`), for exports that
    need whole URLs."""
    host = headers.get("host") or "{}:{}".format(*(scope.get("server") or ("127.0.0.1", 80)))
    return fit(f"{scope.get('scheme', 'http')}://{scrub_text(host, token)}", HEADER_LIMIT)


class ResponseTaker:
    """What a response said, as it passes: its status, the headers a client's logic reads
    (`KEPT_RESPONSE_HEADERS`), its size, and at most BODY_LIMIT + 1 bytes of its body when
    it is JSON or text."""

    def __init__(self) -> None:
        self.status = 500
        self.headers: dict[str, str] = {}
        self.size = 0
        self.chunks: list[bytes] = []
        self.held = 0

    def take(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            for raw_name, raw_value in message.get("headers", []):
                name = raw_name.decode("latin-1").lower()
                if name in KEPT_RESPONSE_HEADERS:
                    self.headers[name] = raw_value.decode("latin-1")
        elif message["type"] == "http.response.body":
            body = message.get("body", b"")
            self.size += len(body)
            if self.held <= BODY_LIMIT and self.textual:
                self.chunks.append(body[: BODY_LIMIT + 1 - self.held])
                self.held += len(self.chunks[-1])

    @property
    def textual(self) -> bool:
        media = self.headers.get("content-type", "").lower()
        return "json" in media or media.startswith("text/")

    def kept(self, token: str | None) -> Entry:
        kept: Entry = {
            "headers": {
                name: fit(scrub_text(value, token), HEADER_LIMIT)
                for name, value in self.headers.items()
            },
            "size": self.size,
        }
        raw = b"".join(self.chunks)
        if not raw:
            return kept
        if "json" in self.headers.get("content-type", ""):
            body, cut = bounded_json(raw, BODY_LIMIT, token, ours=True)
        else:
            body, cut = raw_text(raw, BODY_LIMIT, token), len(raw) > BODY_LIMIT
        kept.update({"body": body, "bodyTruncated": cut})
        return kept


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
        journal, at, started = self.journal_of(), self.clock_of().now(), time.monotonic()
        headers = Headers(scope=scope)
        content_type = headers.get("content-type", "").lower()
        keep_all = content_type.startswith("multipart/")
        chunks: list[bytes] = []
        held = 0
        response = ResponseTaker()

        async def recording_receive() -> Message:
            nonlocal held
            message = await receive()
            if message["type"] == "http.request" and (keep_all or held <= BODY_LIMIT):
                chunks.append(message.get("body", b""))
                held += len(chunks[-1])
            return message

        async def recording_send(message: Message) -> None:
            response.take(message)
            await send(message)

        try:
            await self.app(scope, recording_receive, recording_send)
        finally:
            token = bearer_token(scope)
            query, query_cut = query_of(scope, token)
            entry: Entry = {
                "kind": REST,
                "at": isoformat(at),
                "method": scope["method"],
                "path": fit(scrub_text(path, token), PATH_LIMIT),
                "operationId": self.routes.find(scope["method"], path),
                "status": response.status,
                "userId": noted_user() or self.token_user(token),
                "query": query,
                "faulted": bool(scope.get(FAULTED)),
                "baseUrl": base_url(scope, headers, token),
                "bearer": token is not None,
                "durationMs": round((time.monotonic() - started) * 1000),
            }
            if query_cut:
                entry["queryTruncated"] = True
            if content_type:
                entry["contentType"] = fit(content_type.split(";")[0].strip(), HEADER_LIMIT)
            raw = b"".join(chunks)
            if raw and "json" in content_type:
                entry.update(json_body(raw[: BODY_LIMIT + 1], token))
            elif raw and keep_all:
                entry.update(await multipart_body(scope, raw, token))
            entry["response"] = response.kept(token)
            journal.add(entry)

    def token_user(self, token: str | None) -> str | None:
        """Whom a request's token names, for requests a fault answered before auth ran."""
        try:
            return None if token is None else str(claims_of(self.settings, token)["sub"])
        except Unauthorized:
            return None
