"""Sliding-window allowances: per user and kind, one document holding the times of the
admitted actions still inside the window, and a version that every change bumps.

The times are packed into one binary value, 8 bytes each (milliseconds since the epoch,
ascending), not kept as an array: mongomock deep-copies a document element by element on
every read and update, and MongoDB and pymongo encode and decode an array element by
element, so with an array every send cost grew with the stamps in the window. A `bytes`
value is copied by reference and encoded as one block. It cannot be changed in place, so
a change is a compare-and-set: `swap` writes a new value only if the document still has
the version that was read, and the caller reads again when another request got there
first.
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from impl.clock import as_utc
from impl.store.base import Table, primary

BY_ID = primary("ratelimits")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MS = timedelta(milliseconds=1)
_STAMP = struct.Struct(">q")


def _millis(moment: datetime) -> int:
    return (as_utc(moment) - EPOCH) // ONE_MS


class Stamps:
    """Moments in ascending order, packed; every change makes a new value (the stored one
    is shared, never modified). Indexing gives milliseconds since the epoch."""

    __slots__ = ("packed",)

    def __init__(self, packed: bytes = b"") -> None:
        self.packed = packed

    @classmethod
    def of(cls, moments: Iterable[datetime]) -> Stamps:
        return cls(b"".join(_STAMP.pack(ms) for ms in sorted(map(_millis, moments))))

    def __len__(self) -> int:
        return len(self.packed) // _STAMP.size

    def __getitem__(self, index: int) -> int:
        if not 0 <= index < len(self):
            raise IndexError(index)
        millis: int = _STAMP.unpack_from(self.packed, index * _STAMP.size)[0]
        return millis

    def moment(self, index: int) -> datetime:
        return EPOCH + self[index] * ONE_MS

    def after(self, cutoff: datetime) -> Stamps:
        """Those strictly later than `cutoff`."""
        start = bisect.bisect_right(self, _millis(cutoff))
        return self if start == 0 else Stamps(self.packed[start * _STAMP.size :])

    def plus(self, moment: datetime) -> Stamps:
        """With `moment` added in its place (after any equal ones)."""
        millis = _millis(moment)
        at = bisect.bisect_right(self, millis) * _STAMP.size
        return self._spliced(at, at, _STAMP.pack(millis))

    def minus(self, moment: datetime) -> Stamps | None:
        """With one stamp equal to `moment` taken out; None when there is none."""
        millis = _millis(moment)
        index = bisect.bisect_left(self, millis)
        if index == len(self) or self[index] != millis:
            return None
        at = index * _STAMP.size
        return self._spliced(at, at + _STAMP.size, b"")

    def _spliced(self, start: int, end: int, middle: bytes) -> Stamps:
        """`packed[start:end]` replaced by `middle`, copied once (the views copy nothing)."""
        view = memoryview(self.packed)
        return Stamps(b"".join((view[:start], middle, view[end:])))


@dataclass(frozen=True)
class Held:
    """One allowance document as read: its stamps and the version a change must name
    (None: there is no document yet)."""

    key: str
    stamps: Stamps
    version: int | None


class Allowances:
    def __init__(self, table: Table) -> None:
        self.table = table

    def read(self, key: str) -> Held:
        doc = self.table.find_one(BY_ID, {"_id": key})
        if doc is None:
            return Held(key, Stamps(), None)
        if "v" not in doc:  # stored before the stamps were packed: an array of datetimes
            return Held(key, Stamps.of(doc.get("stamps", [])), 0)
        return Held(key, Stamps(bytes(doc["w"])), int(doc["v"]))

    def swap(self, held: Held, stamps: Stamps) -> bool:
        """Store `stamps` in place of what `held` read, unless the document changed (or
        was created) since; True when stored."""
        if held.version is None:
            return self.table.insert({"_id": held.key, "w": stamps.packed, "v": 1})
        change: dict[str, dict[str, object]] = {"$set": {"w": stamps.packed, "v": held.version + 1}}
        if held.version == 0:
            current: object = {"$exists": False}
            change["$unset"] = {"stamps": ""}
        else:
            current = held.version
        return self.table.update_one(BY_ID, {"_id": held.key, "v": current}, change).matched == 1
