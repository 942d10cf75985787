"""Sliding-window allowances: per user and kind, the times of their last N admitted
actions, in one document, so that admitting is one atomic conditional update."""

from __future__ import annotations

from datetime import datetime

from pymongo.errors import DuplicateKeyError

from impl.store.base import Doc, Table, primary

BY_ID = primary("ratelimits")


class RateLimits:
    def __init__(self, table: Table) -> None:
        self.table = table

    def stamps(self, key: str) -> Doc | None:
        return self.table.find_one(BY_ID, {"_id": key})

    def admit(self, key: str, now: datetime, cutoff: datetime, limit: int) -> Doc | None:
        """Add `now` if fewer than `limit` stamps are newer than `cutoff`; the document
        after, or None when the allowance is used up."""
        admitted = {
            "_id": key,
            "$or": [{f"stamps.{limit - 1}": {"$exists": False}}, {"stamps.0": {"$lte": cutoff}}],
        }
        try:
            return self.table.find_one_and_update(
                BY_ID,
                admitted,
                {"$push": {"stamps": {"$each": [now], "$slice": -limit}}},
                upsert=True,
            )
        except DuplicateKeyError:  # the document exists but the condition failed
            return None

    def give_back(self, key: str, stamp: datetime) -> None:
        self.table.update_one(BY_ID, {"_id": key}, {"$pull": {"stamps": stamp}})
