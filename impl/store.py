"""The edge to MongoDB: ids in, documents out, store outcomes turned into domain errors.

Everything above this module speaks in `ObjectId`s and plain dicts; malformed ids become
`ValidationFailed`, missing documents `NotFound`, unique-index collisions are reported to
the caller (`insert_or_get`) instead of raising. Only single-document atomic operations
are used: they behave the same on MongoDB and on the embedded mongomock store.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ReturnDocument
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from impl.errors import NotFound, ValidationFailed

Doc = dict[str, Any]
COLLECTIONS = ("users", "chats", "messages", "events", "notifications", "ratelimits")


def parse_id(value: str, what: str = "id") -> ObjectId:
    """A client-supplied id; 400 when it is not a 24-hex ObjectId."""
    if not isinstance(value, str) or len(value) != 24:
        raise ValidationFailed(f"{what} must be a 24-character hex ObjectId")
    try:
        return ObjectId(value)
    except (InvalidId, TypeError):
        raise ValidationFailed(f"{what} must be a 24-character hex ObjectId") from None


class Store:
    def __init__(self, db: Database[Any]) -> None:
        self.db = db
        self.users: Collection[Doc] = db["users"]
        self.chats: Collection[Doc] = db["chats"]
        self.messages: Collection[Doc] = db["messages"]
        self.events: Collection[Doc] = db["events"]
        self.notifications: Collection[Doc] = db["notifications"]
        self.ratelimits: Collection[Doc] = db["ratelimits"]

    def get(self, collection: Collection[Doc], query: Mapping[str, Any], what: str) -> Doc:
        """The one matching document, or 404 naming `what`."""
        doc = collection.find_one(dict(query))
        if doc is None:
            raise NotFound(f"{what} not found")
        return doc

    def page(
        self,
        collection: Collection[Doc],
        query: Mapping[str, Any],
        sort: list[tuple[str, int]],
        page: int,
        limit: int,
    ) -> tuple[int, list[Doc]]:
        """(how many match, the documents of 1-based page `page`)."""
        total = collection.count_documents(dict(query))
        found = collection.find(dict(query)).sort(sort).skip((page - 1) * limit).limit(limit)
        return total, list(found)

    def insert_or_get(
        self, collection: Collection[Doc], key: Mapping[str, Any], doc: Doc
    ) -> tuple[Doc, bool]:
        """Insert `doc` unless a document matching the unique `key` exists.

        Returns (document, created). Race-safe through the unique index: an upsert that
        loses a race raises DuplicateKeyError, after which the winner is read back.
        """
        for _ in range(3):
            try:
                stored = collection.find_one_and_update(
                    dict(key),
                    {"$setOnInsert": doc},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
            except DuplicateKeyError:
                continue
            if stored is not None:
                return stored, stored["_id"] == doc["_id"]
        return self.get(collection, key, "document"), False

    def insert_unique(self, collection: Collection[Doc], doc: Doc) -> bool:
        """Insert; False when a unique index already holds the key."""
        try:
            collection.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    def drop_everything(self) -> None:
        for name in COLLECTIONS:
            self.db[name].delete_many({})
        self.db["fs.files"].delete_many({})
        self.db["fs.chunks"].delete_many({})
