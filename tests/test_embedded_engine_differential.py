"""The embedded engine changes speed and TTL timing only: plain mongomock vs accelerated.

A hypothesis state machine drives two databases with the same index declarations, one
plain mongomock and one passed to `accelerate`, through the same random writes (inserts,
bursts of documents sharing a leading key, updates of indexed and multikey fields,
updates that fail half-applied, upserts, find-and-modify, deletes, drops), reads (the
app's query shapes plus random extra conditions, sorts, skip/limit, counts, and pages
of a stored leading-key value that make an index walk stop early) and TTL expiry, and
compares every outcome: documents in order, counts, modified counts and raised
exceptions. Values include ObjectId-looking hex strings (as `_id`s and inside arrays,
where mongomock matches them against an ObjectId), bools, floats, NaN, dicts and
datetimes in other time zones.

The one stated difference, TTL: when time passes, the state machine first looks inside
the engine's sweep period (the engine still shows the expired documents, plain mongomock
does not: exactly those, nothing else), then completes the period (both agree).

`FUZZ_PROFILE=long` raises the budget. `tests/test_embedded_engine_mutants.py` runs this
machine against broken copies of the engine and expects it to fail.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import mongomock
from bson import ObjectId
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from mongomock import collection as mongomock_collection
from pymongo import ReturnDocument

import impl.store.engine

Doc = dict[str, Any]


@dataclass(frozen=True)
class Index:
    collection: str
    keys: list[tuple[str, int]]
    options: dict[str, Any] = field(default_factory=dict)


TTL = 300
INDEXES = [
    Index("chats", [("dedupeKey", 1)], {"unique": True}),
    Index("chats", [("participants", 1), ("sortAt", -1), ("_id", -1)]),
    Index("messages", [("chatId", 1), ("createdAt", -1), ("_id", -1)]),
    Index("messages", [("clientKey", 1)], {"unique": True, "sparse": True}),
    Index("events", [("chatId", 1), ("seq", 1)]),
    Index("events", [("createdAt", 1)], {"expireAfterSeconds": TTL}),
]
COLLECTIONS = ("chats", "messages", "events")
LEADS = {"chats": "participants", "messages": "chatId", "events": "chatId"}
RESTS = {
    "chats": [("sortAt", -1), ("_id", -1)],
    "messages": [("createdAt", -1), ("_id", -1)],
    "events": [("seq", 1)],
}

USERS = [ObjectId(f"{0xA0 + i:024x}") for i in range(4)]
CHATS = [ObjectId(f"{0xC0 + i:024x}") for i in range(3)]
# ObjectId-looking strings: mongomock matches an ObjectId query against them in arrays
HEX_USERS = [str(u) for u in USERS[:2]]
HEX_CHAT = str(CHATS[0])
IDS = [ObjectId(f"{0x10 + i:024x}") for i in range(24)] + [str(ObjectId(f"{0x10:024x}"))]
BURST_IDS = [ObjectId(f"{0x100 + i:024x}") for i in range(48)] + [str(ObjectId(f"{0x11:024x}"))]
NAN = float("nan")  # one object: documents holding it compare equal by identity
PLUS_TWO = dt.timezone(dt.timedelta(hours=2))
OFFSETS = [-120, -60, 0, 0, 60]  # seconds from "now": ties on purpose, never already expired

PROFILE = os.environ.get("FUZZ_PROFILE", "ci")
EXAMPLES, STEPS = {"ci": (60, 30), "long": (1000, 60)}[PROFILE]

START = dt.datetime(2030, 1, 1)


class Clocks:
    """mongomock's `utcnow` (what TTL expiry compares with) and the engine's cadence clock."""

    def __init__(self) -> None:
        self.now = START
        self.monotonic = 0.0


def moment(offset_index: int, now: dt.datetime, zone: dt.tzinfo = dt.UTC) -> dt.datetime:
    """`now` plus an offset, timezone-aware (mongomock stores it as naive UTC)."""
    at = (now + dt.timedelta(seconds=OFFSETS[offset_index])).replace(tzinfo=dt.UTC)
    return at.astimezone(zone)


# ---- strategies -----------------------------------------------------------------------

offsets = st.integers(0, len(OFFSETS) - 1)
users = st.sampled_from(USERS)
# participants: mostly users, sometimes a user's id as a hex string
members = st.one_of(users, users, users, st.sampled_from(HEX_USERS))
ODD_LEADS = [HEX_CHAT, True, 1, 1.0, 2.5, NAN, [CHATS[1], HEX_CHAT]]
chat_ids = st.one_of(
    st.sampled_from(CHATS),
    st.sampled_from(["c-text", None]),
    st.sampled_from(ODD_LEADS),
    offsets.map(lambda i: moment(i, START, PLUS_TWO)),
)
ids = st.sampled_from(IDS)
MISSING = object()


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(strategy, strategy, strategy, st.just(MISSING))


def times(now: dt.datetime) -> st.SearchStrategy[Any]:
    """Mostly datetimes with ties, sometimes another BSON type (type order in sorts),
    rarely a value the engine cannot order in an index (NaN, a document)."""
    return st.one_of(
        offsets.map(lambda i: moment(i, now)),
        offsets.map(lambda i: moment(i, now, PLUS_TWO)),
        offsets.map(lambda i: moment(i, now)),
        st.sampled_from([None, 7, "t", True, 2.5, [], USERS[0]]),
        st.integers(0, 15).map(lambda i: {0: NAN, 1: {"d": 1}}.get(i, moment(2, now))),
    )


def document(collection: str, now: dt.datetime) -> st.SearchStrategy[dict[str, Any]]:
    fields: dict[str, st.SearchStrategy[Any]] = {
        "_id": ids,
        "n": st.one_of(st.integers(0, 3), st.integers(0, 3), st.just("s")),
        "label": st.just("s"),  # a string: `$inc` on it fails half-applied
    }
    if collection == "chats":
        fields |= {
            "participants": maybe(st.one_of(st.lists(members, max_size=3), users)),
            "sortAt": maybe(times(now)),
            "dedupeKey": maybe(st.sampled_from(["d1", "d2", "d3"])),
            "archivedBy": maybe(st.lists(users, max_size=2)),
            "type": st.sampled_from(["direct", "group"]),
        }
    elif collection == "messages":
        fields |= {
            "chatId": maybe(chat_ids),
            "createdAt": maybe(times(now)),
            "clientKey": maybe(st.sampled_from(["k1", "k2", "k3"])),
            "senderId": users,
            "readBy": st.lists(st.fixed_dictionaries({"userId": users}), max_size=2),
            "deletedAt": st.sampled_from([None, MISSING]),
        }
    else:
        fields |= {
            "chatId": maybe(chat_ids),
            "seq": maybe(st.one_of(st.integers(0, 5), st.sampled_from([1.5, True, 3.0, "s"]))),
            "createdAt": maybe(offsets.map(lambda i: moment(i, now, PLUS_TWO))),
        }
    return st.fixed_dictionaries(fields).map(
        lambda d: {k: v for k, v in d.items() if v is not MISSING}
    )


def lead_condition(
    collection: str, values: st.SearchStrategy[Any]
) -> st.SearchStrategy[dict[str, Any]]:
    lead = LEADS[collection]
    return st.one_of(
        values.map(lambda v: {lead: v}),
        values.map(lambda v: {lead: v}),
        values.map(lambda v: {lead: {"$eq": v}}),
        st.lists(values, min_size=1, max_size=2).map(lambda vs: {lead: {"$in": vs}}),
        st.just({}),
    )


def extra_condition(
    collection: str, now: dt.datetime, *, by_id: bool = True
) -> st.SearchStrategy[dict[str, Any]]:
    at = offsets.map(lambda i: moment(i, now))
    common: list[st.SearchStrategy[dict[str, Any]]] = [
        ids.map(lambda i: {"_id": {"$ne": i}}),
        st.integers(0, 3).map(lambda n: {"n": {"$gte": n}}),
        st.just({}),
    ]
    if by_id:
        common += [
            ids.map(lambda i: {"_id": i}),
            st.lists(ids, max_size=3).map(lambda xs: {"_id": {"$in": xs}}),
        ]
    if collection == "chats":
        common += [
            users.map(lambda u: {"archivedBy": u}),
            users.map(lambda u: {"archivedBy": {"$ne": u}}),
            st.sampled_from(["direct", "group"]).map(lambda t: {"type": t}),
            st.sampled_from(["d1", "d2", None]).map(lambda d: {"dedupeKey": d}),
        ]
    elif collection == "messages":
        common += [
            at.map(lambda t: {"createdAt": {"$lt": t}}),
            st.tuples(at, ids).map(
                lambda p: {
                    "$or": [{"createdAt": {"$lt": p[0]}}, {"createdAt": p[0], "_id": {"$lt": p[1]}}]
                }
            ),
            users.map(lambda u: {"senderId": {"$ne": u}, "readBy.userId": {"$ne": u}}),
            st.just({"deletedAt": None}),
            st.sampled_from(["k1", "k2"]).map(lambda k: {"clientKey": k}),
        ]
    else:
        common += [
            at.map(lambda t: {"createdAt": {"$gt": t}}),
            offsets.map(lambda i: {"createdAt": moment(i, now, PLUS_TWO)}),  # TTL index lead
            st.integers(0, 5).map(lambda n: {"seq": {"$gt": n}}),
        ]
    return st.one_of(*common)


def ids_of(cursor: Any) -> list[Any]:
    return [doc["_id"] for doc in cursor]


def query(
    collection: str, now: dt.datetime, leads: st.SearchStrategy[Any]
) -> st.SearchStrategy[dict[str, Any]]:
    by_id = ids.map(lambda i: {"_id": i})  # the app's most common write target
    return by_id | st.tuples(
        lead_condition(collection, leads), st.lists(extra_condition(collection, now), max_size=2)
    ).map(lambda p: {k: v for part in [p[0], *p[1]] for k, v in part.items()})


def sorts(collection: str) -> st.SearchStrategy[list[tuple[str, int]] | None]:
    rest = RESTS[collection]
    reverse = [(k, -d) for k, d in rest]
    return st.sampled_from(
        [None, rest, rest, reverse, [(rest[0][0], rest[0][1])], [("_id", -1)], [("n", 1)]]
    )


def half_failing(
    collection: str, leads: st.SearchStrategy[Any]
) -> st.SearchStrategy[dict[str, Any]]:
    """`$set` of the leading key, then `$inc` of a string: mongomock raises and keeps the
    half-applied document (in the other order nothing is applied)."""
    lead = LEADS[collection]
    return st.tuples(leads, st.sampled_from(["n", "label"]), st.booleans()).map(
        lambda p: (
            {"$set": {lead: p[0]}, "$inc": {p[1]: 1}}
            if p[2]
            else {"$inc": {p[1]: 1}, "$set": {lead: p[0]}}
        )
    )


def update(
    collection: str, now: dt.datetime, leads: st.SearchStrategy[Any]
) -> st.SearchStrategy[dict[str, Any]]:
    doc = document(collection, now)
    return st.one_of(
        half_failing(collection, leads),
        doc.map(lambda d: {"$set": {k: v for k, v in d.items() if k != "_id"}, "$inc": {"n": 1}}),
        doc.map(
            lambda d: (
                {"$set": {k: v for k, v in d.items() if k != "_id"}}
                if len(d) > 1
                else {"$inc": {"n": 1}}
            )
        ),
        st.just({"$inc": {"n": 1}}),
        users.map(lambda u: {"$push": {"participants": u}}),
        users.map(lambda u: {"$pull": {"participants": u}}),
        users.map(lambda u: {"$addToSet": {"archivedBy": u}}),
        st.sampled_from(["chatId", "createdAt", "sortAt", "seq", "dedupeKey", "clientKey"]).map(
            lambda f: {"$unset": {f: ""}}
        ),
        doc.map(
            lambda d: {"$setOnInsert": {k: v for k, v in d.items() if k != "_id"}, "$inc": {"n": 1}}
        ),
        st.just({"$push": {"stamps": {"$each": [1, 2], "$slice": -3}}}),
        users.map(lambda u: {"$push": {"readBy": {"userId": u}}}),
        ids.map(lambda i: {"$set": {"_id": i}}),  # an error on both sides unless unchanged
    )


# ---- the machine ----------------------------------------------------------------------


class SidedIds:
    """mongomock's `ObjectId()` for upserts, the same sequence on each side."""

    def __init__(self) -> None:
        self.side = 0
        self.counts = [0, 0]

    def __call__(self, *args: Any, **kwargs: Any) -> ObjectId:
        if args or kwargs:
            return ObjectId(*args, **kwargs)
        self.counts[self.side] += 1
        return ObjectId(f"{0xF00000 + self.counts[self.side]:024x}")


def outcome(action: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "ok", action()
    except Exception as error:  # compared, not swallowed: both sides must raise alike
        return type(error).__name__, str(error)


def lead_pool(collection: str) -> st.SearchStrategy[Any]:
    return members if collection == "chats" else chat_ids


PROBES = {
    "chats": [*USERS, *HEX_USERS],
    "messages": [*CHATS, "c-text", None, HEX_CHAT, True, 2.5],
    "events": [*CHATS, "c-text", None, HEX_CHAT, True, 2.5],
}


def hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


class Differential(RuleBasedStateMachine):
    # the engine module under test: the mutant check swaps in broken copies
    engine: Any = impl.store.engine

    def __init__(self) -> None:
        super().__init__()
        self.clocks = Clocks()
        self._saved_utcnow = mongomock.utcnow
        mongomock.utcnow = lambda: self.clocks.now
        self.ids = SidedIds()
        self._saved_object_id = mongomock_collection.ObjectId
        mongomock_collection.ObjectId = self.ids
        self.plain = mongomock.MongoClient(tz_aware=True)["plain"]
        self.fast = mongomock.MongoClient(tz_aware=True)["fast"]
        self.engine.accelerate(
            self.fast, INDEXES, ttl_period_seconds=60, clock=lambda: self.clocks.monotonic
        )
        for db in (self.plain, self.fast):
            for index in INDEXES:
                db[index.collection].create_index(index.keys, **index.options)

    def teardown(self) -> None:
        mongomock.utcnow = self._saved_utcnow
        mongomock_collection.ObjectId = self._saved_object_id

    def both(self, collection: str, call: Callable[[Any], Any]) -> Any:
        self.ids.side = 0
        plain = outcome(lambda: call(self.plain[collection]))
        self.ids.side = 1
        fast = outcome(lambda: call(self.fast[collection]))
        assert fast == plain
        return fast

    # lead values: drawn from the stored documents as much as from the pools

    def stored_leads(self, collection: str) -> list[Any]:
        """Every leading-key value stored (array elements included), in store order."""
        found: dict[tuple[str, str], Any] = {}
        for doc in self.plain[collection]._store._documents.values():  # no TTL sweep
            value = doc.get(LEADS[collection], MISSING)
            for item in value if isinstance(value, list) else [value]:
                if item is not MISSING and hashable(item):
                    found.setdefault((type(item).__name__, repr(item)), item)
        return list(found.values())

    def leads(self, collection: str) -> st.SearchStrategy[Any]:
        stored = self.stored_leads(collection)
        if not stored:
            return lead_pool(collection)
        return st.one_of(st.sampled_from(stored), st.sampled_from(stored), lead_pool(collection))

    def query(self, collection: str) -> st.SearchStrategy[dict[str, Any]]:
        return query(collection, self.clocks.now, self.leads(collection))

    def update_of(self, collection: str) -> st.SearchStrategy[dict[str, Any]]:
        return update(collection, self.clocks.now, self.leads(collection))

    def bucket_size(self, collection: str, value: Any) -> int:
        found = outcome(lambda: self.plain[collection].count_documents({LEADS[collection]: value}))
        return found[1] if found[0] == "ok" else 0

    def record_walk(self, collection: str, spec: Any, need: int, before: Any) -> None:
        """Say (hypothesis statistics) whether the read walked an index and stopped early."""
        after = self.engine.statistics(self.fast)
        if after.index_walks > before.index_walks:
            _, total = outcome(lambda: self.plain[collection].count_documents(spec))
            stopped = isinstance(total, int) and total > need >= 2
            event("walk stopped early, skip+limit >= 2" if stopped else "walk")

    # writes

    @rule(collection=st.sampled_from(COLLECTIONS), data=st.data())
    def insert_one(self, collection: str, data: st.DataObject) -> None:
        doc = data.draw(document(collection, self.clocks.now))
        self.both(collection, lambda c: c.insert_one(copy.deepcopy(doc)).inserted_id)

    @rule(collection=st.sampled_from(COLLECTIONS), data=st.data(), ordered=st.booleans())
    def insert_many(self, collection: str, data: st.DataObject, ordered: bool) -> None:
        docs = data.draw(st.lists(document(collection, self.clocks.now), min_size=1, max_size=4))
        self.both(
            collection,
            lambda c: c.insert_many(copy.deepcopy(docs), ordered=ordered).inserted_ids,
        )

    @rule(collection=st.sampled_from(COLLECTIONS), data=st.data())
    def insert_burst(self, collection: str, data: st.DataObject) -> None:
        """Several documents under one leading-key value: buckets a page stops early in."""
        self.burst(collection, data.draw(self.leads(collection)), data)

    def burst(self, collection: str, value: Any, data: st.DataObject) -> None:
        docs = data.draw(st.lists(document(collection, self.clocks.now), min_size=3, max_size=8))
        lead = LEADS[collection]
        for doc in docs:
            doc["_id"] = data.draw(st.sampled_from(BURST_IDS))  # mostly new: few duplicates
            doc[lead] = [value] if collection == "chats" and data.draw(st.booleans()) else value
            if data.draw(st.integers(0, 3)):  # mostly no clash on the unique keys
                doc.pop("clientKey", None)  # sparse
                if collection == "chats":  # not sparse: one chat without a key at most
                    doc["dedupeKey"] = f"key-{doc['_id']}"
        self.both(
            collection,
            lambda c: c.insert_many(copy.deepcopy(docs), ordered=False).inserted_ids,
        )

    @rule(
        collection=st.sampled_from(COLLECTIONS),
        data=st.data(),
        many=st.booleans(),
        upsert=st.booleans(),
    )
    def update(self, collection: str, data: st.DataObject, many: bool, upsert: bool) -> None:
        spec = data.draw(self.query(collection))
        change = data.draw(self.update_of(collection))

        def call(c: Any) -> Any:
            method = c.update_many if many else c.update_one
            result = method(copy.deepcopy(spec), copy.deepcopy(change), upsert=upsert)
            return result.matched_count, result.modified_count, result.upserted_id

        self.both(collection, call)

    @rule(collection=st.sampled_from(COLLECTIONS), data=st.data(), many=st.booleans())
    def update_failing_half_applied(self, collection: str, data: st.DataObject, many: bool) -> None:
        """A stored document moved to another leading-key value by an update that then
        raises: the document stays moved, and so must its index entries."""
        lead = LEADS[collection]
        stored = list(self.plain[collection]._store._documents.values())
        if not stored or data.draw(st.integers(0, 3)) == 0:
            spec = data.draw(self.query(collection))
            change = data.draw(half_failing(collection, self.leads(collection)))
        else:
            target = data.draw(st.sampled_from(stored))
            spec = {"_id": target["_id"]}
            now = target.get(lead, MISSING)
            others = [v for v in [*PROBES[collection], *self.stored_leads(collection)] if v != now]
            change = {"$set": {lead: data.draw(st.sampled_from(others))}, "$inc": {"label": 1}}
        method = "update_many" if many else "update_one"
        self.both(
            collection,
            lambda c: getattr(c, method)(copy.deepcopy(spec), copy.deepcopy(change)).modified_count,
        )

    @rule(collection=st.sampled_from(COLLECTIONS), data=st.data(), upsert=st.booleans())
    def replace_one(self, collection: str, data: st.DataObject, upsert: bool) -> None:
        spec = data.draw(self.query(collection))
        doc = data.draw(document(collection, self.clocks.now))
        doc.pop("_id")
        self.both(
            collection,
            lambda c: (
                c.replace_one(copy.deepcopy(spec), copy.deepcopy(doc), upsert=upsert).modified_count
            ),
        )

    @rule(
        collection=st.sampled_from(COLLECTIONS),
        data=st.data(),
        upsert=st.booleans(),
        after=st.booleans(),
    )
    def find_one_and_update(
        self, collection: str, data: st.DataObject, upsert: bool, after: bool
    ) -> None:
        spec = data.draw(self.query(collection))
        change = data.draw(self.update_of(collection))
        sort = data.draw(sorts(collection))
        returned = ReturnDocument.AFTER if after else ReturnDocument.BEFORE
        self.both(
            collection,
            lambda c: c.find_one_and_update(
                copy.deepcopy(spec),
                copy.deepcopy(change),
                sort=sort,
                upsert=upsert,
                return_document=returned,
            ),
        )

    @rule(collection=st.sampled_from(COLLECTIONS), data=st.data())
    def find_one_and_replace_or_delete(self, collection: str, data: st.DataObject) -> None:
        spec = data.draw(self.query(collection))
        if data.draw(st.booleans()):
            self.both(collection, lambda c: c.find_one_and_delete(copy.deepcopy(spec)))
            return
        doc = data.draw(document(collection, self.clocks.now))
        doc.pop("_id")
        self.both(
            collection,
            lambda c: c.find_one_and_replace(copy.deepcopy(spec), copy.deepcopy(doc), upsert=True),
        )

    @rule(collection=st.sampled_from(COLLECTIONS), data=st.data(), many=st.booleans())
    def delete(self, collection: str, data: st.DataObject, many: bool) -> None:
        spec = data.draw(self.query(collection))
        self.both(
            collection,
            lambda c: (c.delete_many if many else c.delete_one)(copy.deepcopy(spec)).deleted_count,
        )

    @rule(collection=st.sampled_from(COLLECTIONS), data=st.data())
    def drop(self, collection: str, data: st.DataObject) -> None:
        if data.draw(st.integers(0, 9)) == 0:  # rare: it empties the collection
            self.both(collection, lambda c: c.drop())
            for db in (self.plain, self.fast):
                for index in INDEXES:
                    if index.collection == collection:
                        db[collection].create_index(index.keys, **index.options)

    # reads

    @rule(
        collection=st.sampled_from(COLLECTIONS),
        data=st.data(),
        skip=st.integers(0, 4),
        limit=st.integers(0, 4),
    )
    def find(self, collection: str, data: st.DataObject, skip: int, limit: int) -> None:
        spec = data.draw(self.query(collection))
        sort = data.draw(sorts(collection))
        projection = data.draw(st.sampled_from([None, None, {"n": True}, {"n": 0}]))

        def call(c: Any) -> Any:
            cursor = c.find(copy.deepcopy(spec), projection=copy.deepcopy(projection))
            if sort:
                cursor = cursor.sort(sort)
            return list(cursor.skip(skip).limit(limit))

        before = self.engine.statistics(self.fast)
        self.both(collection, call)
        self.record_walk(collection, spec, skip + limit if limit else 0, before)

    @rule(collection=st.sampled_from(COLLECTIONS), data=st.data())
    def page(self, collection: str, data: st.DataObject) -> None:
        """Pages of one stored leading-key value in index order (or its reverse) with
        skip+limit >= 2: the index walks that stop after skip+limit matches."""
        lead = LEADS[collection]
        value = data.draw(self.leads(collection))
        if self.bucket_size(collection, value) < 3:
            self.burst(collection, value, data)  # a bucket to stop early in
        rest = RESTS[collection]
        for sort in (rest, [(k, -d) for k, d in rest]):
            # skip+limit >= 2 and, when the bucket allows, below its size: an early stop
            need = data.draw(st.integers(2, max(2, self.bucket_size(collection, value) - 1)))
            skip = data.draw(st.integers(0, need - 1))
            spec = data.draw(
                st.sampled_from([{lead: value}, {lead: {"$eq": value}}, {lead: {"$in": [value]}}])
            )
            if data.draw(st.integers(0, 3)) == 0:  # not on `_id`: that would be a lookup
                spec |= data.draw(extra_condition(collection, self.clocks.now, by_id=False))
            projection = data.draw(st.sampled_from([None, {"n": True}]))
            self.read_page(collection, spec, sort, projection, skip, need - skip)

    def read_page(
        self, collection: str, spec: Doc, sort: Any, projection: Any, skip: int, limit: int
    ) -> None:
        def call(c: Any) -> Any:
            cursor = c.find(copy.deepcopy(spec), projection=copy.deepcopy(projection))
            return list(cursor.sort(sort).skip(skip).limit(limit))

        before = self.engine.statistics(self.fast)
        self.both(collection, call)
        self.record_walk(collection, spec, skip + limit, before)

    @rule(collection=st.sampled_from(COLLECTIONS), data=st.data())
    def find_one(self, collection: str, data: st.DataObject) -> None:
        spec = data.draw(self.query(collection))
        sort = data.draw(sorts(collection))
        self.both(collection, lambda c: c.find_one(copy.deepcopy(spec), sort=sort))

    @rule(collection=st.sampled_from(COLLECTIONS), data=st.data())
    def count(self, collection: str, data: st.DataObject) -> None:
        spec = data.draw(self.query(collection))
        self.both(collection, lambda c: c.count_documents(copy.deepcopy(spec)))

    # time: the stated difference. Plain mongomock deletes an expired document at once;
    # the engine sweeps at most once per period (60 s here, as MongoDB's TTL monitor).

    @rule(seconds=st.sampled_from([0, 100, 200, 400]), early=st.sampled_from([0, 1, 30, 59]))
    def advance(self, seconds: int, early: int) -> None:
        """Move time; look `early` seconds into the sweep period, then complete it."""
        before = outcome(lambda: list(self.fast.events.find({})))  # plain's too (invariant)
        self.clocks.now += dt.timedelta(seconds=seconds)
        self.clocks.monotonic += early
        if before[0] == "ok":
            self.within_the_period(before[1])
        self.clocks.monotonic += 60 - early  # the invariant: now both agree

    def within_the_period(self, before: list[Doc]) -> None:
        """Inside the period the engine shows exactly what it showed (no sweep yet);
        plain mongomock shows that minus what expired."""
        fast = list(self.fast.events.find({}))
        assert fast == before
        kind, plain = outcome(lambda: list(self.plain.events.find({})))
        if kind != "ok":  # plain's sweep fails (mongomock cannot delete a document `_id`)
            event("TTL: plain mongomock's sweep fails inside the period")
            return
        limit = (self.clocks.now - dt.timedelta(seconds=TTL)).replace(tzinfo=dt.UTC)
        expired = [d for d in before if expires_by(d.get("createdAt"), limit)]
        assert plain == [d for d in before if d not in expired]
        if expired:
            event("TTL: expired documents still visible inside the period")

    @invariant()
    def same_contents(self) -> None:
        for name in COLLECTIONS:
            self.both(name, lambda c: list(c.find({})))
            rest = RESTS[name]
            reverse = [(k, -d) for k, d in rest]
            values = PROBES[name] + [
                v for v in self.stored_leads(name) if v not in PROBES[name] or v is NAN
            ]
            for value in values:
                self.probe(name, {LEADS[name]: value}, rest, reverse)

    def probe(self, name: str, spec: Doc, rest: Any, reverse: Any) -> None:
        """One leading-key value in index order, as a first page and a reversed second."""
        self.both(name, lambda c: ids_of(c.find(spec).sort(rest)))
        self.both(name, lambda c: ids_of(c.find(spec).sort(rest).limit(2)))
        self.both(name, lambda c: ids_of(c.find(spec).sort(reverse).skip(1).limit(2)))


def expires_by(value: Any, limit: dt.datetime) -> bool:
    """Whether mongomock's TTL sweep deletes a document with this `createdAt`."""
    stamps = value if isinstance(value, list) else [value]
    stamps = [s for s in stamps if isinstance(s, dt.datetime)]
    return bool(value) and bool(stamps) and min(stamps) <= limit


Differential.TestCase.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=STEPS,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TestDifferential = Differential.TestCase
