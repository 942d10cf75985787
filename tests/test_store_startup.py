"""Preparing a real store at start: a store that cannot be reached yet is waited for (the
server serves meanwhile), one that refuses the server for a reason waiting will not cure
(credentials, options) stops it with one line and a non-zero exit.

No MongoDB is needed: the store is built over a database whose collections refuse
`create_index` with the errors pymongo raises, and handed to `create_app`.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterator
from typing import Any

import mongomock
import pytest
from pymongo.errors import (
    AutoReconnect,
    ConfigurationError,
    InvalidURI,
    OperationFailure,
    ServerSelectionTimeoutError,
)

from impl.__main__ import main
from impl.app import create_app
from impl.serve import server_for
from impl.settings import Settings
from impl.store import Store
from impl.store.database import StoreRefused, connect, ensure_indexes_retrying

SECRET = "a-test-secret-that-is-long-enough-for-hs256"
AUTH_FAILED = OperationFailure(
    "Authentication failed.",
    18,
    {"ok": 0, "errmsg": "Authentication failed.", "code": 18, "codeName": "AuthenticationFailed"},
)
NOT_AUTHORIZED = OperationFailure(
    "not authorized on chat to execute command { createIndexes: ... }",
    13,
    {"ok": 0, "code": 13, "codeName": "Unauthorized"},
)


class RefusingDatabase:
    """A mongomock database whose `create_index` raises the queued errors, one per call,
    then works; everything else is the real mongomock's."""

    def __init__(self, *errors: Exception) -> None:
        self.real: Any = mongomock.MongoClient(tz_aware=True)["chat"]
        self.errors = list(errors)
        self.name = self.real.name
        self.client = self.real.client

    def __getitem__(self, name: str) -> Any:
        return RefusingCollection(self, self.real[name])


class RefusingCollection:
    def __init__(self, db: RefusingDatabase, real: Any) -> None:
        self.db = db
        self.real = real

    def create_index(self, keys: Any, **options: Any) -> str:
        if self.db.errors:
            raise self.db.errors.pop(0)
        name: str = self.real.create_index(keys, **options)
        return name

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def real_store_settings() -> Settings:
    return Settings(mongo_uri="mongodb://127.0.0.1:1/", jwt_secret=SECRET)


async def run_inline(fn: Any, *args: Any) -> Any:
    return fn(*args)


class Pauses:
    """Stands in for `asyncio.sleep`: records each pause instead of waiting."""

    def __init__(self) -> None:
        self.taken: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.taken.append(seconds)


@pytest.fixture
def store_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.INFO, logger="impl.store"):
        yield caplog


async def test_an_unreachable_store_is_retried_and_its_message_logged(
    store_log: pytest.LogCaptureFixture,
) -> None:
    db = RefusingDatabase(
        ServerSelectionTimeoutError("127.0.0.1:27017: [Errno 111] Connection refused"),
        AutoReconnect("connection closed"),
    )
    pauses = Pauses()
    await ensure_indexes_retrying(db, real_store_settings(), run_inline, pauses)  # type: ignore[arg-type]
    assert pauses.taken == [1.0, 2.0]
    retries = [r.getMessage() for r in store_log.records if r.levelno == logging.WARNING]
    assert retries == [
        "store not ready (ServerSelectionTimeoutError: 127.0.0.1:27017: [Errno 111] "
        "Connection refused); retrying in 1 s",
        "store not ready (AutoReconnect: connection closed); retrying in 2 s",
    ]
    assert len(db.real["messages"].index_information()) > 1  # more than `_id`: ensured


@pytest.mark.parametrize(
    "error, reason",
    [
        (AUTH_FAILED, "OperationFailure: Authentication failed. (code 18)"),
        (
            NOT_AUTHORIZED,
            "OperationFailure: not authorized on chat to execute command "
            "{ createIndexes: ... } (code 13)",
        ),
        (ConfigurationError("unknown authMechanism"), "ConfigurationError: unknown authMechanism"),
    ],
    ids=["authentication-failed", "unauthorized", "bad-options"],
)
async def test_an_error_waiting_cannot_cure_is_refused_at_once(
    error: Exception, reason: str
) -> None:
    pauses = Pauses()
    with pytest.raises(StoreRefused) as refused:
        await ensure_indexes_retrying(
            RefusingDatabase(error),  # type: ignore[arg-type]
            real_store_settings(),
            run_inline,
            pauses,
        )
    assert str(refused.value) == f"the store refused to prepare its indexes: {reason}"
    assert pauses.taken == []


def test_a_uri_pymongo_cannot_use_is_refused_when_connecting() -> None:
    settings = Settings(mongo_uri="notmongo://somewhere", jwt_secret=SECRET)
    with pytest.raises(StoreRefused) as refused:
        connect(settings)
    assert str(refused.value).startswith("MONGODB_URI cannot be used: InvalidURI: ")
    assert isinstance(refused.value.__cause__, InvalidURI)


def free_socket() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


async def test_a_server_whose_store_refuses_its_credentials_stops_by_itself() -> None:
    settings = real_store_settings()
    app = create_app(settings, Store(RefusingDatabase(AUTH_FAILED)))  # type: ignore[arg-type]
    server = server_for(app, settings, log_level="critical")
    with free_socket() as sock:
        await asyncio.wait_for(server.serve(sockets=[sock]), 10)
    assert app.fatal_error == (
        "the store refused to prepare its indexes: "
        "OperationFailure: Authentication failed. (code 18)"
    )


def test_serve_with_a_uri_pymongo_cannot_use_exits_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("JWT_SECRET", SECRET)
    monkeypatch.delenv("REDIS_URL", raising=False)
    with free_socket() as taken:
        port = taken.getsockname()[1]
    code = main(["serve", "--mongo-uri", "notmongo://somewhere", "--port", str(port)])
    lines = capsys.readouterr().err.splitlines()
    assert code == 2
    assert len(lines) == 1 and lines[0].startswith(
        "error: MONGODB_URI cannot be used: InvalidURI: Invalid URI scheme"
    )
