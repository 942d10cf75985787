"""What a recorded request may keep: secrets out, sizes bounded, strict JSON.

The journal (impl.devkit.journal) stores what clients sent, for tests to read back; this
module makes that safe to keep and to hand out, whatever was sent:

    secret keys      a value under a key whose name, lower-cased and without `-`/`_`,
                     holds password, passwd, pwd, secret, token, jwt, apikey,
                     authorization, auth, cookie, credential or session is replaced by
                     `[redacted]`: in parsed JSON, in query strings, in multipart fields,
                     and in raw text that did not parse or was cut (a best-effort scan of
                     `"key": value` pairs, the value's end found even across nesting)
    tokens           every JWT-shaped run of text (`eyJ...`, whole or cut short) and the
                     caller's own token are replaced wherever they stand
    cut text         raw bytes are cut on a character boundary to at most `limit` bytes
                     of UTF-8 (never a split character, never more than the limit)
    bounded JSON     a parsed body is kept only when its compact, strict JSON (no NaN or
                     Infinity, which `JSON.parse` refuses) fits the limit; else its text,
                     cut; nesting past `MAX_DEPTH` is cut to a marker
    the quick way    the server's own responses (never deeper than its schemas) whose
                     bytes hold nothing that could be a secret (`may_hide_secrets`: no
                     secret word, spelt in any case and with `-`/`_` between its letters,
                     no `eyJ`, no `\\u` escape that could spell either, not the caller's
                     token) are kept as they are, with no walk over their values: the
                     same result, found without Python touching every key

Nothing here raises for any input.
"""

from __future__ import annotations

import functools
import json
import math
import re
from typing import Any

from impl.domain.input_rules import BODY_MAX_DEPTH

REDACTED = "[redacted]"
TOO_DEEP = "[nested too deep]"
MAX_DEPTH = BODY_MAX_DEPTH
SECRET_WORDS = re.compile(
    r"password|passwd|pwd|secret|token|jwt|apikey|authori[sz]ation|auth|cookie|credential|session"
)
# a JWT's header is base64url JSON, so it starts `eyJ`; cut ones (no dots yet) count too
JWT_SHAPED = re.compile(r"eyJ[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*){0,2}")
# the secret words (and shorter forms that hold them: pass, auth) as they could be spelt
# in raw bytes: any case, `-` or `_` between letters; a superset, so a miss is certain
SECRET_STEMS = (
    "pass",
    "pwd",
    "secret",
    "token",
    "jwt",
    "apikey",
    "auth",
    "cookie",
    "credential",
    "session",
)
SECRET_SPELLINGS = re.compile(
    "|".join("[-_]*".join(stem) for stem in SECRET_STEMS).encode(), re.IGNORECASE
)
_STEM_BYTES = tuple(stem.encode() for stem in SECRET_STEMS)
# bytes.translate deletes these: what is left of a spelling is its stem, run together
_SEPARATORS = b"-_"
# `"key"` followed by `:` in raw JSON-ish text
RAW_KEY = re.compile(r'"((?:[^"\\]|\\.){0,200})"\s*:\s*')
RAW_SCALAR = re.compile(r"[^,}\]\s]*")


def is_secret_key(key: object) -> bool:
    return _is_secret_name(str(key))


# bodies repeat the same few keys (`_id`, `chatId`, ...): each name is judged once
@functools.lru_cache(maxsize=4096)
def _is_secret_name(key: str) -> bool:
    name = key.lower().replace("-", "").replace("_", "")
    return SECRET_WORDS.search(name) is not None


def scrub_text(text: str, token: str | None = None) -> str:
    """`text` without the caller's token or any JWT-shaped run."""
    if token and token in text:
        text = text.replace(token, REDACTED)
    # a JWT-shaped run starts `eyJ`: text without one is left as it is, unsearched
    return JWT_SHAPED.sub(REDACTED, text) if "eyJ" in text else text


def redacted(value: Any, token: str | None = None, depth: int = 0) -> Any:
    """`value` with secret keys' values and tokens replaced; nesting past what any valid
    body has is cut to a marker (its request is refused, but its entry must not fail)."""
    if isinstance(value, dict | list) and depth > MAX_DEPTH:
        return TOO_DEEP
    if isinstance(value, dict):
        return {
            scrub_text(str(k), token): REDACTED
            if is_secret_key(k)
            else redacted(v, token, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redacted(v, token, depth + 1) for v in value]
    if isinstance(value, str):
        return scrub_text(value, token)
    return value


def _value_end(text: str, start: int) -> int:
    """Where the JSON value starting at `start` ends (the text's end when it was cut)."""
    if start >= len(text):
        return start
    opener = text[start]
    if opener == '"':
        index = start + 1
        while index < len(text):
            if text[index] == "\\":
                index += 2
                continue
            if text[index] == '"':
                return index + 1
            index += 1
        return len(text)
    if opener in "[{":
        depth, index, in_string = 0, start, False
        while index < len(text):
            char = text[index]
            if in_string:
                if char == "\\":
                    index += 1
                elif char == '"':
                    in_string = False
            elif char == '"':
                in_string = True
            elif char in "[{":
                depth += 1
            elif char in "]}":
                depth -= 1
                if depth == 0:
                    return index + 1
            index += 1
        return len(text)
    scalar = RAW_SCALAR.match(text, start)
    return scalar.end() if scalar else start


def redact_raw(text: str, token: str | None = None) -> str:
    """Raw JSON-ish text (cut, or not parsable) with secret keys' values and tokens replaced."""
    parts: list[str] = []
    position = 0
    for found in RAW_KEY.finditer(text):
        if found.start() < position or not is_secret_key(found.group(1)):
            continue
        end = _value_end(text, found.end())
        parts += [text[position : found.end()], f'"{REDACTED}"']
        position = end
    parts.append(text[position:])
    return scrub_text("".join(parts), token)


def cut_utf8(raw: bytes, limit: int) -> str:
    """At most `limit` bytes of `raw` as text, cut on a character boundary; bytes that are
    not UTF-8 become U+FFFD, and the result's UTF-8 still fits `limit`."""
    text = raw[: _boundary(raw, limit)].decode("utf-8", "replace")
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    return encoded[: _boundary(encoded, limit)].decode("utf-8")


def _boundary(data: bytes, limit: int) -> int:
    """The largest cut <= `limit` that does not split a UTF-8 character of `data`."""
    if len(data) <= limit:
        return len(data)
    cut = limit
    # back over continuation bytes (0b10xxxxxx) to the start of the split character
    while cut > 0 and limit - cut < 4 and (data[cut] & 0xC0) == 0x80:
        cut -= 1
    return cut


def compact(value: Any) -> str:
    """`value` as compact, strict JSON (ValueError for NaN or Infinity)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def utf8(text: str) -> bytes:
    """`text` as UTF-8; what cannot be (a lone surrogate from a `\\ud800` escape) as `?`."""
    return text.encode("utf-8", "replace")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text} does not fit a double")
    return value


def parse_strict(raw: bytes) -> Any:
    """JSON as RFC 8259 has it: NaN, Infinity and numbers beyond a double refused
    (ValueError); too deep: RecursionError."""
    return json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite)


def fit(text: str, limit: int) -> str:
    """`text` cut to at most `limit` bytes of UTF-8 on a character boundary."""
    return cut_utf8(utf8(text), limit)


def raw_text(raw: bytes, limit: int, token: str | None = None) -> str:
    """Raw bytes kept as text: cut, secrets replaced, and within `limit` after that."""
    return fit(redact_raw(cut_utf8(raw, limit), token), limit)


def may_hide_secrets(raw: bytes, token: str | None = None) -> bool:
    """False only when `raw` certainly holds no secret key, no JWT-shaped run and not the
    caller's token, however its text were parsed: then redaction would change nothing."""
    return (
        b"eyJ" in raw
        or b"\\u" in raw
        or (token is not None and token.encode("utf-8", "replace") in raw)
        or _spells_a_secret(raw)
    )


def _spells_a_secret(raw: bytes) -> bool:
    """`SECRET_SPELLINGS.search(raw) is not None`, the quick way: with every `-` and `_`
    taken out and ASCII letters lowered (what the pattern's `[-_]*` and IGNORECASE allow),
    a spelling is its stem as a plain substring. The pattern walks each byte through ten
    case-folded alternatives; this is a few C passes (a list page: ~0.6 ms -> ~0.02 ms)."""
    squeezed = raw.lower().translate(None, _SEPARATORS)
    return any(stem in squeezed for stem in _STEM_BYTES)


def bounded_json(
    raw: bytes, limit: int, token: str | None = None, *, ours: bool = False
) -> tuple[Any, bool]:
    """(what to keep of a JSON body, whether it was cut): the redacted value when its
    compact JSON fits `limit`, else redacted text of at most `limit` bytes. `ours`: the
    body is the server's own response, no deeper than its schemas, so one that holds no
    secret is kept as it is (the quick way)."""
    if ours and not may_hide_secrets(raw, token):
        return _as_sent(raw, limit)
    if len(raw) > limit:
        return raw_text(raw, limit, token), True
    try:
        value = redacted(parse_strict(raw), token)
    except (ValueError, RecursionError):
        return raw_text(raw, limit, token), False
    encoded = utf8(compact(value))
    if len(encoded) <= limit:
        return value, False
    return raw_text(encoded, limit, token), True


def _as_sent(raw: bytes, limit: int) -> tuple[Any, bool]:
    """`bounded_json` for a body that needs no redaction: the same result, unwalked.

    A response the server wrote with Python's json module, no `\\u` escape in it (or it
    would not come here), is never shorter than its compact form: only whitespace goes,
    and numbers and strings are written back as they were. So one that fits needs no
    compact copy to show it fits (the journal's global budget counts what is kept anyway).
    """
    if len(raw) > limit:
        return cut_utf8(raw, limit), True
    try:
        return parse_strict(raw), False
    except (ValueError, RecursionError):
        return cut_utf8(raw, limit), False
