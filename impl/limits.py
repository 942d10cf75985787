"""What a client may send beyond what JSON Schema can say.

MongoDB refuses (and mongomock silently accepts) strings with lone surrogates, integers
outside int64, NUL or `$`/`.` in keys, and documents too deep or too large; JSON itself
admits NaN and Infinity, which no client could read back. These checks run on every JSON
body (through `validation.JSONBodyValidator`) and on every text a chat stores.
"""

from __future__ import annotations

import json
import math
from typing import Any

from impl.errors import ValidationFailed

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
METADATA_MAX_BYTES = 16 * 1024
METADATA_MAX_DEPTH = 8


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


def check_metadata(metadata: Any) -> None:
    if not isinstance(metadata, dict):
        raise ValidationFailed("metadata must be an object")
    _check_keys_and_depth(metadata, depth=1)
    size = len(json.dumps(metadata, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    if size > METADATA_MAX_BYTES:
        raise ValidationFailed(
            f"metadata is {size} bytes as JSON; the limit is {METADATA_MAX_BYTES}"
        )


def _check_keys_and_depth(value: Any, depth: int) -> None:
    if isinstance(value, list):
        for item in value:
            _check_keys_and_depth(item, depth + 1)
        return
    if not isinstance(value, dict):
        return
    if depth > METADATA_MAX_DEPTH:
        raise ValidationFailed(f"metadata is nested deeper than {METADATA_MAX_DEPTH} levels")
    for key, item in value.items():
        if key.startswith("$") or "." in key or "\x00" in key:
            raise ValidationFailed(
                f"metadata key {key[:40]!r} may not start with $ or hold . or NUL"
            )
        _check_keys_and_depth(item, depth + 1)


def clean_text(text: str, max_length: int, what: str = "content") -> str:
    """Trimmed text; 400 when blank or longer than `max_length` code points before trimming."""
    if len(text) > max_length:
        raise ValidationFailed(f"{what} is longer than {max_length} characters")
    if "\x00" in text:
        raise ValidationFailed(f"{what} may not contain NUL")
    trimmed = text.strip()
    if not trimmed:
        raise ValidationFailed(f"{what} is empty after trimming")
    return trimmed
