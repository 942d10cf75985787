"""The embedded engine, behaviour by behaviour: what is looked up, walked, copied, swept.

Each test reads the engine's own counters (`statistics`): how many documents reached
mongomock's filter function, how many were copied out, which plan answered. The proof
that results never change is the differential state machine beside this file.
"""

from __future__ import annotations

import datetime as dt
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import gridfs
import mongomock
import pytest
from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

import impl.store.engine
from impl.store.engine import MONGOMOCK_VERSION, accelerate, statistics


@dataclass(frozen=True)
class Index:
    collection: str
    keys: list[tuple[str, int]]
    options: dict[str, Any] = field(default_factory=dict)


INDEXES = [
    Index("chats", [("dedupeKey", 1)], {"unique": True}),
    Index("chats", [("participants", 1), ("sortAt", -1), ("_id", -1)]),
    Index("messages", [("chatId", 1), ("createdAt", -1), ("_id", -1)]),
    Index("events", [("chatId", 1), ("seq", 1)]),
    Index("events", [("createdAt", 1)], {"expireAfterSeconds": 60}),
]
T0 = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
HISTORY = [("createdAt", -1), ("_id", -1)]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make_db(clock: Clock | None = None, *, fast: bool = True) -> Any:
    db = mongomock.MongoClient(tz_aware=True)["test"]
    if fast:
        accelerate(db, INDEXES, clock=clock or Clock())
    for index in INDEXES:
        db[index.collection].create_index(index.keys, **index.options)
    return db


@pytest.fixture
def db() -> Any:
    return make_db()


def history(db: Any, chat: ObjectId, n: int) -> None:
    db.messages.insert_many(
        [
            {"_id": ObjectId(), "chatId": chat, "createdAt": T0 + dt.timedelta(seconds=i // 2)}
            for i in range(n)
        ]
    )


def filtered(db: Any) -> int:
    return statistics(db).documents_filtered


# ---- lookups by _id ---------------------------------------------------------------------


def test_find_one_by_id_filters_one_document(db: Any) -> None:
    history(db, ObjectId(), 1000)
    wanted = db.messages.find_one({}, sort=[("createdAt", 1)])
    before = filtered(db)
    assert db.messages.find_one({"_id": wanted["_id"]}) == wanted
    assert filtered(db) - before == 1
    assert statistics(db).id_lookups >= 1


def test_id_in_filters_only_those_documents(db: Any) -> None:
    history(db, ObjectId(), 500)
    some = [d["_id"] for d in db.messages.find({}).limit(3)]
    before = filtered(db)
    assert [d["_id"] for d in db.messages.find({"_id": {"$in": [*some, ObjectId()]}})] == some
    assert filtered(db) - before == 3


def test_find_one_and_update_by_id_touches_one_document(db: Any) -> None:
    chat = db.chats.insert_one({"participants": [], "n": 0}).inserted_id
    db.chats.insert_many([{"dedupeKey": i, "participants": [], "n": 0} for i in range(300)])
    before = filtered(db)
    after = db.chats.find_one_and_update(
        {"_id": chat}, {"$inc": {"n": 1}}, return_document=ReturnDocument.AFTER
    )
    assert after["n"] == 1
    # find, update, unique check on dedupeKey, read back: one document each
    assert filtered(db) - before == 4


# ---- paging: walk the index, copy only the page --------------------------------------------


def test_history_page_walks_and_copies_only_the_page(db: Any) -> None:
    chat = ObjectId()
    history(db, chat, 2000)
    history(db, ObjectId(), 500)
    before = statistics(db)
    page = list(db.messages.find({"chatId": chat}).sort(HISTORY).skip(20).limit(20))
    after = statistics(db)
    assert len(page) == 20
    assert after.index_walks == before.index_walks + 1
    assert after.documents_filtered - before.documents_filtered == 40
    assert after.documents_copied - before.documents_copied == 20


def test_count_documents_copies_nothing(db: Any) -> None:
    chat = ObjectId()
    history(db, chat, 300)
    history(db, ObjectId(), 300)
    before = statistics(db)
    assert db.messages.count_documents({"chatId": chat}) == 300
    after = statistics(db)
    assert after.documents_copied == before.documents_copied
    assert after.documents_filtered - before.documents_filtered == 300  # one chat only


def test_reverse_walk_keeps_ties_in_insertion_order() -> None:
    chat = ObjectId()
    fast, plain = make_db(), make_db(fast=False)
    for db in (fast, plain):
        for i in range(30):
            db.messages.insert_one({"_id": i % 7 * 100 + i, "chatId": chat, "createdAt": T0})
    for sort in (HISTORY, [("createdAt", 1), ("_id", 1)]):
        got = list(fast.messages.find({"chatId": chat}).sort(sort).limit(12))
        assert got == list(plain.messages.find({"chatId": chat}).sort(sort).limit(12))
    assert statistics(fast).index_walks == 2


def test_unserved_sort_gathers_the_key_and_sorts_like_mongomock() -> None:
    chat = ObjectId()
    fast, plain = make_db(), make_db(fast=False)
    for db in (fast, plain):
        history(db, ObjectId(), 50)
        for i, at in enumerate([T0, None, 3, "x", T0, True]):
            db.messages.insert_one({"_id": i, "chatId": chat, "createdAt": at, "n": -i})
    for sort in ([("n", 1)], [("createdAt", 1)], HISTORY):
        assert list(fast.messages.find({"chatId": chat}).sort(sort)) == list(
            plain.messages.find({"chatId": chat}).sort(sort)
        )
    assert statistics(fast).index_gathers >= 2
    assert statistics(fast).scans == 0


def test_unindexed_filter_scans(db: Any) -> None:
    history(db, ObjectId(), 10)
    assert db.messages.count_documents({"createdAt": {"$gte": T0}}) == 10
    assert statistics(db).scans == 1


# ---- multikey --------------------------------------------------------------------------


def test_multikey_array_follows_push_and_pull(db: Any) -> None:
    a, b = ObjectId(), ObjectId()
    chat = db.chats.insert_one({"participants": [a], "sortAt": T0}).inserted_id
    db.chats.insert_many(
        [{"dedupeKey": i, "participants": [ObjectId()], "sortAt": T0} for i in range(50)]
    )
    db.chats.update_one({"_id": chat}, {"$push": {"participants": b}})
    assert [c["_id"] for c in db.chats.find({"participants": b})] == [chat]
    db.chats.update_one({"_id": chat}, {"$pull": {"participants": a}})
    assert db.chats.count_documents({"participants": a}) == 0
    assert db.chats.count_documents({"participants": b}) == 1
    assert statistics(db).scans == 0


def test_update_moving_a_document_between_keys(db: Any) -> None:
    old, new = ObjectId(), ObjectId()
    history(db, old, 10)
    assert db.messages.update_many({"chatId": old}, {"$set": {"chatId": new}}).modified_count == 10
    assert db.messages.count_documents({"chatId": old}) == 0
    assert len(list(db.messages.find({"chatId": new}).sort(HISTORY).limit(5))) == 5


# ---- unique indexes --------------------------------------------------------------------


def test_unique_index_enforced_on_insert_update_and_upsert(db: Any) -> None:
    db.chats.insert_one({"_id": 1, "dedupeKey": "a"})
    db.chats.insert_one({"_id": 2, "dedupeKey": "b"})
    with pytest.raises(DuplicateKeyError):
        db.chats.insert_one({"_id": 3, "dedupeKey": "a"})
    with pytest.raises(DuplicateKeyError):
        db.chats.update_one({"_id": 2}, {"$set": {"dedupeKey": "a"}})
    assert db.chats.find_one({"dedupeKey": "b"})["_id"] == 2  # rolled back, index too
    stored = db.chats.find_one_and_update(
        {"dedupeKey": "a"},
        {"$setOnInsert": {"_id": 9}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    assert stored["_id"] == 1


# ---- TTL -------------------------------------------------------------------------------


def test_ttl_sweeps_at_most_once_per_period() -> None:
    clock = Clock()
    db = make_db(clock)
    long_ago = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    db.events.insert_one({"chatId": 1, "seq": 1, "createdAt": dt.datetime.now(dt.UTC)})
    sweeps = statistics(db).ttl_sweeps
    db.events.insert_one({"chatId": 1, "seq": 2, "createdAt": long_ago})
    for _ in range(20):
        db.events.find_one({"chatId": 1})
    assert statistics(db).ttl_sweeps == sweeps
    assert db.events.count_documents({"chatId": 1}) == 2  # not swept yet
    clock.now += 60
    assert db.events.count_documents({"chatId": 1}) == 1
    assert statistics(db).ttl_sweeps == sweeps + 1


def test_ttl_difference_expired_visible_until_the_period_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The one stated difference: plain mongomock drops an expired document at once, the
    engine at its next sweep, at most `ttl_period_seconds` later (as MongoDB's monitor)."""
    now = [dt.datetime(2030, 1, 1)]
    monkeypatch.setattr(mongomock, "utcnow", lambda: now[0])
    clock = Clock()
    fast, plain = make_db(clock), make_db(fast=False)
    for db in (fast, plain):
        db.events.insert_one({"_id": 1, "chatId": "a", "createdAt": now[0]})
        db.events.insert_one({"_id": 2, "chatId": "a", "createdAt": now[0] + dt.timedelta(60)})
    now[0] += dt.timedelta(seconds=61)  # document 1 expired (TTL 60 s)
    clock.now += 59  # inside the engine's period
    assert [d["_id"] for d in plain.events.find({"chatId": "a"})] == [2]
    assert [d["_id"] for d in fast.events.find({"chatId": "a"})] == [1, 2]  # still visible
    clock.now += 1  # the period is over: both agree
    assert [d["_id"] for d in fast.events.find({"chatId": "a"})] == [2]


# ---- the mutation review's cases, each on plain mongomock and on the engine -------------


def on_both(call: Any) -> Any:
    """`call` on a fresh accelerated database and a fresh plain one: the same answer."""
    fast, plain = make_db(), make_db(fast=False)
    got = call(fast)
    assert got == call(plain)
    return got


def test_page_stops_early_without_losing_a_document() -> None:
    def pages(db: Any) -> Any:
        db.messages.insert_many(
            [{"_id": i, "chatId": "a", "createdAt": T0 + dt.timedelta(seconds=i)} for i in range(5)]
        )
        db.messages.insert_one({"_id": 9, "chatId": "b", "createdAt": T0})
        found = db.messages.find
        return [
            [d["_id"] for d in found({"chatId": "a"}).sort(HISTORY).limit(2)],
            [d["_id"] for d in found({"chatId": "a"}).sort(HISTORY).skip(1).limit(2)],
            [
                d["_id"]
                for d in found({"chatId": "a"}).sort([("createdAt", 1), ("_id", 1)]).limit(3)
            ],
        ]

    assert on_both(pages) == [[4, 3], [3, 2], [0, 1, 2]]


def test_half_applied_update_is_reindexed() -> None:
    def moved(db: Any) -> Any:
        db.messages.insert_one({"_id": 1, "chatId": "a", "name": "s"})
        with pytest.raises(TypeError):  # $set applied, then $inc on a string raises
            db.messages.update_one({"_id": 1}, {"$set": {"chatId": "b"}, "$inc": {"name": 1}})
        return [
            [d["_id"] for d in db.messages.find({"chatId": "b"})],
            [d["_id"] for d in db.messages.find({"chatId": "b"}).sort(HISTORY)],
            db.messages.count_documents({"chatId": "a"}),
        ]

    assert on_both(moved) == [[1], [1], 0]


def test_unorderable_sort_values_are_not_walked_past() -> None:
    def history_of_a(db: Any) -> Any:
        for i, at in enumerate([T0, float("nan"), {"d": 1}, "t", T0, True]):
            db.messages.insert_one({"_id": i, "chatId": "a", "createdAt": at})
        return [
            [d["_id"] for d in db.messages.find({"chatId": "a"}).sort(HISTORY)],
            [d["_id"] for d in db.messages.find({"chatId": "a"}).sort(HISTORY).limit(3)],
        ]

    assert len(on_both(history_of_a)[0]) == 6


def test_object_id_query_finds_its_hex_string_in_arrays() -> None:
    user = ObjectId()

    def chats_of(db: Any) -> Any:
        db.chats.insert_one({"_id": 1, "dedupeKey": 1, "participants": [str(user)], "sortAt": T0})
        db.chats.insert_one({"_id": 2, "dedupeKey": 2, "participants": [user], "sortAt": T0})
        db.chats.insert_one({"_id": 3, "dedupeKey": 3, "participants": str(user), "sortAt": T0})
        return [
            [
                d["_id"]
                for d in db.chats.find({"participants": user}).sort([("sortAt", -1), ("_id", -1)])
            ],
            db.chats.count_documents({"participants": user}),
        ]

    assert on_both(chats_of) == [[2, 1], 2]


# ---- the mongomock version the engine copies from ---------------------------------------


def test_accelerate_refuses_another_mongomock(monkeypatch: pytest.MonkeyPatch) -> None:
    assert mongomock.__version__ == MONGOMOCK_VERSION  # the pin and the engine agree
    monkeypatch.setattr(mongomock, "__version__", "4.4.0")
    db = mongomock.MongoClient()["test"]
    with pytest.raises(RuntimeError, match=r"mongomock 4\.3\.0 only, found 4\.4\.0"):
        accelerate(db, INDEXES)
    assert type(db) is mongomock.Database  # left untouched


@pytest.mark.parametrize(
    "value", [None, True, False, 0, 3, 2.5, "", "s", ObjectId(), dt.datetime(2030, 1, 1)]
)
def test_sort_component_type_ranks_are_mongomocks(value: Any) -> None:
    """The copy of mongomock's private type ranks matches the installed mongomock."""
    component = impl.store.engine._sort_component("v", {"v": value})
    assert component is not None
    assert component[1] == mongomock.filtering._get_compare_type(value)


# ---- isolation, GridFS, call order -----------------------------------------------------


def test_other_databases_stay_plain(db: Any) -> None:
    other = mongomock.MongoClient(tz_aware=True)["test"]
    assert type(other) is mongomock.Database
    assert type(other["messages"]) is mongomock.Collection
    with pytest.raises(TypeError):
        statistics(other)
    with pytest.raises(RuntimeError):
        accelerate(db, INDEXES)


def test_gridfs_files_round_trip(db: Any) -> None:
    mongomock.gridfs.enable_gridfs_integration()
    fs = gridfs.GridFS(db)
    file_id = fs.put(b"x" * 600_000, filename="a.bin")
    assert fs.get(file_id).read() == b"x" * 600_000
    fs.delete(file_id)
    assert db["fs.chunks"].count_documents({}) == 0


def test_collections_created_before_accelerate_are_adopted() -> None:
    db = mongomock.MongoClient(tz_aware=True)["test"]
    db.messages.insert_one({"chatId": 1, "createdAt": T0})
    accelerate(db, INDEXES)
    assert db.messages.count_documents({"chatId": 1}) == 1
    assert statistics(db).index_gathers == 1


# ---- threads ---------------------------------------------------------------------------


@pytest.fixture
def tiny_switch_interval() -> Iterator[None]:
    saved = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(saved)


def run_threads(count: int, work: Any) -> list[BaseException]:
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def body(i: int) -> None:
        barrier.wait()
        try:
            work(i)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


@pytest.mark.usefixtures("tiny_switch_interval")
def test_concurrent_increments_are_exact(db: Any) -> None:
    chat = db.chats.insert_one({"n": 0}).inserted_id

    def work(_: int) -> None:
        for _ in range(500):
            db.chats.find_one_and_update({"_id": chat}, {"$inc": {"n": 1}})

    assert run_threads(8, work) == []
    assert db.chats.find_one({"_id": chat})["n"] == 4000


@pytest.mark.usefixtures("tiny_switch_interval")
def test_racing_inserts_of_one_unique_key_store_one(db: Any) -> None:
    errors = run_threads(50, lambda i: db.chats.insert_one({"dedupeKey": "k", "i": i}))
    assert len(errors) == 49
    assert all(isinstance(e, DuplicateKeyError) for e in errors)
    assert db.chats.count_documents({"dedupeKey": "k"}) == 1


@pytest.mark.usefixtures("tiny_switch_interval")
def test_concurrent_inserts_and_pages_never_error(db: Any) -> None:
    chat = ObjectId()

    def work(i: int) -> None:
        for j in range(200):
            if i % 2:
                db.messages.insert_one({"chatId": chat, "createdAt": T0 + dt.timedelta(j)})
            else:
                page = list(db.messages.find({"chatId": chat}).sort(HISTORY).limit(20))
                assert page == sorted(page, key=lambda d: (d["createdAt"], d["_id"]), reverse=True)

    assert run_threads(8, work) == []
    assert db.messages.count_documents({"chatId": chat}) == 800
