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
from benchmarks.plan import INVALID_BODY, REF_CHAT_ID, REF_TOKEN, SEND_BODY, Plan


@dataclass
class Row:
    """One HTTP configuration: a URL of a server under one kind of load."""

    key: str
    label: str
    group: str  # "reference", "ours" or "history"
    server: str
    load: LoadSpec
    expect: str = "2xx"  # or "400"
    reseed_writers: int = 0  # >0: rebuild the write fixture before every rep
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
    if fleet.status.get("ours-write") == "ok":
        base = fleet.servers["ours-write"].base
        rows.append(
            Row(
                "ours.send",
                f"POST /api/chat/{{id}}/messages ({plan.writers} senders)",
                "ours",
                "ours-write",
                _load(plan, base, "/", method="POST", body=SEND_BODY, max_requests=plan.send_cap),
                reseed_writers=plan.writers,
            )
        )
    return rows + history_rows(plan, fleet)


def history_rows(plan: Plan, fleet: Fleet) -> list[Row]:
    """Latency of the first history page at every store size, one connection."""
    rows = []
    for size in plan.history_sizes:
        name = f"ours-{size}"
        if fleet.status.get(name) != "ok":
            continue
        reader = fleet.fixtures[name]["reader"]
        path = f"/api/chat/{reader['historyChatId']}/messages?limit=20"
        load = _load(plan, fleet.servers[name].base, path, headers=_auth(reader["token"]))
        load = replace(
            load,
            connections=plan.history_connections,
            duration_s=plan.history_duration_s,
            max_requests=plan.history_requests,
            timeout_s=30,
        )
        label = f"history page, chat of {size:,} messages (1 connection)"
        rows.append(Row(history_key(size), label, "history", name, load, use_wrk=False))
    return rows


def history_key(size: int) -> str:
    """Row key of the history measurement at ``size`` stored messages."""
    return f"history.{size}"


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
