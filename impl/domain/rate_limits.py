"""Sliding-window rate limits: at most N accepted messages (and N' new chats) per user in
any window.

Each (user, kind) has one document holding the times of their last N accepted actions.
An action is admitted by one atomic conditional update: fewer than N stamps, or the oldest
of them already outside the window. Reserving happens only after every other check
passed, and a reservation whose action was not stored is given back, so rejected
requests never use up the allowance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from impl.clock import as_utc
from impl.domain.services import Caller
from impl.errors import RateLimited, rate_limit_headers
from impl.store import Doc

MESSAGES, CHATS = "messages", "chats"


@dataclass(frozen=True)
class Allowance:
    """What is left of one kind of the caller's allowance: `remaining` of `limit` actions,
    the oldest counted one leaving the window in `reset_seconds`."""

    kind: str
    limit: int
    remaining: int
    reset_seconds: int
    # the stamp `reserve` took (what `release` gives back); None from `peek`
    stamp: datetime | None = None


def _limit(caller: Caller, kind: str) -> int:
    s = caller.settings
    return s.rate_limit if kind == MESSAGES else s.chat_create_rate_limit


def _key(caller: Caller, kind: str) -> str:
    return f"{kind}:{caller.id}"


def _allowance(
    caller: Caller, kind: str, doc: Doc | None, stamp: datetime | None = None
) -> Allowance:
    limit = _limit(caller, kind)
    window = timedelta(seconds=caller.settings.rate_window_seconds)
    now = caller.clock.now()
    recent = [as_utc(s) for s in (doc or {}).get("stamps", []) if as_utc(s) > now - window]
    reset = math.ceil((min(recent) + window - now).total_seconds()) if recent else 0
    return Allowance(kind, limit, max(limit - len(recent), 0), max(reset, 0), stamp)


def peek(caller: Caller, kind: str = MESSAGES) -> Allowance:
    return _allowance(caller, kind, caller.store.ratelimits.stamps(_key(caller, kind)))


def reserve(caller: Caller, kind: str = MESSAGES) -> Allowance:
    """Take one action from the caller's allowance, or raise 429 `RATE_LIMITED`."""
    now = caller.clock.now()
    cutoff = now - timedelta(seconds=caller.settings.rate_window_seconds)
    doc = caller.store.ratelimits.admit(_key(caller, kind), now, cutoff, _limit(caller, kind))
    if doc is None:
        raise _limited(peek(caller, kind))
    return _allowance(caller, kind, doc, stamp=now)


def release(caller: Caller, allowance: Allowance) -> None:
    if allowance.stamp is not None:
        caller.store.ratelimits.give_back(_key(caller, allowance.kind), allowance.stamp)


def _limited(allowance: Allowance) -> RateLimited:
    retry_after = max(allowance.reset_seconds, 1)
    headers = {**rate_limit_headers(allowance), "Retry-After": str(retry_after)}
    what = "messages" if allowance.kind == MESSAGES else "new chats"
    return RateLimited(
        f"at most {allowance.limit} {what} per window; retry in {retry_after} s",
        headers=headers,
        retryAfter=retry_after,
    )
