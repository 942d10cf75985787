"""Connecting to the store and declaring the indexes every query relies on.

The embedded store is mongomock (in memory, one process), by default with the engine
layer of `impl.store.engine`, which answers from the same index declarations;
`MONGODB_URI` points pymongo at a real MongoDB through the same API. `indexes()` gathers
each collection module's declarations: the same list creates MongoDB's indexes and the
embedded engine's.

A store that cannot be reached yet is waited for (`ensure_indexes_retrying`); a store that
refuses the server for a reason waiting will not cure (credentials refused, options pymongo
cannot use, an index it will not build) is `StoreRefused`, which stops the server at start
with its one-line reason.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import mongomock
import mongomock.gridfs
import pymongo
from pymongo.database import Database
from pymongo.errors import (
    ConfigurationError,
    ConnectionFailure,
    ExecutionTimeout,
    OperationFailure,
    WTimeoutError,
)

from impl.settings import Settings
from impl.store import chats, event_log, messages, notifications, users
from impl.store.base import Index

log = logging.getLogger("impl.store")

# Errors that a store coming up or a network healing can cure: AutoReconnect (and its
# NetworkTimeout, NotPrimaryError), ServerSelectionTimeoutError, and operations that ran out
# of time. Anything else (an OperationFailure such as AuthenticationFailed, code 18, or
# Unauthorized, 13; a ConfigurationError such as InvalidURI) will fail the same way again.
TRANSIENT_ERRORS = (ConnectionFailure, ExecutionTimeout, WTimeoutError)
FIRST_RETRY_SECONDS = 1.0
LONGEST_RETRY_SECONDS = 30.0

StoreRunner = Callable[..., Awaitable[Any]]


class StoreRefused(Exception):
    """The store refuses this server for a reason waiting will not cure; the message is
    the one line to show."""


def indexes(settings: Settings) -> list[Index]:
    return [
        *users.INDEXES,
        *chats.INDEXES,
        *messages.INDEXES,
        *event_log.indexes(settings),
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
        try:
            client = pymongo.MongoClient(
                settings.mongo_uri,
                tz_aware=True,
                serverSelectionTimeoutMS=timeout,
                connectTimeoutMS=timeout,
                socketTimeoutMS=max(timeout * 5, 10_000),
                appname="chat-api",
            )
        except ConfigurationError as exc:
            raise StoreRefused(f"MONGODB_URI cannot be used: {one_line(exc)}") from exc
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
    index), as opposed to a store that cannot be reached yet or did not answer in time."""
    return not isinstance(exc, TRANSIENT_ERRORS)


def one_line(exc: Exception) -> str:
    """What went wrong, on one line: pymongo's message without the server's full reply
    (an `OperationFailure` names its code instead)."""
    message = str(exc).split(", full error:")[0].splitlines()
    text = f"{type(exc).__name__}: {message[0] if message else ''}".rstrip(": ")
    if isinstance(exc, OperationFailure) and exc.code is not None:
        text += f" (code {exc.code})"
    return text


async def ensure_indexes_retrying(
    db: Database[Any],
    settings: Settings,
    run: StoreRunner,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """`ensure_indexes` through `run` (the services' way to call the store), again after a
    growing pause for as long as the store cannot be reached; `StoreRefused` for an error
    that retrying cannot cure."""
    delay = FIRST_RETRY_SECONDS
    while True:
        try:
            await run(ensure_indexes, db, settings)
            return
        except Exception as exc:
            if is_permanent(exc):
                raise StoreRefused(
                    f"the store refused to prepare its indexes: {one_line(exc)}"
                ) from exc
            log.warning("store not ready (%s); retrying in %.0f s", one_line(exc), delay)
            await sleep(delay)
            delay = min(delay * 2, LONGEST_RETRY_SECONDS)
