"""The one edge to MongoDB: a module per collection of named operations in domain words,
each beside the index it uses.

    base           Index, Table (every call names its index), Outage
    users chats messages event_log notifications allowances   the collections (a
                   module each; the collections keep their names: events, ratelimits)
    files          attachment bytes in GridFS
    database       connect (mongomock or MONGODB_URI), the index list, ensure_indexes

Nothing outside this package imports pymongo or touches a collection. Ids arrive parsed
(`impl.domain.input_rules.parse_id`); missing documents become `NotFound`, an unreachable store
`StoreUnavailable`; only single-document atomic operations and unique indexes are relied
on, which behave the same on MongoDB and on the embedded store.
"""

from __future__ import annotations

from typing import Any

from pymongo.database import Database

from impl.store.allowances import Allowances
from impl.store.base import Doc, Index, Outage, QueryObserver, Table, pins
from impl.store.chats import Chats
from impl.store.event_log import EventLog
from impl.store.gridfs import Files
from impl.store.messages import Messages
from impl.store.notifications import Notifications
from impl.store.users import Users

__all__ = ["Doc", "Index", "QueryObserver", "Store", "pins"]

COLLECTIONS = ("users", "chats", "messages", "events", "notifications", "ratelimits")


class Store:
    """Every collection of one database, each behind its named operations."""

    def __init__(
        self,
        db: Database[Any],
        retry_after_seconds: int = 3,
        observer: QueryObserver | None = None,
    ) -> None:
        self.db = db
        self.outage = Outage(retry_after_seconds)

        def table(name: str) -> Table:
            return Table(db[name], self.outage, observer)

        self.users = Users(table("users"))
        self.chats = Chats(table("chats"))
        self.messages = Messages(table("messages"))
        self.event_log = EventLog(table("events"))
        self.notifications = Notifications(table("notifications"))
        self.allowances = Allowances(table("ratelimits"))
        self.files = Files(db, self.outage)

    def drop_everything(self) -> None:
        for name in (*COLLECTIONS, "fs.files", "fs.chunks"):
            self.db[name].delete_many({})

    def retire(self, why: str) -> None:
        """Refuse every later call with `why` (401): the world this store holds is gone."""
        self.outage.retire(why)

    def close(self) -> None:
        self.db.client.close()
