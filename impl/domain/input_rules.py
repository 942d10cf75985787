"""What a client may send beyond what JSON Schema can say.

MongoDB refuses (and mongomock silently accepts) strings with lone surrogates, integers
outside int64, NUL or `$`/`.` in keys, and documents too deep or too large; JSON itself
admits NaN and Infinity, which no client could read back. These checks run on every JSON
body (through `validation.StrictJSONBodyValidator`) and on every text a chat stores.

Depth counts objects and arrays alike: `{"a": [[1]]}` is three levels. A body may be
`BODY_MAX_DEPTH` levels deep, far more than any schema-valid body needs (metadata at
most 8 inside a body: 9) and far less than MongoDB's 100 once a body value sits inside a
stored document; the check walks with a list, never the call stack, so no nesting can
exhaust it, and it runs before anything recursive (schema validation, storage) sees the
value.

Ids a client sends (in paths and bodies) are parsed here too (`parse_id`): a malformed one
is 400 before anything reaches the store.
"""

from __future__ import annotations

import json
import math
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId

from impl.errors import ValidationFailed

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
BODY_MAX_DEPTH = 32


def check_depth(value: Any, limit: int = BODY_MAX_DEPTH, what: str = "the body") -> None:
    """Raise 400 when objects and arrays in `value` nest deeper than `limit` levels."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            raise ValidationFailed(f"{what} is nested deeper than {limit} levels")
        pending.extend((child, depth + 1) for child in children)


def check_storable(value: Any, where: str = "body") -> None:
    """Raise 400 for anything in a decoded JSON value that MongoDB cannot store faithfully."""
    if isinstance(value, str):
        _check_string(value, where)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise ValidationFailed(f"{where} holds an integer outside the 64-bit range")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationFailed(f"{where} holds a number that is not finite")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_storable(item, f"{where}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_string(key, f"a key in {where}")
            if "\x00" in key:
                raise ValidationFailed(f"a key in {where} contains NUL")
            check_storable(item, f"{where}.{key}")


def _check_string(value: str, where: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationFailed(f"{where} holds a string that is not valid Unicode") from None


def check_metadata(metadata: Any, max_bytes: int, max_depth: int) -> None:
    """400 unless `metadata` is an object of at most `max_bytes` as compact JSON, nested
    at most `max_depth` levels, whose keys MongoDB stores as they are."""
    if not isinstance(metadata, dict):
        raise ValidationFailed("metadata must be an object")
    check_depth(metadata, max_depth, "metadata")
    _check_keys(metadata)
    size = len(json.dumps(metadata, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    if size > max_bytes:
        raise ValidationFailed(f"metadata is {size} bytes as JSON; the limit is {max_bytes}")


def _check_keys(value: Any) -> None:
    """Keys MongoDB reads as operators or paths, at any level (depth is already bounded)."""
    if isinstance(value, list):
        for item in value:
            _check_keys(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key.startswith("$") or "." in key or "\x00" in key:
                raise ValidationFailed(
                    f"metadata key {key[:40]!r} may not start with $ or hold . or NUL"
                )
            _check_keys(item)


def clean_text(text: str, what: str = "content", max_length: int | None = None) -> str:
    """Trimmed text; 400 when it holds NUL, is blank, or is longer than `max_length` code
    points before trimming. `max_length` is for limits that are settings; a fixed limit is
    the spec's `maxLength`, which the validator has already enforced."""
    if max_length is not None and len(text) > max_length:
        raise ValidationFailed(f"{what} is longer than {max_length} characters")
    if "\x00" in text:
        raise ValidationFailed(f"{what} may not contain NUL")
    trimmed = text.strip()
    if not trimmed:
        raise ValidationFailed(f"{what} is empty after trimming")
    return trimmed


def parse_id(value: str, what: str = "id") -> ObjectId:
    """A client-supplied id; 400 when it is not a 24-hex ObjectId."""
    if not isinstance(value, str) or len(value) != 24:
        raise ValidationFailed(f"{what} must be a 24-character hex ObjectId")
    try:
        return ObjectId(value)
    except (InvalidId, TypeError):
        raise ValidationFailed(f"{what} must be a 24-character hex ObjectId") from None
