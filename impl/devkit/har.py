"""A sandbox's REST exchanges as HAR 1.2, the archive format browsers' developer tools,
Playwright (`page.routeFromHAR`) and MSW read.

Built from the journal's REST entries, oldest first, so it holds exactly what the journal
may hold: bodies cut and redacted as there, no header but the request's media type and
an `Authorization: Bearer [redacted]` placeholder where a token was sent, and of the
response only the headers a client's logic reads (impl.devkit.journal's
`KEPT_RESPONSE_HEADERS`). A body the journal cut is cut here too (`content.comment`
says so), and sizes it does not know are -1, as HAR allows.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

from impl import __version__
from impl.devkit.journal import Entry
from impl.devkit.redaction import REDACTED, compact, utf8

HTTP_VERSION = "HTTP/1.1"
CREATOR = {"name": "chat-api-reference", "version": __version__}
BEARER_PLACEHOLDER = f"Bearer {REDACTED}"
CUT = "cut by the journal's bound: not the whole body"

Har = dict[str, Any]


def archive(entries: list[Entry]) -> Har:
    """`entries` (REST journal entries, oldest first) as one HAR 1.2 document."""
    return {
        "log": {"version": "1.2", "creator": CREATOR, "entries": [exchange(e) for e in entries]}
    }


def exchange(entry: Entry) -> Har:
    duration = max(0, int(entry.get("durationMs", 0)))
    return {
        "startedDateTime": entry["at"],
        "time": duration,
        "request": request(entry),
        "response": response(entry),
        "cache": {},
        "timings": {"send": 0, "wait": duration, "receive": 0},
    }


def pairs(query: dict[str, str | list[str]]) -> list[tuple[str, str]]:
    return [
        (name, value)
        for name, values in query.items()
        for value in ([values] if isinstance(values, str) else values)
    ]


def request(entry: Entry) -> Har:
    query = pairs(entry.get("query", {}))
    url = entry.get("baseUrl", "") + entry["path"] + (f"?{urlencode(query)}" if query else "")
    headers = []
    if entry.get("bearer"):
        headers.append({"name": "Authorization", "value": BEARER_PLACEHOLDER})
    media = entry.get("contentType")
    if media:
        headers.append({"name": "Content-Type", "value": media})
    made: Har = {
        "method": entry["method"],
        "url": url,
        "httpVersion": HTTP_VERSION,
        "headers": headers,
        "queryString": [{"name": name, "value": value} for name, value in query],
        "cookies": [],
        "headersSize": -1,
        "bodySize": 0,
    }
    if "body" in entry:
        made["postData"] = post_data(media or "application/octet-stream", entry)
        made["bodySize"] = -1 if entry.get("bodyTruncated") else len(utf8(text_of(entry["body"])))
    return made


def text_of(body: Any) -> str:
    return body if isinstance(body, str) else compact(body)


def post_data(media: str, entry: Entry) -> Har:
    body = entry["body"]
    if media.startswith("multipart/") and isinstance(body, dict):
        return {"mimeType": media, "params": [form_param(n, v) for n, v in body.items()]}
    made: Har = {"mimeType": media, "text": text_of(body)}
    if entry.get("bodyTruncated"):
        made["comment"] = CUT
    return made


def form_param(name: str, value: Any) -> Har:
    if isinstance(value, dict):  # a file: {filename, mimeType, size}
        return {"name": name, "fileName": value["filename"], "contentType": value["mimeType"]}
    return {"name": name, "value": text_of(value)}


def response(entry: Entry) -> Har:
    kept = entry.get("response", {})
    headers = kept.get("headers", {})
    status = entry["status"]
    content: Har = {"size": kept.get("size", -1), "mimeType": headers.get("content-type", "")}
    if "body" in kept:
        content["text"] = text_of(kept["body"])
        if kept.get("bodyTruncated"):
            content["comment"] = CUT
    return {
        "status": status,
        "statusText": status_text(status),
        "httpVersion": HTTP_VERSION,
        "headers": [{"name": name, "value": value} for name, value in headers.items()],
        "cookies": [],
        "content": content,
        "redirectURL": headers.get("location", ""),
        "headersSize": -1,
        "bodySize": kept.get("size", -1),
    }


def status_text(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
