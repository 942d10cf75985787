"""Connecting to the store and declaring the indexes every query relies on.

The embedded store is mongomock (in memory, one process); `MONGODB_URI` points pymongo at
a real MongoDB through the same API. `INDEXES` is the single list of index declarations;
a test checks every query shape the server makes against it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import mongomock
import mongomock.gridfs
import pymongo
from pymongo.database import Database

from impl.settings import Settings

log = logging.getLogger("impl.db")

ASC, DESC = pymongo.ASCENDING, pymongo.DESCENDING


@dataclass(frozen=True)
class Index:
    collection: str
    keys: list[tuple[str, int]]
    options: dict[str, Any] = field(default_factory=dict)


def indexes(settings: Settings) -> list[Index]:
    return [
        Index("users", [("role", ASC), ("status", ASC)]),
        Index("chats", [("dedupeKey", ASC)], {"unique": True}),
        Index("chats", [("participants", ASC), ("sortAt", DESC)]),
        Index("messages", [("chatId", ASC), ("createdAt", DESC), ("_id", DESC)]),
        # sparse: only sends with a clientMessageId carry a key (and pay for the check)
        Index("messages", [("clientKey", ASC)], {"unique": True, "sparse": True}),
        # not unique: `seq` comes from an atomic $inc on the chat, so it is unique already
        Index("events", [("chatId", ASC), ("seq", ASC)]),
        Index(
            "events",
            [("createdAt", ASC)],
            {"expireAfterSeconds": settings.event_retention_seconds},
        ),
        Index("notifications", [("userId", ASC), ("createdAt", DESC)]),
        Index(
            "notifications",
            [("createdAt", ASC)],
            {"expireAfterSeconds": settings.notification_retention_seconds},
        ),
    ]


_gridfs_enabled = False


def connect(settings: Settings) -> Database[Any]:
    """A `Database` for the settings; never blocks (pymongo connects lazily)."""
    global _gridfs_enabled
    if settings.embedded:
        if not _gridfs_enabled:
            mongomock.gridfs.enable_gridfs_integration()  # type: ignore[no-untyped-call]
            _gridfs_enabled = True
        client: Any = mongomock.MongoClient(tz_aware=True)
    else:
        timeout = settings.mongo_timeout_ms
        client = pymongo.MongoClient(
            settings.mongo_uri,
            tz_aware=True,
            serverSelectionTimeoutMS=timeout,
            connectTimeoutMS=timeout,
            socketTimeoutMS=max(timeout * 5, 10_000),
            appname="chat-api",
        )
    db: Database[Any] = client[settings.mongo_db]
    return db


def ensure_indexes(db: Database[Any], settings: Settings) -> None:
    for index in indexes(settings):
        db[index.collection].create_index(index.keys, **index.options)
    log.info("indexes ensured on %s", db.name)
