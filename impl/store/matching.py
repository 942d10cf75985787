"""Filters the embedded engine meets most, tested against a document without mongomock's
generic walk, with its answers: `compiled(spec)` is `filter_applies(spec, ·)` as a function.

mongomock's `filter_applies` works out a filter's shape again for every document it
tests: which keys are operators, whether a match is negative, which branch a value takes.
The app's hot queries have two shapes only, a field equal to a value and a field `$ne` a
value (`{"participants": user, "archivedBy": {"$ne": user}}`, `{"chatId": chat}`), so for
a filter made of those alone that work is done once per query. Each test is the very
expression mongomock evaluates for that shape (`$ne` is mongomock's own operator
function), so answers cannot differ; any other filter keeps mongomock's function.
`tests/test_speed_paths.py` checks both ways on generated filters and documents.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bson import ObjectId
from mongomock import filtering as _mm_filtering
from sentinels import NOTHING

__all__ = ["compiled"]

filtering: Any = _mm_filtering
Doc = dict[str, Any]
Test = Callable[[Doc], bool]

_NE = filtering._filterer_inst._operator_map["$ne"]
# values mongomock treats as patterns (matched with re), not by equality
_PATTERNS = filtering._RE_TYPES


def is_plain(spec: Any) -> bool:
    """Whether `spec` is made of the two shapes alone: mongomock then accepts it (testing
    it against any document raises nothing), so it needs no trial run."""
    return _shapes(spec) is not None


def compiled(spec: Any) -> Test:
    """A function answering `bool(filter_applies(spec, doc))` for a stored document."""
    shapes = _shapes(spec)
    if shapes is None:
        return lambda doc: bool(filtering.filter_applies(spec, doc))
    tests = [_not_equal(key, value) if ne else _equal(key, value) for key, ne, value in shapes]
    if len(tests) == 1:
        return tests[0]
    return lambda doc: all(test(doc) for test in tests)


def _shapes(spec: Any) -> list[tuple[str, bool, Any]] | None:
    """(field, whether it is `$ne`, the value) for each field, or None when a field is not
    one of the two shapes."""
    if type(spec) is not dict:
        return None
    shapes: list[tuple[str, bool, Any]] = []
    for key, search in spec.items():
        if type(key) is not str or not key or key.startswith("$") or "." in key:
            return None
        if isinstance(search, dict):
            if len(search) != 1 or "$ne" not in search:
                return None
            shapes.append((key, True, search["$ne"]))
        elif isinstance(search, _PATTERNS):
            return None
        else:
            shapes.append((key, False, search))
    return shapes


def _equal(key: str, search: Any) -> Test:
    """`{key: search}` for a plain value: mongomock's list and scalar branches."""
    by_text = str(search) if isinstance(search, ObjectId) else None

    def test(doc: Doc) -> bool:
        if not isinstance(doc, dict):
            return bool(filtering.filter_applies({key: search}, doc))
        value = doc.get(key, NOTHING)
        if isinstance(value, list | tuple):
            found = search in value or search == value
            if by_text is not None:
                found |= by_text in value
            return bool(found)
        return bool((value == search) or (search is None and value is NOTHING))

    return test


def _not_equal(key: str, search: Any) -> Test:
    """`{key: {"$ne": search}}`: every candidate passes mongomock's `$ne` operator."""

    def test(doc: Doc) -> bool:
        if not isinstance(doc, dict):
            return bool(filtering.filter_applies({key: {"$ne": search}}, doc))
        return bool(_NE(doc.get(key, NOTHING), search))

    return test
