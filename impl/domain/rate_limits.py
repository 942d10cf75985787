"""Sliding-window rate limits: at most N accepted messages (and N' new chats) per user in
any window.

Each (user, kind) has one document holding the times of their accepted actions still in
the window. An action is admitted when fewer than N of them are newer than the window's
start; the new time is written with a compare-and-set of that one document (read, decide,
write naming the version read, read again if another request changed it first), so
concurrent requests, in threads or in other processes, never admit more than N. Reserving
happens only after every other check passed, and a reservation whose action was not
stored is given back, so rejected requests never use up the allowance.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from impl.domain.services import Caller
from impl.errors import RateLimited, StoreUnavailable
from impl.store.allowances import Stamps

MESSAGES, CHATS = "messages", "chats"
# Each failed compare-and-set means another request changed the allowance meanwhile, so
# this bounds how long one request may keep losing to a crowd of its user's other requests.
SWAP_ATTEMPTS = 64
log = logging.getLogger("impl.domain.rate_limits")


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


def _window(caller: Caller) -> timedelta:
    return timedelta(seconds=caller.settings.rate_window_seconds)


def _allowance(
    caller: Caller, kind: str, recent: Stamps, now: datetime, stamp: datetime | None = None
) -> Allowance:
    """`recent`: the stamps inside the window that ends `now`."""
    limit = _limit(caller, kind)
    reset = math.ceil((recent.moment(0) + _window(caller) - now).total_seconds()) if recent else 0
    return Allowance(kind, limit, max(limit - len(recent), 0), max(reset, 0), stamp)


def peek(caller: Caller, kind: str = MESSAGES) -> Allowance:
    held = caller.store.allowances.read(_key(caller, kind))
    now = caller.clock.now()
    return _allowance(caller, kind, held.stamps.after(now - _window(caller)), now)


def reserve(caller: Caller, kind: str = MESSAGES) -> Allowance:
    """Take one action from the caller's allowance, or raise 429 `RATE_LIMITED`."""
    store, limit = caller.store.allowances, _limit(caller, kind)
    for _ in range(SWAP_ATTEMPTS):
        held = store.read(_key(caller, kind))
        now = caller.clock.now()
        recent = held.stamps.after(now - _window(caller))  # older ones are dropped here
        if len(recent) >= limit:
            raise _limited(_allowance(caller, kind, recent, now))
        taken = recent.plus(now)
        if store.swap(held, taken):
            return _allowance(caller, kind, taken, now, stamp=now)
    raise StoreUnavailable(
        "too many concurrent requests of this user; try again shortly",
        retry_after=1,
    )


def release(caller: Caller, allowance: Allowance) -> None:
    """Give back what `reserve` took (one stamp, even when others share its time)."""
    if allowance.stamp is None:
        return
    store = caller.store.allowances
    for _ in range(SWAP_ATTEMPTS):
        held = store.read(_key(caller, allowance.kind))
        left = held.stamps.minus(allowance.stamp)
        if left is None or store.swap(held, left):
            return
    log.warning("an unused %s allowance was not given back: contended", allowance.kind)


def _limited(allowance: Allowance) -> RateLimited:
    retry_after = max(allowance.reset_seconds, 1)
    what = "messages" if allowance.kind == MESSAGES else "new chats"
    return RateLimited(
        f"at most {allowance.limit} {what} per window; retry in {retry_after} s",
        allowance=allowance,
        retry_after=retry_after,
    )
