"""Socket.IO traffic in the journal: what each sandbox's sockets sent and were sent.

`SocketJournal` is the observer the composition root hands the Socket.IO layer when dev
endpoints are on (impl.realtime.observer). It writes entries of kind `socket` into the
journal of the socket's sandbox (the one its token was issued in), beside the REST
entries and under the same bounds (impl.devkit.journal):

    connect        {type, event: "connect", socketId, userId}
    disconnect     {type, event: "disconnect", socketId, userId, reason}
    client-event   {type, event, socketId, userId, payload, payloadTruncated, ack,
                    violation?}: the payload cut and redacted like a REST body, the
                    acknowledgement it got, and why asyncapi.yaml refuses it, if it does
    server-event   {type, event, room, socketId, userId, seq}: one entry per socket the
                    event reached, `userId` the recipient, `seq` null for `user-typing`

Each also has `kind: "socket"` and `at` (the sandbox's clock). The connect's `auth` is
never seen here, so no token is; a refused connect has no sandbox and is not journaled.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from impl.clock import isoformat
from impl.devkit.journal import BODY_LIMIT, SOCKET, Entry
from impl.devkit.redaction import TOO_DEEP, bounded_json, fit, redacted, scrub_text, utf8
from impl.devkit.sandboxes import Sandbox

EVENT_NAME_LIMIT = 128
# a sandbox looked up for an event and the moment it records, or None: it is gone
Stamp = tuple[Sandbox, str] | None
UNSEEN: Any = object()
REASON_LIMIT = 128


def kept_payload(payload: Any) -> tuple[Any, bool]:
    """(what to keep of a client event's payload, whether it was cut): as a REST body."""
    try:
        raw = utf8(json.dumps(payload, default=str, ensure_ascii=False))
    except (RecursionError, ValueError):
        return TOO_DEEP, True
    return bounded_json(raw, BODY_LIMIT)


class SocketJournal:
    """`find(name)`: the sandbox of that name, if it still exists."""

    def __init__(self, find: Callable[[str], Sandbox | None]) -> None:
        self.find = find
        # socket id -> (its sandbox's name, its user's id), from connect to disconnect
        self.sockets: dict[str, tuple[str, str]] = {}

    def connected(self, sid: str, sandbox: str, user_id: str) -> None:
        self.sockets[sid] = (sandbox, user_id)
        self.add(sid, {"type": "connect", "event": "connect"})

    def disconnected(self, sid: str, reason: str | None) -> None:
        kept = None if reason is None else fit(reason, REASON_LIMIT)
        self.add(sid, {"type": "disconnect", "event": "disconnect", "reason": kept})
        self.sockets.pop(sid, None)

    def client_event(
        self, sid: str, event: str, payload: Any, ack: dict[str, Any], violation: str | None
    ) -> None:
        kept, cut = kept_payload(payload)
        entry: Entry = {
            "type": "client-event",
            "event": fit(scrub_text(event), EVENT_NAME_LIMIT),
            "payload": kept,
            "payloadTruncated": cut,
            "ack": redacted(ack),
        }
        if violation is not None:
            entry["violation"] = fit(scrub_text(violation), BODY_LIMIT // 16)
        self.add(sid, entry)

    def delivered(self, event: str, room: str, payload: dict[str, Any], sids: list[str]) -> None:
        fields = {"type": "server-event", "event": event, "room": room, "seq": payload.get("seq")}
        stamps: dict[str, Stamp] = {}  # one lookup and one `at` per sandbox, not per socket
        for sid in sids:
            self.add(sid, fields, stamps)

    def add(self, sid: str, fields: Entry, stamps: dict[str, Stamp] | None = None) -> None:
        """An entry about socket `sid` in its sandbox's journal (none once it is gone).
        `stamps`: the sandboxes (and their `at`) already looked up for this one event."""
        known = self.sockets.get(sid)
        if known is None:
            return
        name, user_id = known
        stamp = stamps.get(name, UNSEEN) if stamps is not None else UNSEEN
        if stamp is UNSEEN:
            sandbox = self.find(name)
            stamp = None if sandbox is None else (sandbox, isoformat(sandbox.services.clock.now()))
            if stamps is not None:
                stamps[name] = stamp
        if stamp is None:
            return
        sandbox, at = stamp
        sandbox.journal.add(
            {"kind": SOCKET, "at": at, **fields, "socketId": sid, "userId": user_id}
        )
