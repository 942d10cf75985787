"""How the server logs: one record per line on stderr, as text (the default) or as JSON.

`configure(level, fmt)` sets up the root logger once for `serve`; uvicorn's own loggers
propagate to it (the server passes uvicorn no logging config of its own), so with
`LOG_FORMAT=json` every line the process writes is one JSON object. `RequestContext`
adds the running request's `requestId` and `userId` (what `impl.web.context` notes about
it) to every record logged while that request runs. The access line of each request
(`impl.access`) carries `method`, `path`, `status` and `durationMs` as fields of its own.
Tokens are never logged.
"""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

from impl.web.context import request_info

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
JSON_FIELDS = ("asctime", "levelname", "name", "message")


class RequestContext(logging.Filter):
    """Adds the running request's id and user to a record (absent outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        info = request_info()
        if info is not None:
            for key in ("requestId", "userId"):
                if key in info and not hasattr(record, key):
                    setattr(record, key, info[key])
        return True


def formatter(fmt: str) -> logging.Formatter:
    if fmt == "json":
        return JsonFormatter(
            list(JSON_FIELDS), rename_fields={"asctime": "time", "levelname": "level"}
        )
    return logging.Formatter(TEXT_FORMAT)


def configure(level: str, fmt: str = "text") -> None:
    """Root logging for a server process: `level` (uvicorn's `trace` counts as debug)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(fmt))
    handler.addFilter(RequestContext())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    name = "DEBUG" if level.lower() == "trace" else level.upper()
    root.setLevel(logging.getLevelName(name) if name in logging.getLevelNamesMapping() else "INFO")
