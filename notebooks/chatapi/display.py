"""What the notebooks show: ids, tokens, timestamps, durations and the server's address
as stable placeholders, plain text tables, and plots that re-render identically."""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

HEX_ID = re.compile(r"\b[0-9a-f]{24}\b")
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
JWT = re.compile(r"eyJ[\w-]*\.[\w-]*\.[\w-]*")
LOCAL_SERVER = re.compile(r"http://(127\.0\.0\.1|localhost):\d+")
# durations differ on every run; socket ids are random
DURATION_KEYS = frozenset({"durationMs", "time", "wait"})

# What an id is, judged by the key that holds it (or, for `_id`, by its parent's key).
KIND_OF_KEY = {
    "chat": "chat",
    "chats": "chat",
    "chatId": "chat",
    "message": "message",
    "messages": "message",
    "lastMessage": "message",
    "messageId": "message",
    "messageIds": "message",
    "replyToMessageId": "message",
    "user": "user",
    "userId": "user",
    "userIds": "user",
    "senderId": "user",
    "createdBy": "user",
    "participants": "user",
    "unreadCounts": "user",
    "readBy": "user",
    "notifications": "notification",
    "ids": "notification",
    "fileId": "file",
    "attachments": "file",
    "purchaseRequestId": "purchase request",
}


class Aliases:
    """Stable names for ids: `<user Alice>`, `<chat 1>`, `<message 3>`, in order of first sight."""

    latest: ClassVar[Aliases | None] = None  # those of the newest client, used by `table`

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.counters: dict[str, int] = {}

    def name(self, raw_id: str, label: str) -> str:
        self.names[raw_id] = f"<{label}>"
        return self.names[raw_id]

    def register(self, raw_id: str, kind: str) -> str:
        if raw_id not in self.names:
            self.counters[kind] = self.counters.get(kind, 0) + 1
            self.names[raw_id] = f"<{kind} {self.counters[kind]}>"
        return self.names[raw_id]

    def collect(self, value: Any, key: str | None = None) -> None:
        """Give every id found in a JSON value a name, judging its kind by its key."""
        if isinstance(value, dict):
            for k, v in value.items():
                if k == "_id" and isinstance(v, str) and HEX_ID.fullmatch(v):
                    self.register(v, KIND_OF_KEY.get(key or "", "id"))
                    continue
                if HEX_ID.fullmatch(k):
                    self.register(k, KIND_OF_KEY.get(key or "", "id"))
                self.collect(v, key if HEX_ID.fullmatch(k) else k)
        elif isinstance(value, list):
            for item in value:
                self.collect(item, key)
        elif isinstance(value, str) and HEX_ID.fullmatch(value):
            self.register(value, KIND_OF_KEY.get(key or "", "id"))

    def text(self, text: str) -> str:
        """The text with ids, tokens, timestamps and the server's address replaced by
        placeholders."""
        text = JWT.sub("<token>", text)
        text = LOCAL_SERVER.sub("<server>", text)
        text = TIMESTAMP.sub("<time>", text)
        return HEX_ID.sub(lambda m: self.register(m.group(0), "id"), text)

    def mask(self, value: Any, key: str | None = None, cut: int = 100) -> Any:
        """A copy of a JSON value fit to print: placeholders, long strings shortened."""
        if isinstance(value, dict):
            return {self.text(k): self.mask(v, k, cut) for k, v in value.items()}
        if isinstance(value, list):
            return [self.mask(v, key, cut) for v in value]
        if key in DURATION_KEYS and isinstance(value, int | float):
            return "<ms>"
        if isinstance(value, str):
            if key == "token" or (key or "").endswith("Token"):
                return "<token>"
            if key == "socketId":
                return self.register(value, "socket")
            masked = self.text(value)
            if len(masked) > cut:
                return f"{masked[: cut - 12]}... ({len(value)} characters)"
            return masked
        return value

    def dumps(self, value: Any, indent: int | None = 2) -> str:
        return json.dumps(self.mask(value), indent=indent, ensure_ascii=False)


def table(rows: Iterable[Iterable[Any]], header: Iterable[str]) -> None:
    """A plain text table; ids, tokens and timestamps in cells are shown as placeholders."""
    mask = Aliases.latest.text if Aliases.latest is not None else str
    grid = [[str(c) for c in header]] + [[mask(str(c)) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in grid) for i in range(len(grid[0]))]
    for n, r in enumerate(grid):
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def reproducible_plots() -> None:
    """Inline figures as SVG with fixed ids and no date, so re-running changes nothing."""
    import matplotlib

    matplotlib.rcParams["svg.hashsalt"] = "chat-api-notebooks"
    matplotlib.rcParams["svg.fonttype"] = "none"
    matplotlib.rcParams["figure.figsize"] = (7.0, 3.2)
    matplotlib.rcParams["figure.dpi"] = 100
    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:  # outside IPython
        return
    set_matplotlib_formats("svg", metadata={"Date": None}, bbox_inches="tight")


@contextlib.contextmanager
def silenced_stdout() -> Iterator[None]:
    """Nothing written to file descriptor 1 in the block is shown: for libraries that print
    a report of their own, with timings, straight to it (Pact's verifier)."""
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)
