"""Connecting to the store and declaring the indexes every query relies on.

The embedded store is mongomock (in memory, one process), by default with the engine
layer of `impl.store.engine`, which answers from the same index declarations;
`MONGODB_URI` points pymongo at a real MongoDB through the same API. `indexes()` gathers
each collection module's declarations: the same list creates MongoDB's indexes and the
embedded engine's.
"""

from __future__ import annotations

import logging
from typing import Any

import mongomock
import mongomock.gridfs
import pymongo
from pymongo.database import Database
from pymongo.errors import ConfigurationError, OperationFailure

from impl.settings import Settings
from impl.store import chats, events, messages, notifications, users
from impl.store.base import Index

log = logging.getLogger("impl.store")


def indexes(settings: Settings) -> list[Index]:
    return [
        *users.INDEXES,
        *chats.INDEXES,
        *messages.INDEXES,
        *events.indexes(settings),
        *notifications.indexes(settings),
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
    if settings.embedded and settings.store_engine == "indexed":
        from impl.store.engine import accelerate

        accelerate(db, indexes(settings))
    return db


def connect_sandbox(settings: Settings, default: Database[Any], name: str) -> Database[Any]:
    """Sandbox `name`'s database: a fresh in-memory one on the embedded store, else the
    database `settings.sandbox_database(name)` on the default one's client."""
    if settings.embedded:
        return connect(settings)
    return default.client[settings.sandbox_database(name)]


def drop_sandbox(settings: Settings, db: Database[Any]) -> None:
    """Let go of a sandbox's database: dropped on MongoDB, closed when in memory."""
    if settings.embedded:
        db.client.close()
    else:
        db.client.drop_database(db.name)


def ensure_indexes(db: Database[Any], settings: Settings) -> None:
    for index in indexes(settings):
        db[index.collection].create_index(list(index.keys), **index.options)
    log.info("indexes ensured on %s", db.name)


def is_permanent(exc: Exception) -> bool:
    """An error that waiting will not cure (bad credentials, bad options, a refused
    index), as opposed to a store that cannot be reached yet."""
    return isinstance(exc, OperationFailure | ConfigurationError)
