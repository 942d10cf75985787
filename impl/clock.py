"""The server's clock: a source of time (real UTC time unless a test hands in another)
plus an offset that only the dev endpoint moves.

Every time rule (edit window, rate limit, retention, `createdAt`) reads `Clock.now()`.
Times are truncated to milliseconds because that is what MongoDB stores. Each sandbox has
its own offset over the same source (`Clock.fresh`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

TimeSource = Callable[[], datetime]
# The latest time the dev clock may show: a year short of what a datetime can hold, so
# that every period a rule adds to `now` (retention, windows, token lifetimes) still fits.
LATEST = datetime(9998, 12, 31, tzinfo=UTC)


class ClockOverflow(ValueError):
    """An advance would move the clock past `LATEST`."""


def to_millis(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def isoformat(moment: datetime) -> str:
    """`2026-11-25T12:00:00.000Z`: ISO 8601, UTC, millisecond precision. A naive moment
    is UTC (what the store gives back); an aware one in another zone is converted."""
    if moment.tzinfo is not None and moment.utcoffset():
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def as_utc(moment: datetime) -> datetime:
    """Stored datetimes come back naive (pymongo's default); they are UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def real_time() -> datetime:
    return datetime.now(UTC)


class Clock:
    """`source` says what time it is before the dev offset: tests hand in a frozen or a
    ticking one (through `create_app(..., clock=Clock(source))`) to pin time rules down."""

    def __init__(self, source: TimeSource = real_time) -> None:
        self.source = source
        self._offset = timedelta()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return to_millis(self.source() + self._offset)

    def fresh(self) -> Clock:
        """A clock over the same source, not moved: what a new sandbox starts with."""
        return Clock(self.source)

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward; `ClockOverflow` (nothing moved) past `LATEST`."""
        with self._lock:
            moved = self._offset + timedelta(seconds=seconds)
            if LATEST - self.source() < moved:
                raise ClockOverflow(f"the clock cannot pass {isoformat(LATEST)}")
            self._offset = moved
        return self.now()

    def reset(self) -> None:
        with self._lock:
            self._offset = timedelta()
