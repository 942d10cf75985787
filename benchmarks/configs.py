"""The configurations of a run: HTTP rows and fan-out rooms, built from the started fleet.

Each row is one URL of one server under one kind of load; each fan-out configuration is a
room of N clients on one server. Only servers that came up contribute configurations.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from benchmarks.fanout import FanoutSpec
from benchmarks.fleet import Fleet
from benchmarks.loadgen import LoadSpec
from benchmarks.plan import (
    ALLOWANCE_LIMIT,
    INVALID_BODY,
    MARK_ALL_BODY,
    MARK_ONE_ANSWER,
    REF_CHAT_ID,
    REF_TOKEN,
    SEND_BODY,
    Plan,
)


@dataclass
class Row:
    """One HTTP configuration: a URL of a server under one kind of load."""

    key: str
    label: str
    group: str  # "reference", "ours" (throughput), "history" or "markread" (one connection)
    server: str
    load: LoadSpec
    expect: str = "2xx"  # or "400"
    reseed_writers: int = 0  # >0: rebuild the write fixture before every rep
    earlier_posts: int = 0  # with reseed_writers: posts the rebuilt store holds already
    in_window: bool = False  # with earlier_posts: they were sent just now (allowance taken)
    use_wrk: bool | None = None  # None: wrk when installed; False: the count-bounded loadgen
    reps: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Fanout:
    """One fan-out configuration: a room of N clients on one server."""

    key: str
    target: str  # "ours" or "ref"
    n: int
    spec: FanoutSpec
    reps: list[dict[str, Any]] = field(default_factory=list)


def _load(plan: Plan, base: str, path: str, **kw: Any) -> LoadSpec:
    spec = LoadSpec(
        url=base + path,
        connections=plan.connections,
        duration_s=plan.duration_s,
        timeout_s=plan.load_timeout_s,
    )
    return replace(spec, **kw)


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


REFERENCE_ROWS = (  # (server, key, label, method, path)
    ("starlette", "ref.starlette.get", "Starlette GET /ping", "GET", "/ping"),
    ("starlette", "ref.starlette.post", "Starlette POST /echo", "POST", "/echo"),
    ("connexion", "ref.connexion.ping", "Connexion GET /ping", "GET", "/ping"),
    ("connexion", "ref.connexion.echo", "Connexion POST /echo", "POST", "/echo"),
    ("prism", "ref.prism.list_chats", "Prism mock GET /api/chat", "GET", "/api/chat"),
    (
        "prism",
        "ref.prism.send",
        "Prism mock POST /api/chat/{id}/messages",
        "POST",
        f"/api/chat/{REF_CHAT_ID}/messages",
    ),
    (
        "prism",
        "ref.prism.messages",
        "Prism mock GET /api/chat/{id}/messages?limit=20",
        "GET",
        f"/api/chat/{REF_CHAT_ID}/messages?limit=20",
    ),
)


def reference_rows(plan: Plan, fleet: Fleet) -> list[Row]:
    """Rows of the bare servers that are up; every POST sends the Chat API's send body."""
    rows = []
    for server, key, label, method, path in REFERENCE_ROWS:
        if fleet.status.get(server) != "ok":
            continue
        body = SEND_BODY if method == "POST" else ""
        headers = {"Authorization": REF_TOKEN}
        base = fleet.servers[server].base
        load = _load(plan, base, path, method=method, body=body, headers=headers)
        rows.append(Row(key, label, "reference", server, load))
    return rows


def our_rows(plan: Plan, fleet: Fleet) -> list[Row]:
    """Rows of the Chat API servers that are up."""
    rows: list[Row] = []
    reader_server = f"ours-{plan.history_sizes[0]}"
    if fleet.status.get(reader_server) == "ok":
        base = fleet.servers[reader_server].base
        reader = fleet.fixtures[reader_server]["reader"]
        auth = _auth(reader["token"])
        history = f"/api/chat/{reader['historyChatId']}/messages"
        rows += [
            Row(
                "ours.list_chats",
                f"GET /api/chat ({plan.reader_chats} chats)",
                "ours",
                reader_server,
                _load(plan, base, "/api/chat", headers=auth),
            ),
            Row(
                "ours.messages",
                f"GET /api/chat/{{id}}/messages?limit=20 ({plan.history_sizes[0]:,} in the chat)",
                "ours",
                reader_server,
                _load(plan, base, history + "?limit=20", headers=auth),
            ),
            Row(
                "ours.invalid_send",
                "POST /api/chat/{id}/messages, invalid body (400)",
                "ours",
                reader_server,
                _load(plan, base, history, method="POST", body=INVALID_BODY, headers=auth),
                expect="400",
            ),
        ]
    sends = (_send_row(plan, fleet, "ours-write", 0), _send_row(plan, fleet, "ours-traffic", 1))
    rows += [r for r in sends if r is not None]
    return rows + history_rows(plan, fleet) + allowance_rows(plan, fleet)


def _send_row(plan: Plan, fleet: Fleet, server: str, after: int) -> Row | None:
    """The send load on a store re-seeded before every rep: fresh, or after traffic."""
    if fleet.status.get(server) != "ok":
        return None
    base = fleet.servers[server].base
    earlier = plan.earlier_posts if after else 0
    where = f"after {earlier:,} earlier posts" if after else "fresh store"
    return Row(
        "ours.send_after" if after else "ours.send",
        f"POST /api/chat/{{id}}/messages ({plan.writers} senders, {where})",
        "ours",
        server,
        _load(plan, base, "/", method="POST", body=SEND_BODY, max_requests=plan.send_cap),
        reseed_writers=plan.writers,
        earlier_posts=earlier,
    )


def _one_connection(plan: Plan, load: LoadSpec, requests: int) -> LoadSpec:
    return replace(
        load,
        connections=plan.history_connections,
        duration_s=plan.history_duration_s,
        max_requests=requests,
        timeout_s=30,
    )


def history_rows(plan: Plan, fleet: Fleet) -> list[Row]:
    """One connection, so that a row's latency is the time of one request: the first
    history page at every store size, on the engine and on plain mongomock, and mark-read
    in the history chat."""
    rows = []
    for prefix, sizes in (("ours", plan.history_sizes), ("plain", plan.plain_sizes)):
        for size in sizes:
            name = f"{prefix}-{size}"
            if fleet.status.get(name) != "ok":
                continue
            reader = fleet.fixtures[name]["reader"]
            path = f"/api/chat/{reader['historyChatId']}/messages?limit=20"
            load = _load(plan, fleet.servers[name].base, path, headers=_auth(reader["token"]))
            slow = prefix == "plain" and size >= plan.plain_slow_size
            requests = plan.history_requests if prefix == "ours" else plan.plain_requests
            load = _one_connection(plan, load, plan.plain_slow_requests if slow else requests)
            if prefix == "ours":
                label, key = f"history page, chat of {size:,} messages", history_key(size)
            else:
                label, key = f"history page, plain mongomock, {size:,} messages", plain_key(size)
            rows.append(Row(key, label, "history", name, load, use_wrk=False))
    return rows + markread_rows(plan, fleet)


def markread_rows(plan: Plan, fleet: Fleet) -> list[Row]:
    """Mark-read as a reader does it on opening a chat with news: before every measured
    ``PATCH .../messages/read`` (no ids: everything unread) the other participant sends one
    message (unmeasured, on the same connection), so every read has exactly one message to
    mark, and the answer must say ``modifiedCount`` 1."""
    rows = []
    for size in plan.markread_sizes:
        name = f"ours-{size}"
        if fleet.status.get(name) != "ok":
            continue
        reader = fleet.fixtures[name]["reader"]
        chat = f"/api/chat/{reader['historyChatId']}/messages"
        load = _load(
            plan,
            fleet.servers[name].base,
            chat + "/read",
            method="PATCH",
            body=MARK_ALL_BODY,
            headers=_auth(reader["token"]),
            prelude=("POST", chat, SEND_BODY, f"Bearer {reader['partnerToken']}"),
            expect_body=MARK_ONE_ANSWER,
        )
        label = f"mark-read of 1 new message, chat of {size:,} messages"
        load = _one_connection(plan, load, plan.history_requests)
        rows.append(Row(markread_key(size), label, "markread", name, load, use_wrk=False))
    return rows


def allowance_rows(plan: Plan, fleet: Fleet) -> list[Row]:
    """One sender posting into its own chat at a raised rate limit, on one connection (its
    latency is the time of one send): on a fresh server, and right after the sender's own
    ``window_posts`` posts, all inside the window, so its allowance holds that many."""
    name = "ours-allowance"
    if fleet.status.get(name) != "ok":
        return []
    rows = []
    for posts in (0, plan.window_posts):
        where = f"after {posts:,} posts in the window" if posts else "fresh server"
        load = _load(plan, fleet.servers[name].base, "/", method="POST", body=SEND_BODY)
        label = f"message POST, {where} (CHAT_RATE_LIMIT={ALLOWANCE_LIMIT:,})"
        rows.append(
            Row(
                window_key(posts),
                label,
                "allowance",
                name,
                _one_connection(plan, load, plan.allowance_requests),
                reseed_writers=1,
                earlier_posts=posts,
                in_window=True,
                use_wrk=False,
            )
        )
    return rows


def window_key(posts: int) -> str:
    """Row key of the send measured after ``posts`` posts of the sender in the window."""
    return f"send_window.{posts}"


def history_key(size: int) -> str:
    """Row key of the history measurement at ``size`` stored messages."""
    return f"history.{size}"


def plain_key(size: int) -> str:
    """Row key of the history measurement on plain mongomock."""
    return f"history_plain.{size}"


def markread_key(size: int) -> str:
    """Row key of the mark-read measurement at ``size`` messages in the chat."""
    return f"markread.{size}"


def fanouts(plan: Plan, fleet: Fleet) -> list[Fanout]:
    """Fan-out configurations of every server that is up."""
    configs = []
    for n in plan.fanout_sizes:
        if fleet.status.get("ours-fanout") == "ok":
            fx = fleet.fixtures["ours-fanout"]["fanout"]
            base = fleet.servers["ours-fanout"].base
            chat = fx["chats"][str(n)]
            spec = FanoutSpec(
                url=base,
                chatId=chat,
                tokens=fx["tokens"][:n],
                senderToken=fx["senderToken"],
                sendUrl=f"{base}/api/chat/{chat}/messages",
                messages=plan.fanout_messages,
                warmup=plan.fanout_warmup,
            )
            configs.append(Fanout(f"fanout.ours.{n}", "ours", n, spec))
        if fleet.status.get("socketio") == "ok":
            base = fleet.servers["socketio"].base
            spec = FanoutSpec(
                url=base,
                chatId=REF_CHAT_ID,
                tokens=["reference-token"] * n,
                senderToken="reference-token",
                sendUrl=f"{base}/api/chat/{REF_CHAT_ID}/messages",
                messages=plan.fanout_messages,
                warmup=plan.fanout_warmup,
            )
            configs.append(Fanout(f"fanout.ref.{n}", "ref", n, spec))
    return configs
