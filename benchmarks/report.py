"""Render a run's ``results.json`` as ``README.md`` (tables) and ``results.png`` (plot).

``python -m benchmarks.report [DIR]`` re-evaluates the goals of an existing
``DIR/results.json`` (default: this directory) and re-renders it, without running anything.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PLOT_NAME = "results.png"
OURS_COLOUR, REF_COLOUR = "#d9822b", "#4a79a8"
PLAIN_COLOUR, READ_COLOUR = "#8c8c8c", "#5a9e5a"
THROUGHPUT_GROUPS = ("reference", "ours")
PROFILE = HERE / "profile.md"  # hand-written from py-spy samples; included when present
BUSY_LOAD = 0.5  # a 1-minute load average above this before the run means a shared machine


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _verdict(met: bool | None) -> str:
    return {True: "**met**", False: "**not met**", None: "not run"}[met]


# --- plot --------------------------------------------------------------------------------


def _throughput_panel(ax: Any, rows: list[dict[str, Any]]) -> None:
    shown = [r for r in rows if r["group"] in THROUGHPUT_GROUPS and r.get("median")]
    if not shown:
        _not_run(ax, "Throughput")
        return
    labels = [textwrap.fill(r["label"], 34) for r in shown]
    values = [r["median"]["rps"] for r in shown]
    colours = [OURS_COLOUR if r["group"] == "ours" else REF_COLOUR for r in shown]
    bars = ax.barh(range(len(shown)), values, color=colours)
    ax.bar_label(bars, labels=[f"{v:,.0f}" for v in values], fontsize=7, padding=2)
    ax.set_yticks(range(len(shown)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlim(right=max(values) * 4)
    ax.set_xlabel("median req/s, log scale (higher is better)")
    ax.set_title("Throughput (orange: Chat API, blue: references)", fontsize=9)


def _not_run(ax: Any, title: str) -> None:
    ax.set_title(title, fontsize=9)
    ax.text(0.5, 0.5, "not run", ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def _size(row: dict[str, Any]) -> int:
    return int(row["key"].split(".")[1])


def _history_panel(ax: Any, rows: list[dict[str, Any]]) -> None:
    series = (  # (key prefix, colour, name)
        ("history.", OURS_COLOUR, "history page"),
        ("history_plain.", PLAIN_COLOUR, "history page, plain mongomock"),
        ("markread.", READ_COLOUR, "mark-read of 1"),
    )
    drawn = False
    for prefix, colour, name in series:
        shown = sorted(
            (r for r in rows if r["key"].startswith(prefix) and r.get("median")), key=_size
        )
        if not shown:
            continue
        drawn = True
        sizes = [_size(r) for r in shown]
        p50s = [r["median"]["p50_ms"] for r in shown]
        p99s = [r["median"]["p99_ms"] for r in shown]
        ax.plot(sizes, p50s, "o-", color=colour, label=f"{name} p50")
        ax.plot(sizes, p99s, "s--", color=colour, alpha=0.5, label=f"{name} p99")
    if not drawn:
        _not_run(ax, "Against store size")
        return
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("messages in the chat")
    ax.set_ylabel("ms per request")
    ax.set_title("Against store size, one connection", fontsize=9)
    ax.legend(fontsize=6)


def _fanout_panel(ax: Any, fanouts: list[dict[str, Any]]) -> None:
    if not any(f.get("median") for f in fanouts):
        _not_run(ax, "Socket.IO fan-out")
        return
    for target, colour, name in (("ours", OURS_COLOUR, "Chat API"), ("ref", REF_COLOUR, "bare")):
        shown = sorted(
            (f for f in fanouts if f["target"] == target and f.get("median")),
            key=lambda f: int(f["n"]),
        )
        sizes = [f["n"] for f in shown]
        ax.plot(
            sizes, [f["median"]["p50_ms"] for f in shown], "o-", color=colour, label=f"{name} p50"
        )
        ax.plot(
            sizes, [f["median"]["p99_ms"] for f in shown], "s--", color=colour, label=f"{name} p99"
        )
    ax.set_xscale("log")
    ax.set_xlabel("clients in the room")
    ax.set_ylabel("ms from REST send to last receiver")
    ax.set_title("Socket.IO fan-out", fontsize=9)
    ax.legend(fontsize=7)


def plot(results: dict[str, Any], path: Path) -> bool:
    """Draw the three panels into ``path``; False when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, axes = plt.subplots(1, 3, figsize=(16, 5.5), gridspec_kw={"width_ratios": [1.6, 1, 1]})
    _throughput_panel(axes[0], results["rows"])
    _history_panel(axes[1], results["rows"])
    _fanout_panel(axes[2], results["fanout"])
    machine = results["machine"]
    fig.suptitle(
        f"{machine['cpu_model']}, {machine['nproc']} CPUs - medians of "
        f"{results['settings']['reps']} interleaved reps",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


# --- markdown ----------------------------------------------------------------------------


HOW_TO_RUN = """\
## Running

```sh
tox -e bench                          # the full run; rewrites this file, results.json, results.png
python -m benchmarks.run              # the same without tox
python -m benchmarks.run --quick      # smoke run of a few seconds, written to a temp directory
python -m benchmarks.run --reps 3 --duration 2 --out /tmp/bench   # shorter full run elsewhere
python -m benchmarks.run --quick --check   # exit 1 unless every configuration ran clean
python -m benchmarks.run --servers ours-allowance --reps 3 --out /tmp/bench   # some rows only
python -m benchmarks.report           # re-evaluate the goals of results.json, re-render
```

`--no-wrk` forces the aiohttp load generator, `--no-node` the python-socketio fan-out
clients (and skips Prism), `--no-ours` runs the reference servers only, `--servers`
starts only the servers named (the rows of the others, and goals needing them, are not
run).

Needs the `fast` extra (uvloop, httptools), aiohttp, and matplotlib for the plot. Uses
`wrk` when it is on PATH (`apt-get install -y wrk`), else `benchmarks/loadgen.py`; uses
node with the repository's `socket.io-client` for the fan-out clients when present, else
python-socketio clients; runs the Prism row only when node and
`node_modules/.bin/prism` are there. Every server binds 127.0.0.1 only.
"""

SOAK = """\
## Soak

`tox -e soak` (not in the default run; needs `redis-server` on PATH) runs
`python -m benchmarks.soak --duration 600 --freeze 20`: a throwaway `redis-server` on a
free port (`--save '' --appendonly no`) and one `python -m impl serve --no-demo` on the
embedded store with `REDIS_URL` pointing at it; 12 users made through the dev endpoint, a
direct chat each and groups, one python-socketio client per user joined to its rooms. For
`--duration` seconds every user mixes sends (a unique `clientMessageId` each, retried with
the same id after a network error, 503, 429 or 409 race), history pages, mark-read,
edits within the window, a few deletes, event replays, chat list and info, keeping to
three quarters of the advertised rate limit. Halfway through, Redis is stopped (SIGSTOP)
for `--freeze` seconds, then continued. The server's RSS is read from `/proc` every few
seconds.

Then it checks through the public API, and exits 1 if any check fails: no 5xx (every
status is counted); every send acknowledged, and present in its chat's history exactly
once (by `clientMessageId`), with its confirmed edits and deletes; each participant's
`unreadCount` (chat list and `/info`) equal to the messages from others, not deleted,
missing their `readBy`; each chat's event replay numbered 1..`latestSeq` without gaps,
with one `new-message` per stored message; RSS flat (the last third's median at most
20 MiB or 10% above the second third's, plus 16 KiB per message stored in between, as
the embedded store holds everything in memory); every socket connected at the end. The
report (`--json PATH`, and a `SOAK_JSON` line) has request counts by kind and status,
send and request latency before, during and after the freeze, the RSS samples, and the
events each socket received. `--duration 15 --freeze 3` is the smoke run of
`tests/test_soak_smoke.py`.
"""


def _load(results: dict[str, Any], when: str) -> str:
    values = (results.get("load_average") or {}).get(when)
    return ", ".join(f"{v:.2f}" for v in values) if values else "unknown"


def _busy_warning(results: dict[str, Any]) -> str:
    before = (results.get("load_average") or {}).get("before")
    if before and before[0] > BUSY_LOAD:
        return (
            " - **other work was running on the machine; absolute numbers are depressed and "
            "noisy, ratios within a rep less so**"
        )
    return ""


def _machine_section(results: dict[str, Any]) -> list[str]:
    m, s = results["machine"], results["settings"]
    pin = s["pinning"]
    pinning = (
        f"servers on CPU {pin['server_core']}, load generator and socket clients on "
        f"CPU {pin['load_core']} (`taskset`)"
        if pin
        else "no CPU pinning"
    )
    packages = ", ".join(f"{k} {v}" for k, v in m["packages"].items())
    return [
        "## Machine",
        "",
        f"- `nproc`: {m['nproc']}; CPU: {m['cpu_model']}; memory: {m['memory_gib']} GiB; "
        f"kernel {m['kernel']}",
        f"- Python {m['python']}; wrk: {m['wrk'] or 'not installed'}; "
        f"node: {m['node'] or 'not installed'}",
        f"- {packages}",
        f"- Pinning: {pinning}",
        f"- Load average (1, 5, 15 min) before the run: {_load(results, 'before')}, "
        f"after: {_load(results, 'after')}{_busy_warning(results)}",
        f"- Run of {results['generated']}, {results['elapsed_s']} s in all"
        + (" (**quick smoke run**, not representative)" if s["quick"] else ""),
        "",
    ]


def _method_section(results: dict[str, Any]) -> list[str]:
    s = results["settings"]
    sizes = ", ".join(f"{n:,}" for n in s["history_sizes"])
    plain = ", ".join(f"{n:,}" for n in s.get("plain_sizes", []))
    reads = ", ".join(f"{n:,}" for n in s.get("markread_sizes", []))
    rate = s["our_env"]["CHAT_RATE_LIMIT"]
    return [
        "## Method",
        "",
        f"- Load: {s['load_tool']} in its own process, {s['connections']} connections, "
        f"{s['duration_s']:g} s per load. The rows against store size use "
        f"`benchmarks/loadgen.py` with {s['history_connections']} connection, bounded by "
        f"{s['history_requests']} requests or {s['history_duration_s']:g} s, whichever comes "
        "first, so their latency is the time of one request.",
        f"- {s['reps']} rep(s); every rep runs every configuration once, in an order rotated "
        "by one each rep, so no configuration always runs first or after the same neighbour. "
        + (
            f"A {s['warmup_s']:g} s unrecorded warm-up pass precedes the reps. "
            if s["warmup_s"]
            else "No warm-up pass. "
        )
        + "Every figure is the median over the reps; a goal's ratio is that of two medians "
        "of the same run. After each load the runner waits until the server answers a "
        "probe quickly again, so requests the load generator abandoned never overlap the "
        "next configuration.",
        "- Servers: one uvicorn process each (uvloop + httptools, no access log). The Chat "
        "API is started by `benchmarks/seeded_server.py` through `impl.app.create_app` "
        "and `impl.serve.server_for`, as `python -m impl serve` starts it (its bounded "
        "HTTP parser, its heap settled once started), "
        "on the embedded store (mongomock under the engine layer, `impl/store/engine.py`), "
        "with its fixture seeded over its own HTTP API; the bulk history "
        f"({sizes} messages) is cloned from one real message straight into the store: an "
        "old conversation, the two participants taking turns, every message read by both, "
        "the chat's `messageCount` moved to match.",
        f"- Plain mongomock rows: the same servers and fixture with "
        f"`CHAT_STORE_ENGINE=plain` ({plain} messages), to show the engine layer's effect, "
        f"bounded by {s.get('plain_requests', s['history_requests'])} requests per rep. "
        f"From {s.get('plain_slow_size', 0):,} messages on a plain page takes seconds, so "
        f"that row is bounded by {s.get('plain_slow_requests', 0)} requests per rep.",
        f"- Rate limit raised for the benchmark: `CHAT_RATE_LIMIT={rate}` on every Chat API "
        f"server but the allowance one (default 20 per 60 s). The send rows spread their "
        f"load over {s['writers']} senders, each posting into its own direct chat, and "
        "their server is reset "
        f"(`POST /api/dev/reset`) and re-seeded before each rep; a rep stops after "
        f"{s['send_cap_per_rep']:,} responses at most. The fresh-store row starts from "
        "empty chats. The after-traffic row's chats already hold "
        f"{s.get('earlier_posts', 0):,} posts in all: each sender posts one over HTTP, and "
        "the benchmark-only route `POST /bench/prefill` of the seeded server stores the rest "
        "as earlier copies of it, each with its `new-message` event and its notification "
        "for the offline partner, moving the chat's `messageCount`, `seq` and unread "
        "counter as the sends would have.",
        f"- Allowance rows: a server with `CHAT_RATE_LIMIT={s.get('allowance_limit', '-')}`, "
        "reset and re-seeded before each rep with one sender and its direct chat; one "
        f"connection, {s.get('allowance_requests', 0)} sends per rep. On the fresh server the "
        "sender's allowance is empty; in the other row the sender has just posted "
        f"{s.get('window_posts', 0):,} messages, all inside the window (one over HTTP, the "
        "rest stored by `POST /bench/prefill`, which also takes the sender's allowance for "
        "each through the domain's own `rate_limits.reserve`), so its allowance holds that "
        "many stamps.",
        f"- Mark-read rows ({reads} messages in the chat): before every measured "
        "`PATCH /api/chat/{id}/messages/read` with `messageIds: []` (mark everything), the "
        "other participant posts one message on the same connection (not measured). So "
        "every read is the realistic one: a reader opens a chat with one new message and "
        "marks it; an answer whose `modifiedCount` is not 1 counts as a problem.",
        "- Invalid-body row: a JSON body without the required `content` member, rejected by "
        "request validation with 400; it is expected to produce only 400s.",
        f"- Fan-out: {s['fanout_client']} clients in one process connect with "
        "`auth: {token}` over WebSocket and join with an acknowledged `join-chat-room`; "
        f"then {s['fanout_messages']} messages (after {s['fanout_warmup']} unrecorded ones) are "
        "sent one at a time over REST, each timed from just before the REST call to the "
        "moment the last client has its `new-message`. The Chat API room is a group chat "
        "of N receivers plus a sender with no socket. The reference is a bare "
        "python-socketio server whose REST endpoint emits a message of the same shape to "
        "the same room name.",
        "- Prism: `prism mock openapi.yaml -v error`, static examples.",
        "- The Chat API's numbers are those of the embedded store, not of MongoDB. Plain "
        "mongomock scans a whole collection for every query and copies every match before "
        "sorting; the engine layer answers the app's query shapes from the declared "
        "indexes and copies only the documents returned (`docs/embedded-store.md`). The "
        "plain rows show the difference directly.",
        "",
    ]


def _goal_line(g: dict[str, Any]) -> str:
    ratio = g["ratio"]
    clean = g["key"] == "clean_load"
    shown = "-" if ratio is None else (f"{ratio}" if clean else f"{ratio:.2f}x")
    threshold = "0 problems" if clean else f"{g['comparison']} {g['threshold']}x"
    detail = f" ({g['detail']})" if g["detail"] else ""
    paired = g.get("paired_ratio")
    paired_text = "-" if paired is None else f"{paired:.2f}x"
    return (
        f"| {g['text']} | {shown} | {paired_text} | {threshold} | "
        f"{_verdict(g['met'])}{_margin(g)}{detail} |"
    )


def _margin(g: dict[str, Any]) -> str:
    """How far a ratio goal is from its threshold, as a share of the threshold."""
    if g["key"] == "clean_load" or g["ratio"] is None or not g["threshold"]:
        return ""
    share = g["ratio"] / g["threshold"]
    return f", {share:.2f} of the line" if g["comparison"] == ">=" else f", {share:.2f}x the cap"


def _goals_section(results: dict[str, Any]) -> list[str]:
    head = [
        "| Goal | Ratio | Paired | Threshold | Result |",
        "|---|---:|---:|---:|---|",
    ]
    issue = [g for g in results["goals"] if g.get("tier", "issue") == "issue"]
    long_term = [g for g in results["goals"] if g.get("tier") == "long-term"]
    lines = [
        "## Goals",
        "",
        "The goals of the issue that made the embedded store answer from indexes, and the "
        "flat send at a raised rate limit; they decide this run's result. Ratio: of the two "
        "medians over the reps (decides the result). Paired: median of the per-rep ratios, "
        "each from two configurations measured in the same rep.",
        "",
        *head,
        *map(_goal_line, issue),
        "",
    ]
    if long_term:
        lines += [
            "### Long-term line",
            "",
            "Where the project means to end up (the earlier goals, kept visible): evaluated "
            "on the same run, not a gate of this one.",
            "",
            *head,
            *map(_goal_line, long_term),
            "",
        ]
    return lines


def _row_line(r: dict[str, Any]) -> str:
    m = r.get("median") or {}
    done = sum(1 for x in r["reps"] if "failed" not in x)
    flags = " (capped)" if r["capped"] else ""
    problem = f" {r['problem']}" if r["problem"] else ""
    expected = " (400 expected)" if r["expect"] == "400" else ""
    return (
        f"| {r['label']} | {r['server']} | {r['connections']} | {_fmt(m.get('rps'))}{flags} "
        f"| {_fmt(m.get('p50_ms'), 2)} | {_fmt(m.get('p99_ms'), 2)} | {done}/{len(r['reps'])} "
        f"| {r['requests']:,} | {r['errors']} | {r['non_2xx']}{expected}{problem} |"
    )


def _rows_section(title: str, rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return [f"## {title}", "", "Not run.", ""]
    head = (
        "| Configuration | Server | Conns | req/s | p50 ms | p99 ms | Reps | Requests "
        "| Errors | Non-2xx |"
    )
    return [
        f"## {title}",
        "",
        head,
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        *map(_row_line, rows),
        "",
    ]


def _fanout_section(fanouts: list[dict[str, Any]]) -> list[str]:
    if not fanouts:
        return ["## Fan-out", "", "Not run.", ""]
    lines = [
        "## Fan-out",
        "",
        "| N | Server | p50 ms | p99 ms | REST p50 ms | connect+join ms | Reps | Missed "
        "| Non-2xx |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for f in sorted(fanouts, key=lambda f: (f["n"], f["target"])):
        m = f.get("median") or {}
        name = "Chat API" if f["target"] == "ours" else "bare python-socketio"
        done = sum(1 for x in f["reps"] if "failed" not in x)
        problem = f" {f['problem']}" if f["problem"] else ""
        lines.append(
            f"| {f['n']} | {name} | {_fmt(m.get('p50_ms'), 2)} | "
            f"{_fmt(m.get('p99_ms'), 2)} | {_fmt(m.get('rest_p50_ms'), 2)} | "
            f"{_fmt(m.get('connect_ms'), 0)} | {done}/{len(f['reps'])} | "
            f"{f['missed_deliveries']} | {f['non_2xx']}{problem} |"
        )
    return [*lines, ""]


def _profile_section() -> list[str]:
    if not PROFILE.exists():
        return []
    return [PROFILE.read_text().rstrip(), ""]


def _servers_section(results: dict[str, Any]) -> list[str]:
    bad = {k: v for k, v in results["servers"].items() if v != "ok"}
    if not bad:
        return []
    lines = ["## Servers that did not run", ""]
    lines += [f"- `{name}`: {status.splitlines()[0][:300]}" for name, status in bad.items()]
    return [*lines, ""]


def markdown(results: dict[str, Any], has_plot: bool) -> str:
    """The whole README."""
    rows = results["rows"]
    lines = [
        "# Benchmarks",
        "",
        "The Chat API against bare reference servers on the same machine, in the same run: "
        "what the framework costs, what the contract's work costs on top, how reads, "
        "sends and mark-read scale with the store, and how fast a message reaches a room "
        "of sockets. "
        "This file, `results.json` and `results.png` are written by `benchmarks/run.py`; "
        "edit the generator (`benchmarks/report.py`), not this file.",
        "",
        HOW_TO_RUN,
        SOAK,
        *_machine_section(results),
        *_goals_section(results),
        *_rows_section("Throughput", [r for r in rows if r["group"] in THROUGHPUT_GROUPS]),
        *_rows_section(
            "Against store size (one connection)",
            [r for r in rows if r["group"] not in THROUGHPUT_GROUPS],
        ),
        *_fanout_section(results["fanout"]),
    ]
    if has_plot:
        lines += ["## Plot", "", f"![benchmark results]({PLOT_NAME})", ""]
    lines += _profile_section() + _servers_section(results) + _method_section(results)
    return "\n".join(lines).rstrip() + "\n"


def write(results: dict[str, Any], out: Path) -> None:
    """Write ``results.png`` and ``README.md`` into ``out``."""
    has_plot = plot(results, out / PLOT_NAME)
    (out / "README.md").write_text(markdown(results, has_plot))


def regoal(results: dict[str, Any]) -> dict[str, Any]:
    """The results with their goals evaluated again from the rows (after a goal changed)."""
    from benchmarks import goals

    s = results["settings"]
    sizes = goals.Sizes(
        tuple(sorted(s["history_sizes"])),
        tuple(sorted(s.get("markread_sizes", []))),
        s.get("window_posts", goals.Sizes.window_posts),
    )
    return {**results, "goals": goals.evaluate(results["rows"], results["fanout"], sizes)}


def main() -> None:
    """Re-evaluate the goals of an existing results.json and re-render from it."""
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE
    results = regoal(json.loads((out / "results.json").read_text()))
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    write(results, out)


if __name__ == "__main__":
    main()
