"""What every collection module of the store shares: index declarations, the `Table`
through which each operation names the index that serves it, and store outcomes turned
into domain errors.

A `Table` call takes the `Index` its filter is meant to use, so the shape of every query
sits next to its index in the code; an injected `QueryObserver` sees (collection,
operation, index, filter) before each call, which is how the index-coverage test checks
every shape without patching anything, and how tests inject store failures. Connection
failures become `StoreUnavailable` here, and while the store is known to be down, calls
fail at once instead of each waiting out the server-selection timeout (see `Outage`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pymongo import ReturnDocument
from pymongo.collection import Collection
from pymongo.errors import ConnectionFailure, DuplicateKeyError

from impl.errors import StoreUnavailable, Unauthorized

Doc = dict[str, Any]
T = TypeVar("T")
log = logging.getLogger("impl.store")
ASC, DESC = 1, -1


@dataclass(frozen=True)
class Index:
    """One index declaration; `PRIMARY` stands for `_id`, which every collection has."""

    collection: str
    keys: Sequence[tuple[str, int]]
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def leading_key(self) -> str:
        return self.keys[0][0]


def primary(collection: str) -> Index:
    return Index(collection, [("_id", ASC)])


QueryObserver = Callable[[str, str, Index, Mapping[str, Any]], None]


class Outage:
    """Remembers that the store could not be reached, so that requests arriving meanwhile
    answer 503 at once; after `probe_after` seconds one call is let through to find out
    whether it is back (every success clears the outage)."""

    def __init__(self, retry_after_seconds: int, probe_after: float = 1.0) -> None:
        self.retry_after_seconds = retry_after_seconds
        self.probe_after = probe_after
        self._down_since: float | None = None
        self._probing = False
        self._lock = threading.Lock()
        self._retired: str | None = None

    def retire(self, why: str) -> None:
        """No call reaches this store any more (a removed sandbox's): each fails with `why`,
        so a request still running there stores nothing."""
        self._retired = why

    def error(self) -> StoreUnavailable:
        return StoreUnavailable(
            "the store cannot be reached; try again shortly",
            retry_after=self.retry_after_seconds,
        )

    def may_call(self) -> bool:
        """False when the call should fail fast; True lets it reach the store."""
        with self._lock:
            if self._down_since is None:
                return True
            due = time.monotonic() - self._down_since >= self.probe_after
            if due and not self._probing:
                self._probing = True
                return True
            return False

    def failed(self, exc: Exception) -> None:
        with self._lock:
            if self._down_since is None:
                log.warning("store unreachable, answering 503 until it is back: %s", exc)
            self._down_since = time.monotonic()
            self._probing = False

    def succeeded(self) -> None:
        if self._down_since is not None:
            with self._lock:
                if self._down_since is not None:
                    log.info("store reachable again")
                self._down_since = None
                self._probing = False

    def guard(self, run: Callable[[], T]) -> T:
        """Run one store call: at once `StoreUnavailable` while the store is known to be
        down, and connection failures turned into it."""
        if self._retired is not None:
            raise Unauthorized(self._retired)
        if not self.may_call():
            raise self.error()
        try:
            result = run()
        except ConnectionFailure as exc:
            self.failed(exc)
            raise self.error() from None
        self.succeeded()
        return result


@dataclass(frozen=True)
class Updated:
    matched: int
    modified: int


class Table:
    """One collection, reached only through calls that name the index they rely on."""

    def __init__(
        self, collection: Collection[Doc], outage: Outage, observer: QueryObserver | None
    ) -> None:
        self.collection = collection
        self.name = collection.name
        self.outage = outage
        self.observer = observer

    def _call(self, op: str, index: Index, query: Mapping[str, Any], run: Callable[[], Any]) -> Any:
        if self.observer is not None:
            self.observer(self.name, op, index, query)
        return self.outage.guard(run)

    def find_one(
        self,
        index: Index,
        query: Mapping[str, Any],
        projection: Mapping[str, Any] | None = None,
        sort: list[tuple[str, int]] | None = None,
    ) -> Doc | None:
        def run() -> Doc | None:
            return self.collection.find_one(dict(query), projection, sort=sort)

        found: Doc | None = self._call("find_one", index, query, run)
        return found

    def find(
        self,
        index: Index,
        query: Mapping[str, Any],
        sort: list[tuple[str, int]] | None = None,
        skip: int = 0,
        limit: int = 0,
        projection: Mapping[str, Any] | None = None,
    ) -> list[Doc]:
        def run() -> list[Doc]:
            cursor = self.collection.find(dict(query), projection)
            if sort:
                cursor = cursor.sort(sort)
            return list(cursor.skip(skip).limit(limit))

        found: list[Doc] = self._call("find", index, query, run)
        return found

    def count(self, index: Index, query: Mapping[str, Any]) -> int:
        counted: int = self._call(
            "count_documents", index, query, lambda: self.collection.count_documents(dict(query))
        )
        return counted

    def insert(self, doc: Doc) -> bool:
        """Insert; False when a unique index already holds the key."""

        def run() -> bool:
            try:
                self.collection.insert_one(doc)
            except DuplicateKeyError:
                return False
            return True

        inserted: bool = self._call("insert_one", primary(self.name), {}, run)
        return inserted

    def insert_many(self, docs: list[Doc]) -> None:
        self._call("insert_many", primary(self.name), {}, lambda: self.collection.insert_many(docs))

    def update_one(
        self, index: Index, query: Mapping[str, Any], update: Mapping[str, Any]
    ) -> Updated:
        return self._update("update_one", index, query, update)

    def update_many(
        self, index: Index, query: Mapping[str, Any], update: Mapping[str, Any]
    ) -> Updated:
        return self._update("update_many", index, query, update)

    def _update(
        self, op: str, index: Index, query: Mapping[str, Any], update: Mapping[str, Any]
    ) -> Updated:
        method = getattr(self.collection, op)

        def run() -> Updated:
            result = method(dict(query), dict(update))
            return Updated(result.matched_count, result.modified_count)

        updated: Updated = self._call(op, index, query, run)
        return updated

    def find_one_and_update(
        self,
        index: Index,
        query: Mapping[str, Any],
        update: Mapping[str, Any],
        *,
        before: bool = False,
        upsert: bool = False,
        projection: Mapping[str, Any] | None = None,
    ) -> Doc | None:
        """The document after the update (or before it, with `before=True`); None when
        nothing matched. A lost upsert race raises `DuplicateKeyError` to the caller."""

        def run() -> Doc | None:
            return self.collection.find_one_and_update(
                dict(query),
                dict(update),
                projection=projection,
                upsert=upsert,
                return_document=ReturnDocument.BEFORE if before else ReturnDocument.AFTER,
            )

        found: Doc | None = self._call("find_one_and_update", index, query, run)
        return found

    def delete_many(self, index: Index, query: Mapping[str, Any]) -> int:
        def run() -> int:
            return self.collection.delete_many(dict(query)).deleted_count

        deleted: int = self._call("delete_many", index, query, run)
        return deleted


def pins(index: Index, query: Mapping[str, Any]) -> bool:
    """Whether `query` pins the leading key of `index` with an equality or `$in` (each
    branch of an `$or` on its own): what lets an index narrow a lookup."""
    value = query.get(index.leading_key, _MISSING)
    if value is not _MISSING and (not isinstance(value, Mapping) or set(value) <= {"$in", "$eq"}):
        return True
    branches = query.get("$or") or []
    return bool(branches) and all(
        pins(index, {**query, **branch, "$or": []}) for branch in branches
    )


_MISSING = object()
