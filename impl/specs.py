"""The two contracts as this server serves them and validates against.

The files state the requirement page's limits (5,000 characters, 20 messages per 60 s,
...), which are also the settings' defaults. A server started with other settings must
not document one limit and enforce another, so every place in a document that states a
configured limit is a row of `LIMITS`, and `served_specs(settings)` writes the settings
into a copy of each document. Connexion is built from that same copy (`impl.app`), so its
request validation, the served `/openapi.yaml`, `/openapi.json`, `/asyncapi.yaml` and
`GET /api/chat/config` agree by construction, whether a setting lowers or raises a limit.

A row names a document, a JSON pointer (RFC 6901) and a text over `limit_values()`: a
number is replaced by the rendered number; a string must contain the text rendered with
the defaults exactly once, and that part is replaced. A row that no longer matches its
document raises `SpecDrift` (the tests build the served documents, so drift fails them).
To describe a new setting, add its value to `limit_values()` and its places to `LIMITS`.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from impl.resources import ASYNCAPI_PATH, OPENAPI_PATH
from impl.settings import Settings

OPENAPI = "openapi.yaml"
ASYNCAPI = "asyncapi.yaml"
SOURCES = {OPENAPI: OPENAPI_PATH, ASYNCAPI: ASYNCAPI_PATH}
PROBLEM = "content/application~1problem+json/example"
DEFAULT_SERVERS = [{"url": "/", "description": "The server that serves this document"}]
DEV_TAG = "dev"
METHODS = ("get", "put", "post", "patch", "delete", "head", "options", "trace")


class SpecDrift(ValueError):
    """A row of `LIMITS` no longer matches the document it describes."""


@dataclass(frozen=True)
class Place:
    document: str
    pointer: str
    text: str


LIMITS: tuple[Place, ...] = (
    # CHAT_MAX_MESSAGE_LENGTH
    Place(OPENAPI, "/components/schemas/MessageContent/maxLength", "{max_message_length}"),
    Place(
        OPENAPI,
        "/components/schemas/MessageContent/description",
        "At most {max_message_length:,} characters",
    ),
    Place(
        OPENAPI,
        "/components/schemas/SendFileMessageRequest/properties/content/maxLength",
        "{max_message_length}",
    ),
    Place(
        OPENAPI,
        "/components/schemas/ChatConfig/properties/maxMessageLength/example",
        "{max_message_length}",
    ),
    Place(OPENAPI, "/info/description", "{max_message_length:,} characters (code points)"),
    # CHAT_EDIT_WINDOW_SECONDS
    Place(
        OPENAPI,
        "/components/schemas/ChatConfig/properties/editWindowSeconds/example",
        "{edit_window_seconds}",
    ),
    Place(OPENAPI, "/info/description", "a {edit_window_text} edit window"),
    # CHAT_RATE_LIMIT, CHAT_RATE_WINDOW_SECONDS
    Place(
        OPENAPI,
        "/components/schemas/RateLimitConfig/properties/messages/example",
        "{rate_limit}",
    ),
    Place(
        OPENAPI,
        "/components/schemas/RateLimitConfig/properties/windowSeconds/example",
        "{rate_window_seconds}",
    ),
    # CHAT_CREATE_RATE_LIMIT
    Place(
        OPENAPI,
        "/components/schemas/RateLimitConfig/properties/chats/example",
        "{chat_create_rate_limit}",
    ),
    Place(
        OPENAPI,
        f"/components/responses/TooManyRequests/{PROBLEM}/detail",
        "at most {rate_limit} messages per {rate_window_seconds} seconds",
    ),
    Place(
        OPENAPI,
        "/info/description",
        "{rate_limit} accepted\nmessages per user per {rate_window_seconds} s",
    ),
    # CHAT_MAX_UPLOAD_BYTES
    Place(
        OPENAPI,
        "/components/schemas/UploadConfig/properties/maxBytes/example",
        "{max_upload_bytes}",
    ),
    Place(
        OPENAPI, f"/components/responses/PayloadTooLarge/{PROBLEM}/maxBytes", "{max_upload_bytes}"
    ),
    Place(
        OPENAPI,
        f"/components/responses/PayloadTooLarge/{PROBLEM}/detail",
        "larger than {max_upload_bytes} bytes",
    ),
    Place(OPENAPI, "/info/description", "{max_upload_text} per attachment"),
    Place(
        OPENAPI,
        "/paths/~1api~1chat~1{id}~1messages~1file/post/description",
        "At most {max_upload_text} (413",
    ),
    # CHAT_MULTIPART_ALLOWANCE_BYTES
    Place(
        OPENAPI,
        "/paths/~1api~1chat~1{id}~1messages~1file/post/description",
        "the limit plus {multipart_allowance_text} is refused",
    ),
    # CHAT_METADATA_MAX_BYTES, CHAT_METADATA_MAX_DEPTH
    Place(
        OPENAPI,
        "/components/schemas/Metadata/description",
        "at most {metadata_max_text} as compact JSON, at most {metadata_max_depth} levels deep",
    ),
    # HTTP_MAX_HEADER_BYTES, HTTP_MAX_HEADER_COUNT
    Place(
        OPENAPI,
        "/info/description",
        "at most {header_bytes_text} and {max_header_count} header lines",
    ),
    Place(
        ASYNCAPI,
        "/info/description",
        "at most {header_bytes_text} and {max_header_count} header lines",
    ),
    # SOCKET_CONNECT_TIMEOUT_SECONDS
    Place(ASYNCAPI, "/info/description", "within {socket_connect_text} s of the Engine.IO"),
    # SOCKET_MAX_PAYLOAD_BYTES
    Place(ASYNCAPI, "/info/description", "a payload over {socket_payload_text}\n"),
    Place(
        ASYNCAPI, "/components/schemas/AckError/description", "payload over {socket_payload_text}"
    ),
    # SOCKET_MAX_PACKET_BYTES
    Place(ASYNCAPI, "/info/description", "at most {socket_packet_text}; a larger one"),
    # SOCKET_EVENT_BURST, SOCKET_EVENT_REFILL_PER_SECOND
    Place(
        ASYNCAPI,
        "/info/description",
        "a burst of {socket_event_burst} events\n(refilled at {socket_refill_text} per second",
    ),
    Place(
        ASYNCAPI,
        "/components/schemas/AckError/description",
        "bursts of {socket_event_burst} events, refilled at {socket_refill_text} per second",
    ),
    # CHAT_MAX_SANDBOXES, CHAT_MAX_FAULTS, CHAT_JOURNAL_MAX_BYTES (the dev kit)
    Place(OPENAPI, "/paths/~1api~1dev~1sandboxes/get/description", "(here {max_sandboxes})"),
    Place(
        OPENAPI,
        "/components/responses/DevLimit/content/application~1problem+json/example/detail",
        "at most {max_sandboxes} sandboxes",
    ),
    Place(
        OPENAPI,
        "/paths/~1api~1dev~1faults/post/description",
        "At most `CHAT_MAX_FAULTS` (here {max_faults})",
    ),
    Place(OPENAPI, "/paths/~1api~1dev~1requests/get/description", "(here {journal_max_text})"),
)


def size_text(size: int) -> str:
    """Bytes as a reader writes them: 10 MiB, 512 KiB, 1000 bytes."""
    for unit, factor in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} bytes"


def number_text(value: float) -> str:
    """A number as a reader writes it: 10, 2.5."""
    return f"{value:g}"


def duration_text(seconds: int) -> str:
    """A duration as an adjective: 15-minute, 90-second."""
    if seconds % 60 == 0:
        return f"{seconds // 60}-minute"
    return f"{seconds}-second"


def limit_values(settings: Settings) -> dict[str, Any]:
    """What the texts of `LIMITS` may name."""
    return {
        "max_message_length": settings.max_message_length,
        "edit_window_seconds": settings.edit_window_seconds,
        "edit_window_text": duration_text(settings.edit_window_seconds),
        "rate_limit": settings.rate_limit,
        "rate_window_seconds": settings.rate_window_seconds,
        "chat_create_rate_limit": settings.chat_create_rate_limit,
        "max_upload_bytes": settings.max_upload_bytes,
        "max_upload_text": size_text(settings.max_upload_bytes),
        "multipart_allowance_text": size_text(settings.multipart_allowance_bytes),
        "metadata_max_text": size_text(settings.metadata_max_bytes),
        "metadata_max_depth": settings.metadata_max_depth,
        "header_bytes_text": size_text(settings.max_header_bytes),
        "max_header_count": settings.max_header_count,
        "socket_connect_text": number_text(settings.socket_connect_timeout_seconds),
        "socket_payload_text": size_text(settings.socket_max_payload_bytes),
        "socket_packet_text": size_text(settings.socket_max_packet_bytes),
        "socket_event_burst": settings.socket_event_burst,
        "socket_refill_text": number_text(settings.socket_event_refill_per_second),
        "max_sandboxes": settings.max_sandboxes,
        "max_faults": settings.max_faults,
        "journal_max_text": size_text(settings.journal_max_bytes),
    }


@cache
def load_file(path: Path) -> dict[str, Any]:
    """A contract file as written (read once per process: it does not change while serving)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: the package was built without its specs")
    document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return document


def _parent(document: dict[str, Any], pointer: str) -> tuple[Any, str]:
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]
    node: Any = document
    try:
        for part in parts[:-1]:
            node = node[part]
        node[parts[-1]]
    except (KeyError, TypeError) as exc:
        raise SpecDrift(f"{pointer} is not in the document") from exc
    return node, parts[-1]


def substitute(
    document: dict[str, Any], place: Place, was: dict[str, Any], now: dict[str, Any]
) -> None:
    """Write `now` into `document` at `place`, which must state `was` (see the module doc)."""
    parent, key = _parent(document, place.pointer)
    current = parent[key]
    old, new = place.text.format(**was), place.text.format(**now)
    if isinstance(current, int) and not isinstance(current, bool):
        if current != int(old):
            raise SpecDrift(f"{place.pointer} is {current}, not the default {old}")
        parent[key] = int(new)
    elif isinstance(current, str):
        if current.count(old) != 1:
            raise SpecDrift(f"{place.pointer} does not state {old!r} exactly once")
        parent[key] = current.replace(old, new)
    else:
        raise SpecDrift(f"{place.pointer} holds neither a number nor a text")


@dataclass(frozen=True)
class ServedSpecs:
    """The documents as served: parsed, and as the bytes each URL answers with."""

    openapi: dict[str, Any]
    asyncapi: dict[str, Any]

    def document(self, name: str) -> dict[str, Any]:
        return self.openapi if name == OPENAPI else self.asyncapi

    def as_yaml(self, name: str) -> bytes:
        """The file's own bytes (comments and all) when nothing was written into it."""
        document = self.document(name)
        if document == load_file(SOURCES[name]):
            return SOURCES[name].read_bytes()
        return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100).encode()

    def as_json(self, name: str) -> bytes:
        return json.dumps(self.document(name), ensure_ascii=False).encode()


def served_specs(settings: Settings) -> ServedSpecs:
    """The contracts describing a server that runs with `settings`."""
    was, now = limit_values(Settings()), limit_values(settings)
    documents = {name: copy.deepcopy(load_file(path)) for name, path in SOURCES.items()}
    for place in LIMITS:
        substitute(documents[place.document], place, was, now)
    openapi = documents[OPENAPI]
    if not any(server.get("url") for server in openapi.get("servers") or []):
        openapi["servers"] = copy.deepcopy(DEFAULT_SERVERS)
    if not settings.dev_enabled:
        without_tag(openapi, DEV_TAG)
    return ServedSpecs(openapi, documents[ASYNCAPI])


def without_tag(document: dict[str, Any], tag: str) -> None:
    """Leave out of an OpenAPI document every operation tagged `tag`, the paths left
    with none, and the tag itself (a server with the dev endpoints off has none of them)."""
    for template in list(document.get("paths", {})):
        item = document["paths"][template]
        for method in [m for m in METHODS if tag in item.get(m, {}).get("tags", [])]:
            del item[method]
        if not any(m in item for m in METHODS):
            del document["paths"][template]
    document["tags"] = [t for t in document.get("tags", []) if t.get("name") != tag]
