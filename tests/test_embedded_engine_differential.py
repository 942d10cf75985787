"""The embedded engine changes speed, never a result: plain mongomock vs accelerated.

A hypothesis state machine drives two databases with the same index declarations, one
plain mongomock and one passed to `accelerate`, through the same random writes (inserts,
updates of indexed and multikey fields, upserts, find-and-modify, deletes, drops), reads
(the app's query shapes plus random extra conditions, sorts, skip/limit, counts) and TTL
expiry forced at known points, and compares every outcome: documents in order, counts,
modified counts and raised exceptions. `FUZZ_PROFILE=long` raises the budget.
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
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from mongomock import collection as mongomock_collection
from pymongo import ReturnDocument

from impl.store.engine import accelerate


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
IDS = [ObjectId(f"{0x10 + i:024x}") for i in range(24)]
OFFSETS = [-120, -60, 0, 0, 60]  # seconds from "now": ties on purpose, never already expired

PROFILE = os.environ.get("FUZZ_PROFILE", "ci")
EXAMPLES, STEPS = {"ci": (40, 25), "long": (1000, 60)}[PROFILE]

START = dt.datetime(2030, 1, 1)


class Clocks:
    """mongomock's `utcnow` (what TTL expiry compares with) and the engine's cadence clock."""

    def __init__(self) -> None:
        self.now = START
        self.monotonic = 0.0


def moment(offset_index: int, now: dt.datetime) -> dt.datetime:
    return (now + dt.timedelta(seconds=OFFSETS[offset_index])).replace(tzinfo=dt.UTC)


# ---- strategies -----------------------------------------------------------------------

offsets = st.integers(0, len(OFFSETS) - 1)
users = st.sampled_from(USERS)
chat_ids = st.one_of(st.sampled_from(CHATS), st.sampled_from(["c-text", None]))
ids = st.sampled_from(IDS)
MISSING = object()


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(strategy, strategy, strategy, st.just(MISSING))


def times(now: dt.datetime) -> st.SearchStrategy[Any]:
    """Mostly datetimes with ties, sometimes another BSON type (type order in sorts)."""
    return st.one_of(
        offsets.map(lambda i: moment(i, now)),
        offsets.map(lambda i: moment(i, now)),
        st.sampled_from([None, 7, "t"]),
    )


def document(collection: str, now: dt.datetime) -> st.SearchStrategy[dict[str, Any]]:
    fields: dict[str, st.SearchStrategy[Any]] = {"_id": ids, "n": st.integers(0, 3)}
    if collection == "chats":
        fields |= {
            "participants": maybe(st.one_of(st.lists(users, max_size=3), users)),
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
            "seq": maybe(st.integers(0, 5)),
            "createdAt": maybe(offsets.map(lambda i: moment(i, now))),
        }
    return st.fixed_dictionaries(fields).map(
        lambda d: {k: v for k, v in d.items() if v is not MISSING}
    )


def lead_condition(collection: str) -> st.SearchStrategy[dict[str, Any]]:
    lead = LEADS[collection]
    values = users if collection == "chats" else chat_ids
    return st.one_of(
        values.map(lambda v: {lead: v}),
        values.map(lambda v: {lead: v}),
        values.map(lambda v: {lead: {"$eq": v}}),
        st.lists(values, min_size=1, max_size=2).map(lambda vs: {lead: {"$in": vs}}),
        st.just({}),
    )


def extra_condition(collection: str, now: dt.datetime) -> st.SearchStrategy[dict[str, Any]]:
    at = offsets.map(lambda i: moment(i, now))
    common: list[st.SearchStrategy[dict[str, Any]]] = [
        ids.map(lambda i: {"_id": i}),
        ids.map(lambda i: {"_id": {"$ne": i}}),
        st.lists(ids, max_size=3).map(lambda xs: {"_id": {"$in": xs}}),
        st.integers(0, 3).map(lambda n: {"n": {"$gte": n}}),
        st.just({}),
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
            st.integers(0, 5).map(lambda n: {"seq": {"$gt": n}}),
        ]
    return st.one_of(*common)


def ids_of(cursor: Any) -> list[Any]:
    return [doc["_id"] for doc in cursor]


def query(collection: str, now: dt.datetime) -> st.SearchStrategy[dict[str, Any]]:
    by_id = ids.map(lambda i: {"_id": i})  # the app's most common write target
    return by_id | st.tuples(
        lead_condition(collection), st.lists(extra_condition(collection, now), max_size=2)
    ).map(lambda p: {k: v for part in [p[0], *p[1]] for k, v in part.items()})


def sorts(collection: str) -> st.SearchStrategy[list[tuple[str, int]] | None]:
    rest = RESTS[collection]
    reverse = [(k, -d) for k, d in rest]
    return st.sampled_from(
        [None, rest, rest, reverse, [(rest[0][0], rest[0][1])], [("_id", -1)], [("n", 1)]]
    )


def update(collection: str, now: dt.datetime) -> st.SearchStrategy[dict[str, Any]]:
    doc = document(collection, now)
    return st.one_of(
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


class Differential(RuleBasedStateMachine):
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
        accelerate(self.fast, INDEXES, ttl_period_seconds=60, clock=lambda: self.clocks.monotonic)
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

    @rule(
        collection=st.sampled_from(COLLECTIONS),
        data=st.data(),
        many=st.booleans(),
        upsert=st.booleans(),
    )
    def update(self, collection: str, data: st.DataObject, many: bool, upsert: bool) -> None:
        spec = data.draw(query(collection, self.clocks.now))
        change = data.draw(update(collection, self.clocks.now))

        def call(c: Any) -> Any:
            method = c.update_many if many else c.update_one
            result = method(copy.deepcopy(spec), copy.deepcopy(change), upsert=upsert)
            return result.matched_count, result.modified_count, result.upserted_id

        self.both(collection, call)

    @rule(collection=st.sampled_from(COLLECTIONS), data=st.data(), upsert=st.booleans())
    def replace_one(self, collection: str, data: st.DataObject, upsert: bool) -> None:
        spec = data.draw(query(collection, self.clocks.now))
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
        spec = data.draw(query(collection, self.clocks.now))
        change = data.draw(update(collection, self.clocks.now))
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
        spec = data.draw(query(collection, self.clocks.now))
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
        spec = data.draw(query(collection, self.clocks.now))
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
        spec = data.draw(query(collection, self.clocks.now))
        sort = data.draw(sorts(collection))
        projection = data.draw(st.sampled_from([None, None, {"n": True}, {"n": 0}]))

        def call(c: Any) -> Any:
            cursor = c.find(copy.deepcopy(spec), projection=copy.deepcopy(projection))
            if sort:
                cursor = cursor.sort(sort)
            return list(cursor.skip(skip).limit(limit))

        self.both(collection, call)

    @rule(collection=st.sampled_from(COLLECTIONS), data=st.data())
    def find_one(self, collection: str, data: st.DataObject) -> None:
        spec = data.draw(query(collection, self.clocks.now))
        sort = data.draw(sorts(collection))
        self.both(collection, lambda c: c.find_one(copy.deepcopy(spec), sort=sort))

    @rule(collection=st.sampled_from(COLLECTIONS), data=st.data())
    def count(self, collection: str, data: st.DataObject) -> None:
        spec = data.draw(query(collection, self.clocks.now))
        self.both(collection, lambda c: c.count_documents(copy.deepcopy(spec)))

    # time: the engine sweeps once per period, so both clocks move together

    @rule(seconds=st.sampled_from([0, 100, 200, 400]))
    def advance(self, seconds: int) -> None:
        self.clocks.now += dt.timedelta(seconds=seconds)
        self.clocks.monotonic += 60

    @invariant()
    def same_contents(self) -> None:
        for name in COLLECTIONS:
            self.both(name, lambda c: list(c.find({})))
            for value in USERS if name == "chats" else [*CHATS, "c-text", None]:
                probe = {LEADS[name]: value}
                self.both(name, lambda c, p=probe, n=name: ids_of(c.find(p).sort(RESTS[n])))


Differential.TestCase.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=STEPS,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TestDifferential = Differential.TestCase
