"""The message rate limit: at most N accepted messages per user in any sliding window.

Each user has one document holding the times of their last N accepted messages. A send
is admitted by one atomic conditional update: fewer than N stamps, or the oldest of them
already outside the window. Reserving happens only after every other check passed, and a
reservation whose message was not stored is released, so rejected requests never use up
the allowance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from impl.clock import as_utc
from impl.context import Caller
from impl.errors import RateLimited
from impl.store import Doc


@dataclass(frozen=True)
class Allowance:
    limit: int
    remaining: int
    reset_seconds: int
    stamp: datetime | None = None

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_seconds),
        }


def _allowance(caller: Caller, doc: Doc | None, stamp: datetime | None = None) -> Allowance:
    limit = caller.settings.rate_limit
    window = timedelta(seconds=caller.settings.rate_window_seconds)
    now = caller.clock.now()
    recent = [as_utc(s) for s in (doc or {}).get("stamps", []) if as_utc(s) > now - window]
    reset = math.ceil((min(recent) + window - now).total_seconds()) if recent else 0
    return Allowance(limit, max(limit - len(recent), 0), max(reset, 0), stamp)


def peek(caller: Caller) -> Allowance:
    return _allowance(caller, caller.store.ratelimits.find_one({"_id": caller.id}))


def reserve(caller: Caller) -> Allowance:
    """Take one message from the caller's allowance, or raise 429 `RATE_LIMITED`."""
    limit = caller.settings.rate_limit
    now = caller.clock.now()
    cutoff = now - timedelta(seconds=caller.settings.rate_window_seconds)
    admitted = {
        "_id": caller.id,
        "$or": [{f"stamps.{limit - 1}": {"$exists": False}}, {"stamps.0": {"$lte": cutoff}}],
    }
    try:
        doc = caller.store.ratelimits.find_one_and_update(
            admitted,
            {"$push": {"stamps": {"$each": [now], "$slice": -limit}}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
    except DuplicateKeyError:  # the user's document exists but the condition failed
        doc = None
    if doc is None:
        raise _limited(peek(caller))
    return _allowance(caller, doc, stamp=now)


def release(caller: Caller, allowance: Allowance) -> None:
    if allowance.stamp is not None:
        caller.store.ratelimits.update_one(
            {"_id": caller.id}, {"$pull": {"stamps": allowance.stamp}}
        )


def _limited(allowance: Allowance) -> RateLimited:
    retry_after = max(allowance.reset_seconds, 1)
    headers = {**allowance.headers(), "Retry-After": str(retry_after)}
    return RateLimited(
        f"at most {allowance.limit} messages per window; retry in {retry_after} s",
        headers=headers,
        retryAfter=retry_after,
    )
