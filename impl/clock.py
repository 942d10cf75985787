"""The server's clock: real UTC time plus an offset that only the dev endpoint moves.

Every time rule (edit window, rate limit, retention, `createdAt`) reads `Clock.now()`.
Times are truncated to milliseconds because that is what MongoDB stores.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


def to_millis(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def isoformat(moment: datetime) -> str:
    """`2026-11-25T12:00:00.000Z`: ISO 8601, UTC, millisecond precision."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def as_utc(moment: datetime) -> datetime:
    """Stored datetimes come back naive (pymongo's default); they are UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class Clock:
    def __init__(self) -> None:
        self._offset = timedelta()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return to_millis(datetime.now(UTC) + self._offset)

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            self._offset += timedelta(seconds=seconds)
        return self.now()

    def reset(self) -> None:
        with self._lock:
            self._offset = timedelta()
