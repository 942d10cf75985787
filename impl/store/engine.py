"""Indexes, paging and a TTL cadence for the embedded (mongomock) store.

mongomock 4.3.0 answers every query by scanning its whole collection, deep-copies every
match before skip/limit, and sweeps TTL indexes on every access. `accelerate(db, indexes)`
turns one mongomock `Database` into one that answers from the app's declared indexes:

- `_id` equality or `$in`: the documents are looked up by key.
- equality (or `$in`) on a declared index's leading key, multikey included: the
  candidates are that key's entries; when the sort is the index's remaining keys (or
  their exact reverse) the entries are walked in order and the walk stops after
  skip+limit matches, otherwise the candidates are filtered and sorted by mongomock.
- anything else: the collection is scanned, as mongomock does.

Every candidate still passes mongomock's own `filter_applies` (or, for a filter made only
of fields equal or `$ne` to values, `matching.compiled`: the same expressions, worked out
once per query), and sort order, ties included (store order), is mongomock's: an index
only narrows and orders. Only the documents a cursor returns are copied, in one pass that
shares immutable values (`_copy_out`, `_project_out`: what mongomock's copy and time-zone
passes give); `count_documents` copies nothing.

What may differ from plain mongomock: only when TTL-expired documents disappear.
mongomock deletes expired documents on every access; the engine sweeps at most once per
`ttl_period_seconds` per collection (default 60 s, measured with `clock`). So a document
whose expiry time has passed stays visible (found, counted, updated, a unique key held)
for up to `ttl_period_seconds` longer than on plain mongomock. MongoDB's own TTL monitor
runs every 60 s, so real MongoDB behaves like the engine here and plain mongomock does
not. Everything else (documents, their order, counts, errors) is plain mongomock's.

`_sort_component` copies mongomock's private BSON type ranks
(`mongomock.filtering._get_compare_type`) to build index keys; `accelerate` refuses any
mongomock but the version they were copied from (`MONGOMOCK_VERSION`).

How it hooks in, per database and never globally: the database's `DatabaseStore` and
each `CollectionStore` get subclasses, the database and its collections too. One
re-entrant lock per database makes each operation (a whole `find_one_and_update`
included) atomic across threads.

Keeping the indexes true: the three re-index paths. An index entry is recomputed from
the stored document by `_IndexedStore._reindex(key)`, and only these three call it:

1. Store writes. `_IndexedStore.__setitem__`, `__delitem__` and `drop` are the store
   writes every insert, delete, rollback (mongomock restores a snapshot with
   `store[key] = snapshot`) and TTL sweep goes through; each re-indexes its key (`drop`
   clears every index).
2. `_update`. mongomock updates documents in place, behind the store's back. While an
   update runs, every document `_iter_documents` hands it is remembered, and when it
   ends, returning or raising, each is re-indexed. Raising matters: an update can fail
   half-applied (`{"$set": {"chatId": "b"}, "$inc": {"name": 1}}` on a string `name`
   sets `chatId`, then raises) and mongomock keeps the half-applied document.
3. `_ensure_uniques`. mongomock checks unique indexes with a query, after changing the
   document in place and before `_update` returns; that query must see the new values,
   so the document is re-indexed before the check.
"""

from __future__ import annotations

import datetime
import functools
import itertools
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import mongomock
from bson import ObjectId
from mongomock import collection as _mm_collection
from mongomock import database as _mm_database
from mongomock import filtering as _mm_filtering
from mongomock import helpers as _mm_helpers
from mongomock import store as _mm_store
from sentinels import NOTHING
from sortedcontainers import SortedList

from impl.store import matching

__all__ = ["MONGOMOCK_VERSION", "EngineStatistics", "IndexSpec", "accelerate", "statistics"]

# The mongomock version `_sort_component`'s copy of its private type ranks was taken from
# (and `matching`'s and the copiers' reading of its filter and copy functions).
MONGOMOCK_VERSION = "4.3.0"

# mongomock ships no usable types: its modules and classes are `Any` here.
filtering: Any = _mm_filtering
helpers: Any = _mm_helpers
_Collection: Any = _mm_collection.Collection
_Cursor: Any = _mm_collection.Cursor
_copy_field: Any = _mm_collection._copy_field
_Database: Any = _mm_database.Database
_CollectionStore: Any = _mm_store.CollectionStore
_DatabaseStore: Any = _mm_store.DatabaseStore

Doc = dict[str, Any]


class IndexSpec(Protocol):
    """The shape of the app's index declarations."""

    @property
    def collection(self) -> str: ...

    @property
    def keys(self) -> Sequence[tuple[str, int]]: ...

    @property
    def options(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class EngineStatistics:
    """What the engine did since `accelerate`: a snapshot, for tests and diagnostics."""

    documents_filtered: int  # documents handed to mongomock's filter function
    documents_copied: int  # documents copied out to a cursor
    id_lookups: int  # queries answered by `_id` key lookup
    index_walks: int  # queries answered by walking an index in sort order
    index_gathers: int  # queries narrowed by an index, then filtered and sorted
    scans: int  # queries that scanned the whole collection
    ttl_sweeps: int  # TTL expiry passes actually run


def accelerate(
    db: Any,
    indexes: Iterable[IndexSpec],
    *,
    ttl_period_seconds: float = 60.0,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Make `db` answer from the declared indexes.

    Results stay plain mongomock's except when TTL-expired documents disappear: up to
    `ttl_period_seconds` later (see the module docstring). Call once, right after the
    database object is created and before documents are inserted (collections that
    already exist are adopted and indexed). `clock` is the monotonic time the TTL cadence
    is measured with; expiry itself compares against `mongomock.utcnow()`, as mongomock
    does. Raises RuntimeError on any mongomock but `MONGOMOCK_VERSION`.
    """
    found = getattr(mongomock, "__version__", None)
    if found != MONGOMOCK_VERSION:
        raise RuntimeError(
            f"the embedded engine supports mongomock {MONGOMOCK_VERSION} only, found {found}:"
            " its index keys copy that version's private BSON type ranks"
            " (mongomock.filtering._get_compare_type); check _sort_component against the new"
            " version, then update MONGOMOCK_VERSION"
        )
    if not isinstance(db, _Database):
        raise TypeError("accelerate() needs a mongomock Database")
    if isinstance(db, _AcceleratedDatabase):
        raise RuntimeError(f"database {db.name!r} is already accelerated")
    by_collection: dict[str, list[tuple[str, tuple[tuple[str, int], ...]]]] = {}
    for spec in indexes:
        keys = tuple((str(path), int(direction)) for path, direction in spec.keys)
        if keys:
            by_collection.setdefault(spec.collection, []).append((keys[0][0], keys[1:]))
    engine = _Engine(by_collection, float(ttl_period_seconds), clock)
    db_store = db._store
    with engine.lock:
        db_store.__class__ = _IndexedDatabaseStore
        db_store._engine = engine
        for name, col_store in list(db_store._collections.items()):
            col_store.__class__ = _IndexedStore
            col_store._adopt(engine, engine.indexes_for(name))
        db._engine = engine
        db.__class__ = _AcceleratedDatabase
        for name, col in list(db._collection_accesses.items()):
            if type(col) is _Collection:
                col.__class__ = _AcceleratedCollection
            db._collection_accesses[name] = col


def statistics(db: Any) -> EngineStatistics:
    """The engine's counters for an accelerated database."""
    if not isinstance(db, _AcceleratedDatabase):
        raise TypeError("statistics() needs a database passed to accelerate()")
    engine: _Engine = db._engine
    return EngineStatistics(**vars(engine.counts))


# ---- The engine: one per database ------------------------------------------------------


class _Counts:
    def __init__(self) -> None:
        self.documents_filtered = 0
        self.documents_copied = 0
        self.id_lookups = 0
        self.index_walks = 0
        self.index_gathers = 0
        self.scans = 0
        self.ttl_sweeps = 0


class _Engine:
    def __init__(
        self,
        declared: dict[str, list[tuple[str, tuple[tuple[str, int], ...]]]],
        ttl_period: float,
        clock: Callable[[], float],
    ) -> None:
        self.lock = threading.RLock()
        self.declared = declared
        self.ttl_period = ttl_period
        self.clock = clock
        self.counts = _Counts()

    def indexes_for(self, collection: str) -> list[_Index]:
        return [_Index(lead, rest) for lead, rest in self.declared.get(collection, [])]

    def matcher(self, spec: Any) -> Callable[[Doc], bool]:
        """`filter_applies(spec, ·)` for one query's candidates (`matching.compiled`),
        each document it is asked about counted."""
        test = matching.compiled(spec)
        counts = self.counts

        def matches(doc: Doc) -> bool:
            counts.documents_filtered += 1
            return test(doc)

        return matches


# ---- Keys: what an index stores for a document ------------------------------------------

_MISSING = object()  # the bucket of documents where the leading key is absent
_UNHASHABLE = object()

# Query values whose matching is Python equality in mongomock (regexes, documents and
# arrays match differently, so they are never looked up).
_SCALARS = (str, int, float, bool, ObjectId, datetime.datetime)


def _hashable(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        return _UNHASHABLE
    return value


def _lead_keys(doc: Doc, path: str) -> frozenset[Any]:
    """Every bucket a document belongs to: each candidate value, array elements included."""
    keys: set[Any] = set()
    for candidate in filtering.iter_key_candidates(path, doc):
        if candidate is NOTHING:
            keys.add(_MISSING)
        elif isinstance(candidate, (list, tuple)):
            keys.update(_hashable(element) for element in candidate)
        else:
            keys.add(_hashable(candidate))
    keys.discard(_UNHASHABLE)
    return frozenset(keys)


def _lookup_values(condition: Any) -> list[Any] | None:
    """The buckets holding every document that can match `condition` on a key, or None."""
    if isinstance(condition, dict):
        if len(condition) != 1:
            return None
        (operator, operand), *_ = condition.items()
        if operator == "$eq":
            return None if isinstance(operand, dict) else _lookup_values(operand)
        if operator == "$in" and isinstance(operand, (list, tuple)):
            values: list[Any] = []
            for item in operand:
                item_values = None if isinstance(item, dict) else _lookup_values(item)
                if item_values is None:
                    return None
                values.extend(item_values)
            return values
        return None
    if condition is None:
        return [None, _MISSING]
    if type(condition) not in _SCALARS:
        return None
    if isinstance(condition, float) and math.isnan(condition):
        return None
    if isinstance(condition, ObjectId):
        # mongomock also matches an ObjectId against its hex string inside arrays
        return [condition, str(condition)]
    return [condition]


class _Desc:
    """Inverts the order of a sort-key component (descending index keys)."""

    __slots__ = ("value",)

    def __init__(self, value: tuple[Any, ...]) -> None:
        self.value = value

    def __lt__(self, other: _Desc) -> bool:
        return other.value < self.value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Desc) and self.value == other.value

    __hash__ = None  # type: ignore[assignment]


def _sort_component(path: str, doc: Doc) -> tuple[Any, ...] | None:
    """mongomock's sort key for `path` as a plain tuple with the same order, or None.

    mongomock sorts by `(flag, BsonComparable(value))`: BSON type order first, then the
    value. Types whose order is not a plain total order here give None. The type ranks
    (5, 10, 15, 35, 40, 45) are mongomock's private `filtering._get_compare_type`, copied
    from `MONGOMOCK_VERSION`, which `accelerate` insists on.
    """
    flag, comparable = filtering.resolve_sort_key(path, doc)
    value = comparable.obj
    if value is None:
        return (flag, 5, 0)
    if isinstance(value, bool):
        return (flag, 40, int(value))
    if isinstance(value, (int, float)):
        if isinstance(value, float) and math.isnan(value):
            return None
        return (flag, 10, value)
    if isinstance(value, str):
        return (flag, 15, value)
    if isinstance(value, ObjectId):
        return (flag, 35, value.binary)
    if isinstance(value, datetime.datetime) and value.tzinfo is None:
        return (flag, 45, value)
    return None


class _Index:
    """One declared index: buckets by leading-key value, each ordered by the other keys."""

    def __init__(self, lead: str, rest: tuple[tuple[str, int], ...]) -> None:
        self.lead = lead
        self.rest = rest
        # lead value -> SortedList[(sort key, seq)] when there are other keys, else {seq}
        self.buckets: dict[Any, Any] = {}
        self.entries: dict[int, tuple[frozenset[Any], tuple[Any, ...], bool]] = {}
        self.unorderable = 0  # documents whose sort key this index cannot order

    def serves_sort(self, sort: list[tuple[str, int]] | None) -> bool | None:
        """True: sort is the index order; False: its exact reverse; None: neither."""
        if sort is None or not self.rest or len(sort) != len(self.rest):
            return None
        if [k for k, _ in sort] != [k for k, _ in self.rest]:
            return None
        same = [(d < 0) == (i < 0) for (_, d), (_, i) in zip(sort, self.rest, strict=True)]
        if all(same):
            return True
        if not any(same):
            return False
        return None

    def _entry(self, doc: Doc) -> tuple[frozenset[Any], tuple[Any, ...], bool]:
        leads = _lead_keys(doc, self.lead)
        if not self.rest:
            return leads, (), True
        parts: list[Any] = []
        for path, direction in self.rest:
            part = _sort_component(path, doc)
            if part is None:
                return leads, (), False
            parts.append(part if direction >= 0 else _Desc(part))
        return leads, tuple(parts), True

    def update(self, seq: int, doc: Doc | None) -> None:
        new = None if doc is None else self._entry(doc)
        old = self.entries.get(seq)
        if old == new:
            return
        if old is not None:
            self._remove(seq, old)
        if new is not None:
            self._add(seq, new)

    def _add(self, seq: int, entry: tuple[frozenset[Any], tuple[Any, ...], bool]) -> None:
        leads, key, orderable = entry
        self.entries[seq] = entry
        self.unorderable += not orderable
        for lead in leads:
            bucket = self.buckets.get(lead)
            if bucket is None:
                bucket = self.buckets[lead] = SortedList() if self.rest else set()
            bucket.add((key, seq) if self.rest else seq)

    def _remove(self, seq: int, entry: tuple[frozenset[Any], tuple[Any, ...], bool]) -> None:
        leads, key, orderable = entry
        del self.entries[seq]
        self.unorderable -= not orderable
        for lead in leads:
            bucket = self.buckets[lead]
            bucket.remove((key, seq) if self.rest else seq)
            if not bucket:
                del self.buckets[lead]

    def clear(self) -> None:
        self.buckets.clear()
        self.entries.clear()
        self.unorderable = 0

    def seqs(self, values: Iterable[Any]) -> set[int]:
        found: set[int] = set()
        for value in values:
            bucket = self.buckets.get(value)
            if bucket and self.rest:
                found.update(seq for _, seq in bucket)
            elif bucket:
                found.update(bucket)
        return found

    def size(self, values: Iterable[Any]) -> int:
        return sum(len(self.buckets.get(value, ())) for value in values)

    def walk(self, values: list[Any], forward: bool) -> Iterator[int] | None:
        """Seqs of the one non-empty bucket among `values`, in sort order; None if several."""
        buckets = [b for b in (self.buckets.get(v) for v in values) if b]
        if len(buckets) > 1 or self.unorderable:
            return None
        if not buckets:
            return iter(())
        if forward:
            return (seq for _, seq in buckets[0])
        return _reverse_stable(buckets[0])


def _reverse_stable(bucket: Any) -> Iterator[int]:
    """The bucket backwards, with equal sort keys kept in store order (as mongomock does)."""
    run: list[int] = []
    run_key: Any = None
    for key, seq in reversed(bucket):
        if run and key != run_key:
            yield from reversed(run)
            run = []
        run.append(seq)
        run_key = key
    yield from reversed(run)


# ---- Store subclasses: where every write lands -----------------------------------------


def _store_key(doc: Doc) -> Any:
    object_id = doc["_id"]
    return helpers.hashdict(object_id) if isinstance(object_id, dict) else object_id


class _IndexedStore(_CollectionStore):
    """A mongomock CollectionStore that keeps the declared indexes beside its documents."""

    def _adopt(self, engine: _Engine, indexes: list[_Index]) -> None:
        self._engine = engine
        self._indexes = indexes
        self._seq_of: dict[Any, int] = {}
        self._key_of: dict[int, Any] = {}
        self._next_seq = itertools.count()
        self._touched: list[list[Any]] = []  # per running `_update`: keys it was handed
        self._ttl_last: float | None = None
        for key in list(self._documents):
            self._reindex(key)

    # Re-index path 1 (module docstring): the store writes.

    def __setitem__(self, key: Any, value: Doc) -> None:
        with self._engine.lock:
            super().__setitem__(key, value)
            self._reindex(key)

    def __delitem__(self, key: Any) -> None:
        with self._engine.lock:
            super().__delitem__(key)
            self._reindex(key)

    def drop(self) -> None:
        with self._engine.lock:
            super().drop()
            for index in self._indexes:
                index.clear()
            self._seq_of.clear()
            self._key_of.clear()

    def _reindex(self, key: Any) -> None:
        """Bring every index in line with the document now stored under `key`.

        Called only from the three re-index paths of the module docstring.
        """
        doc = self._documents.get(key)
        seq = self._seq_of.get(key)
        if seq is None:
            if doc is None:
                return
            seq = self._seq_of[key] = next(self._next_seq)
            self._key_of[seq] = key
        for index in self._indexes:
            index.update(seq, doc)
        if doc is None:
            del self._seq_of[key]
            del self._key_of[seq]

    def _remove_expired_documents(self) -> None:
        if not self._ttl_indexes:
            return
        engine = self._engine
        with engine.lock:
            now = engine.clock()
            if self._ttl_last is not None and now - self._ttl_last < engine.ttl_period:
                return
            self._ttl_last = now
            engine.counts.ttl_sweeps += 1
            try:
                super()._remove_expired_documents()
            except BaseException:
                self._ttl_last = None  # as in mongomock, a failing sweep fails every access
                raise

    def in_store_order(self, seqs: Iterable[int]) -> list[Doc]:
        documents, key_of = self._documents, self._key_of
        return [documents[key_of[seq]] for seq in sorted(seqs)]


class _IndexedDatabaseStore(_DatabaseStore):
    _engine: _Engine

    def __getitem__(self, col_name: str) -> Any:
        try:
            return self._collections[col_name]
        except KeyError:
            pass
        with self._engine.lock:
            if col_name not in self._collections:
                col = _IndexedStore(col_name)
                col._adopt(self._engine, self._engine.indexes_for(col_name))
                self._collections[col_name] = col
            return self._collections[col_name]


# ---- Reading: plans, pages, counts -----------------------------------------------------

_UNSUPPORTED = object()


def _sort_list(sort: Any) -> Any:
    """The sort as [(key, direction)], None for no sort, or _UNSUPPORTED (mongomock's path)."""
    if not sort:
        return None
    items = list(sort.items()) if isinstance(sort, dict) else sort
    if not isinstance(items, (list, tuple)):
        return _UNSUPPORTED
    result: list[tuple[str, int]] = []
    for item in items:
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            return _UNSUPPORTED
        key, direction = item
        if not isinstance(key, str) or key.startswith("$"):
            return _UNSUPPORTED
        if type(direction) not in (int, float):
            return _UNSUPPORTED
        result.append((key, direction))
    return result


def _mongomock_sort(docs: list[Doc], sort: list[tuple[str, int]]) -> list[Doc]:
    """Exactly the sort in mongomock's `Collection._get_dataset`."""
    for sort_key, direction in reversed(sort):
        key = functools.partial(filtering.resolve_sort_key, sort_key)
        docs = sorted(docs, key=key, reverse=direction < 0)  # stable, reverse included
    return docs


# Types whose values mongomock's copy (`copy.copy`) leaves equal and nobody changes in place.
_LEAVES = frozenset({str, int, float, bool, type(None), bytes, ObjectId})


class _Unusual(Exception):
    """A value `_copy_out` leaves to mongomock's own two passes."""


def _copy_out(doc: Doc, aware: bool) -> Doc:
    """What mongomock returns for a stored document without projection, in one pass:
    `_copy_field` (dicts and lists rebuilt, every other value `copy.copy`-ed), then with
    `tz_aware` `make_datetime_timezone_aware_in_document` (datetimes given UTC). Strings,
    numbers, ObjectIds and the rest of `_LEAVES` are shared instead of copied; a document
    holding any other type (a tuple, a Regex, ...) takes mongomock's way."""
    try:
        return _copy_value(doc, aware)  # type: ignore[no-any-return]
    except _Unusual:
        return _made_aware(_copy_field(doc, dict), aware)  # type: ignore[no-any-return]


def _made_aware(value: Any, aware: bool) -> Any:
    """mongomock's second pass over what it returns, with `tz_aware`: datetimes get UTC."""
    return helpers.make_datetime_timezone_aware_in_document(value) if aware else value


def _copy_value(value: Any, aware: bool) -> Any:
    kind = type(value)
    if kind in _LEAVES:
        return value
    if kind is dict or kind is OrderedDict:  # mongomock stores documents as OrderedDicts
        return {key: _copy_value(item, aware) for key, item in value.items()}
    if kind is list:
        return [_copy_value(item, aware) for item in value]
    if kind is datetime.datetime:
        return value.replace(tzinfo=helpers.utc) if aware else value
    raise _Unusual


def _inclusion(projection: Any) -> tuple[frozenset[str], bool] | None:
    """(the fields, whether `_id` comes too) of a projection that only includes top-level
    fields (`{"seq": True}`, `{"_id": 1, "a": 1}`), which mongomock always accepts; None
    for any other."""
    if type(projection) is not dict:
        return None
    fields = []
    for key, value in projection.items():
        if type(key) is not str or not key or key.startswith("$") or "." in key:
            return None
        if type(value) not in (bool, int) or value not in (0, 1):
            return None
        if key != "_id":
            if value != 1:
                return None
            fields.append(key)
    if not fields:
        return None
    return frozenset(fields), projection.get("_id", 1) != 0


def _project_out(doc: Doc, fields: frozenset[str], with_id: bool, aware: bool) -> Doc:
    """`_copy_out` for an `_inclusion` projection: the fields in the document's order, then
    `_id` (mongomock sets it after the others). Raises `_Unusual` as `_copy_out` would."""
    out = {key: _copy_value(value, aware) for key, value in doc.items() if key in fields}
    if with_id and "_id" in doc:  # mongomock sets it as stored, not copied
        out["_id"] = _made_aware(doc["_id"], aware)
    return out


def _settle_id(projection: Doc) -> None:
    """What mongomock's `_copy_only_fields` leaves in the caller's projection: `_id`
    moved to the end, and set to 1 when it was not there."""
    projection["_id"] = projection.pop("_id", 1)


def _validates(spec: Any) -> bool:
    """Whether mongomock accepts the filter; if not, its own path raises the same error."""
    if matching.is_plain(spec):
        return True
    try:
        filtering.filter_applies(spec, {})
    except Exception:
        return False
    return True


class _AcceleratedCollection(_Collection):
    """A mongomock Collection whose reads use the store's indexes."""

    def _indexed(self) -> _IndexedStore | None:
        store = self._store
        return store if isinstance(store, _IndexedStore) else None

    # -- plans

    def _candidates(
        self, store: _IndexedStore, spec: Any, sort: list[tuple[str, int]] | None
    ) -> tuple[str, Any]:
        """("walk", iterator of seqs in sort order) or ("docs", documents in store order)."""
        engine = store._engine
        if not isinstance(spec, dict) or not _validates(spec):
            engine.counts.scans += 1
            return "docs", list(store._documents.values())
        if "_id" in spec:
            ids = _lookup_values(spec["_id"])
            if ids is not None:
                engine.counts.id_lookups += 1
                seqs = {store._seq_of[i] for i in ids if i is not _MISSING and i in store._seq_of}
                return "docs", store.in_store_order(seqs)
        best: tuple[int, _Index, list[Any]] | None = None
        for index in store._indexes:
            if index.lead not in spec:
                continue
            values = _lookup_values(spec[index.lead])
            if values is None:
                continue
            direction = index.serves_sort(sort)
            if direction is not None:
                walk = index.walk(values, direction)
                if walk is not None:
                    engine.counts.index_walks += 1
                    return "walk", walk
            size = index.size(values)
            if best is None or size < best[0]:
                best = (size, index, values)
        if best is not None:
            engine.counts.index_gathers += 1
            return "docs", store.in_store_order(best[1].seqs(best[2]))
        engine.counts.scans += 1
        return "docs", list(store._documents.values())

    def _matching(
        self, store: _IndexedStore, spec: Any, sort: list[tuple[str, int]] | None, need: int | None
    ) -> list[Doc]:
        """Matching documents (not copies) in mongomock's order; at least `need` of them."""
        engine = store._engine
        if store.is_empty:
            filtering.filter_applies(spec, {})
            return []
        kind, found = self._candidates(store, spec, sort)
        matches = engine.matcher(spec)
        out: list[Doc] = []
        if kind == "walk":
            documents, key_of = store._documents, store._key_of
            for seq in found:
                doc = documents[key_of[seq]]
                if matches(doc):
                    out.append(doc)
                    if need is not None and len(out) >= need:
                        break
            return out
        if sort is not None:
            return _mongomock_sort([d for d in found if matches(d)], sort)
        for doc in found:
            if matches(doc):
                out.append(doc)
                if need is not None and len(out) >= need:
                    break
        return out

    def _page(
        self, spec: Any, sort: Any, projection: Any, skip: Any, limit: Any, first_only: bool
    ) -> list[Doc] | None:
        """What a cursor returns, copying only those documents; None: use mongomock's path."""
        store = self._indexed()
        sort = _sort_list(sort)
        if store is None or sort is _UNSUPPORTED or type(skip) is not int or skip < 0:
            return None
        if limit is not None and type(limit) is not int:
            return None
        included = None if projection is None else _inclusion(projection)
        if projection is not None and included is None and not self._plain_projection(projection):
            return None
        need = None
        if first_only:
            need = skip + 1
        elif limit:
            need = skip + abs(limit)
        with store._engine.lock:
            docs = self._matching(store, spec, sort, need)[skip:]
            if limit:
                docs = docs[: abs(limit)]
            aware = bool(self.codec_options.tz_aware)
            if projection is None:
                copies = [_copy_out(doc, aware) for doc in docs]
            elif included is not None:
                copies = [self._projected(doc, projection, included, aware) for doc in docs]
                _settle_id(projection)
            else:
                copies = [
                    _made_aware(self._copy_only_fields(doc, projection, dict), aware)
                    for doc in docs
                ]
            store._engine.counts.documents_copied += len(copies)
        return copies

    def _projected(
        self, doc: Doc, projection: Doc, included: tuple[frozenset[str], bool], aware: bool
    ) -> Doc:
        try:
            return _project_out(doc, *included, aware)
        except _Unusual:
            return _made_aware(self._copy_only_fields(doc, projection, dict), aware)  # type: ignore[no-any-return]

    def _plain_projection(self, projection: Any) -> bool:
        """No projection operators, and mongomock accepts it without looking at a document."""
        values = projection.values() if isinstance(projection, dict) else ()
        if any(isinstance(v, dict) for v in values):
            return False
        try:
            self._copy_only_fields({"_id": None}, projection, dict)
        except Exception:
            return False
        return True

    def _iter_documents(self, filter: Any) -> Iterator[Doc]:
        store = self._indexed()
        if store is None:
            return super()._iter_documents(filter)  # type: ignore[no-any-return]
        with store._engine.lock:
            if store.is_empty:
                filtering.filter_applies(filter, {})
            _, found = self._candidates(store, filter, None)  # no sort: never a walk
            touched = store._touched[-1] if store._touched else None
        return self._filtered(store, filter, found, touched)

    @staticmethod
    def _filtered(
        store: _IndexedStore, spec: Any, docs: list[Doc], touched: list[Any] | None
    ) -> Iterator[Doc]:
        matches = store._engine.matcher(spec)
        for doc in docs:
            if matches(doc):
                if touched is not None:
                    touched.append(_store_key(doc))
                yield doc

    # -- reads through cursors

    def find(self, *args: Any, **kwargs: Any) -> Any:
        cursor = super().find(*args, **kwargs)
        if type(cursor) is _Cursor:
            cursor.__class__ = _PagedCursor
        return cursor

    def find_one(self, filter: Any = None, *args: Any, **kwargs: Any) -> Any:
        if filter is None:
            filter = {}
        if not isinstance(filter, Mapping):
            filter = {"_id": filter}
        cursor = self.find(filter, *args, **kwargs)
        if isinstance(cursor, _PagedCursor):
            cursor._first_only = True
        try:
            return next(cursor)
        except StopIteration:
            return None

    def count_documents(self, filter: Any, **kwargs: Any) -> Any:
        with self._lock():
            return super().count_documents(filter, **kwargs)

    # -- writes: each one atomic; in-place updates re-indexed

    def _lock(self) -> Any:
        store = self._indexed()
        return store._engine.lock if store is not None else _NO_LOCK

    def _insert(self, *args: Any, **kwargs: Any) -> Any:
        with self._lock():
            return super()._insert(*args, **kwargs)

    def _update(self, *args: Any, **kwargs: Any) -> Any:
        """Re-index path 2 (module docstring): every document the update was handed,
        whether it returns or raises (a half-applied update stays applied)."""
        store = self._indexed()
        if store is None:
            return super()._update(*args, **kwargs)
        with store._engine.lock:
            store._touched.append([])  # filled by `_filtered`
            try:
                return super()._update(*args, **kwargs)
            finally:
                for key in store._touched.pop():
                    store._reindex(key)

    def _ensure_uniques(self, new_data: Doc) -> Any:
        """Re-index path 3 (module docstring): the unique check's query must see the
        document as changed in place."""
        store = self._indexed()
        if store is None:
            return super()._ensure_uniques(new_data)
        with store._engine.lock:
            store._reindex(_store_key(new_data))
            return super()._ensure_uniques(new_data)

    def _delete(self, *args: Any, **kwargs: Any) -> Any:
        with self._lock():
            return super()._delete(*args, **kwargs)

    def _find_and_modify(self, *args: Any, **kwargs: Any) -> Any:
        with self._lock():
            return super()._find_and_modify(*args, **kwargs)

    def create_index(self, *args: Any, **kwargs: Any) -> Any:
        with self._lock():
            return super().create_index(*args, **kwargs)

    def with_options(self, *args: Any, **kwargs: Any) -> Any:
        other = super().with_options(*args, **kwargs)
        if type(other) is _Collection:
            other.__class__ = _AcceleratedCollection
        return other


class _NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_NO_LOCK = _NoLock()


class _PagedCursor(_Cursor):
    """A mongomock Cursor that applies skip/limit before copying."""

    _first_only = False
    _page_key: Any = None
    _page_docs: list[Doc] | None = None

    def _compute_results(self, with_limit_and_skip: bool = False) -> Any:
        if not with_limit_and_skip or self._results is not None:
            return super()._compute_results(with_limit_and_skip)
        key = (self._factory, self._skip, self._limit, self._first_only)
        if self._page_docs is None or self._page_key != key:
            page = self.collection._page(
                self._spec, self._sort, self._projection, self._skip, self._limit, self._first_only
            )
            if page is None:
                return super()._compute_results(with_limit_and_skip)
            self._page_docs, self._page_key = page, key
        return self._page_docs


class _AcceleratedDatabase(_Database):
    _engine: _Engine

    def get_collection(
        self,
        name: str,
        codec_options: Any = None,
        read_preference: Any = None,
        write_concern: Any = None,
        read_concern: Any = None,
    ) -> Any:
        if name not in self._collection_accesses:
            self._ensure_valid_collection_name(name)
            with self._engine.lock:
                if name not in self._collection_accesses:
                    self._collection_accesses[name] = _AcceleratedCollection(
                        self,
                        name=name,
                        read_concern=read_concern,
                        write_concern=write_concern,
                        read_preference=read_preference or self.read_preference,
                        codec_options=codec_options or self._codec_options,
                        _db_store=self._store,
                    )
                    return self._collection_accesses[name]
        return super().get_collection(
            name, codec_options, read_preference, write_concern, read_concern
        )

    def with_options(self, *args: Any, **kwargs: Any) -> Any:
        other = super().with_options(*args, **kwargs)
        if type(other) is _Database:
            other._engine = self._engine
            other.__class__ = _AcceleratedDatabase
        return other
