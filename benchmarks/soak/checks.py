"""What a soak run must show, verified through the public API once the load has stopped.

Each check returns a `Check` (name, passed, figures). The state is read afresh: every
chat's whole history (paged with `before`), its whole event log (paged with `afterSeq`),
`GET /api/chat/{id}/info` for every participant's `unreadCounts`, and each user's
`GET /api/chat` for the caller's `unreadCount`.

Memory is judged from the RSS samples taken during the load. The first third is left
out (imports, caches and allocator pools settle there); the median of the last third may
exceed the median of the second third by at most `RSS_SLACK_MIB` MiB or
`RSS_SLACK_FRACTION` of it, whichever is larger, plus what the messages stored between
the two thirds explain at `KIB_PER_MESSAGE` KiB each (the embedded store keeps every
message, its event and its readBy in the server's memory, so a healthy server grows with
what it stores; a leak grows with requests or time on top of that). A 90 s run measured
about 2.5 KiB per message (92.4 to 93.1 MiB over 297 messages with their events, edits and
readBy); 16 KiB leaves room for the steps in which Python's dicts and lists grow.
"""

from __future__ import annotations

import asyncio
import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from benchmarks.soak.services import Freeze, RssSamples
from benchmarks.soak.traffic import Answer, Ledger, Traffic
from benchmarks.soak.world import Chat, World

PAGE = 100
VERIFY_TRIES = 5
RSS_SLACK_MIB = 20.0
RSS_SLACK_FRACTION = 0.10
KIB_PER_MESSAGE = 16.0
SHOWN = 10  # examples kept in a failed check's figures


@dataclass
class Check:
    name: str
    passed: bool
    figures: dict[str, Any] = field(default_factory=dict)


@dataclass
class State:
    """The server's view after the load: per chat, its messages and its events."""

    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    latest_seq: dict[str, int] = field(default_factory=dict)
    unread_counts: dict[str, dict[str, int]] = field(default_factory=dict)  # chat -> user -> n
    listed_unread: dict[str, dict[str, int]] = field(default_factory=dict)  # user -> chat -> n
    unreadable: list[str] = field(default_factory=list)


async def _get(traffic: Traffic, token: str, path: str, **params: Any) -> Answer:
    """A verification read, retried a few times if the server does not answer 2xx."""
    answer = await traffic.call("verify", "GET", path, token, budgeted=False, params=params)
    for attempt in range(1, VERIFY_TRIES):
        if answer.ok:
            break
        await asyncio.sleep(0.5 * attempt)
        answer = await traffic.call("verify", "GET", path, token, budgeted=False, params=params)
    return answer


async def _history(traffic: Traffic, token: str, chat: Chat) -> list[dict[str, Any]] | None:
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": PAGE}
    while True:
        answer = await _get(traffic, token, f"/api/chat/{chat.id}/messages", **params)
        if not answer.ok:
            return None
        page = answer.data["messages"]
        found += page
        if len(page) < PAGE:
            return found
        params["before"] = page[-1]["_id"]


async def _events(traffic: Traffic, token: str, chat: Chat) -> tuple[list[dict[str, Any]], int]:
    found: list[dict[str, Any]] = []
    after, latest = 0, -1
    while True:
        answer = await _get(
            traffic, token, f"/api/chat/{chat.id}/events", afterSeq=after, limit=PAGE
        )
        if not answer.ok:
            return found, -1
        page, latest = answer.data["events"], answer.data["latestSeq"]
        found += page
        if not page or page[-1]["seq"] >= latest:
            return found, latest
        after = page[-1]["seq"]


async def read_state(traffic: Traffic, world: World) -> State:
    state = State()
    for chat in world.chats:
        token = world.user(chat.participants[0]).token
        history = await _history(traffic, token, chat)
        events, latest = await _events(traffic, token, chat)
        info = await _get(traffic, token, f"/api/chat/{chat.id}/info")
        if history is None or latest < 0 or not info.ok:
            state.unreadable.append(chat.id)
            continue
        state.messages[chat.id] = history
        state.events[chat.id], state.latest_seq[chat.id] = events, latest
        state.unread_counts[chat.id] = info.data["chat"]["unreadCounts"]
    for user in world.users:
        answer = await _get(traffic, user.token, "/api/chat", limit=PAGE)
        if not answer.ok:
            state.unreadable.append(f"user {user.index}")
            continue
        chats = answer.data["chats"]
        state.listed_unread[user.id] = {c["_id"]: c["unreadCount"] for c in chats}
    return state


# --- the checks --------------------------------------------------------------------------


def no_server_errors(traffic: Traffic) -> Check:
    by_kind = Counter(e["kind"] for e in traffic.server_errors)
    return Check(
        "no 5xx",
        not traffic.server_errors,
        {"count": len(traffic.server_errors), "by_kind": dict(by_kind)},
    )


def state_readable(state: State) -> Check:
    return Check("state readable", not state.unreadable, {"unreadable": state.unreadable})


def sends_acknowledged(ledger: Ledger) -> Check:
    failed = [s for s in ledger.sends.values() if not s.acknowledged]
    retried = sum(1 for s in ledger.sends.values() if s.attempts > 1)
    return Check(
        "every send acknowledged",
        not failed,
        {
            "sends": len(ledger.sends),
            "acknowledged": len(ledger.sends) - len(failed),
            "retried": retried,
            "unacknowledged": [(s.client_message_id, s.status) for s in failed[:SHOWN]],
        },
    )


def _stored(state: State) -> Counter[tuple[str, str, str]]:
    """(chat, sender, clientMessageId) -> how many stored messages carry it."""
    return Counter(
        (chat_id, m["senderId"], m.get("clientMessageId", ""))
        for chat_id, messages in state.messages.items()
        for m in messages
    )


def none_lost(ledger: Ledger, state: State) -> Check:
    stored = _stored(state)
    lost = [
        s.client_message_id
        for s in ledger.sends.values()
        if s.acknowledged
        and s.chat_id in state.messages
        and stored[(s.chat_id, s.sender_id, s.client_message_id)] == 0
    ]
    return Check("no lost message", not lost, {"lost": len(lost), "examples": lost[:SHOWN]})


def none_duplicated(ledger: Ledger, state: State) -> Check:
    stored = _stored(state)
    doubled = [key[2] for key, n in stored.items() if n > 1]
    known = {(s.chat_id, s.sender_id, s.client_message_id) for s in ledger.sends.values()}
    strangers = [key[2] for key in stored if key not in known]
    return Check(
        "no duplicated message",
        not doubled and not strangers,
        {
            "stored": sum(stored.values()),
            "duplicated": len(doubled),
            "not_sent_by_the_run": len(strangers),
            "examples": (doubled + strangers)[:SHOWN],
        },
    )


def edits_applied(ledger: Ledger, state: State) -> Check:
    by_id = {m["_id"]: m for messages in state.messages.values() for m in messages}
    wrong: list[str] = []
    checked = 0
    for send in ledger.sends.values():
        stored = by_id.get(send.message_id)
        if not send.acknowledged or send.uncertain or stored is None:
            continue
        checked += 1
        expected = "" if send.deleted else send.content_now
        if stored["content"] != expected or bool(stored.get("deletedAt")) != send.deleted:
            wrong.append(send.client_message_id)
    uncertain = sum(1 for s in ledger.sends.values() if s.uncertain)
    return Check(
        "edits and deletes applied",
        not wrong,
        {
            "checked": checked,
            "wrong": len(wrong),
            "uncertain": uncertain,
            "examples": wrong[:SHOWN],
        },
    )


def _expected_unread(messages: list[dict[str, Any]], user_id: str) -> int:
    return sum(
        1
        for m in messages
        if m["senderId"] != user_id
        and not m.get("deletedAt")
        and user_id not in {r["userId"] for r in m.get("readBy", [])}
    )


def unread_exact(world: World, state: State) -> Check:
    wrong: list[dict[str, Any]] = []
    compared = 0
    for chat in world.chats:
        messages = state.messages.get(chat.id)
        if messages is None:
            continue
        for user_id in chat.participants:
            expected = _expected_unread(messages, user_id)
            info = state.unread_counts[chat.id].get(user_id)
            listed = state.listed_unread.get(user_id, {}).get(chat.id)
            compared += 1
            if info != expected or listed != expected:
                wrong.append(
                    {
                        "chat": chat.id,
                        "user": user_id,
                        "expected": expected,
                        "info": info,
                        "list": listed,
                    }
                )
    return Check(
        "unread counts exact",
        not wrong,
        {"compared": compared, "wrong": len(wrong), "examples": wrong[:SHOWN]},
    )


def seq_without_gaps(state: State) -> Check:
    broken: list[dict[str, Any]] = []
    mismatched: list[str] = []
    for chat_id, events in state.events.items():
        seqs = [e["seq"] for e in events]
        latest = state.latest_seq[chat_id]
        if seqs != list(range(1, latest + 1)):
            missing = sorted(set(range(1, latest + 1)) - set(seqs))
            broken.append(
                {
                    "chat": chat_id,
                    "latestSeq": latest,
                    "events": len(seqs),
                    "missing": missing[:SHOWN],
                }
            )
        announced = Counter(
            e["payload"]["message"]["_id"] for e in events if e["event"] == "new-message"
        )
        stored = {m["_id"] for m in state.messages.get(chat_id, [])}
        if set(announced) != stored or any(n > 1 for n in announced.values()):
            mismatched.append(chat_id)
    return Check(
        "seq 1..latestSeq without gaps, one new-message per stored message",
        not broken and not mismatched,
        {
            "chats": len(state.events),
            "events": sum(len(e) for e in state.events.values()),
            "gaps": broken[:SHOWN],
            "new_message_mismatch": mismatched,
        },
    )


def rss_flat(rss: RssSamples, duration_s: float) -> Check:
    during = [s for s in rss.samples if s[0] <= duration_s]
    second = [s for s in during if duration_s / 3 <= s[0] < 2 * duration_s / 3]
    last = [s for s in during if s[0] >= 2 * duration_s / 3]
    if len(second) < 2 or len(last) < 2:
        return Check("RSS flat", False, {"reason": "too few samples", "samples": len(during)})
    mib = [s[1] / 1024 for s in during]
    m2 = statistics.median(s[1] for s in second) / 1024
    m3 = statistics.median(s[1] for s in last) / 1024
    stored = statistics.median(s[2] for s in last) - statistics.median(s[2] for s in second)
    explained = stored * KIB_PER_MESSAGE / 1024
    allowed = max(RSS_SLACK_MIB, RSS_SLACK_FRACTION * m2) + explained
    return Check(
        "RSS flat",
        m3 - m2 <= allowed,
        {
            "samples": len(during),
            "every_s": rss.every_s,
            "first_mib": round(mib[0], 1),
            "min_mib": round(min(mib), 1),
            "max_mib": round(max(mib), 1),
            "last_mib": round(mib[-1], 1),
            "second_third_median_mib": round(m2, 1),
            "last_third_median_mib": round(m3, 1),
            "growth_mib": round(m3 - m2, 1),
            "messages_stored_between": stored,
            "allowed_growth_mib": round(allowed, 1),
        },
    )


def sockets_connected(world: World) -> Check:
    listeners = [u.listener for u in world.users if u.listener is not None]
    down = [i for i, item in enumerate(listeners) if not item.connected]
    return Check(
        "sockets connected (or reconnected)",
        not down and len(listeners) == len(world.users),
        {
            "sockets": len(listeners),
            "connected_at_end": len(listeners) - len(down),
            "disconnects": sum(item.disconnects for item in listeners),
            "reconnects": sum(max(0, item.connects - 1) for item in listeners),
            "join_failures": sum(item.join_failures for item in listeners),
        },
    )


def socket_delivery(world: World, ledger: Ledger, state: State, freeze: Freeze) -> dict[str, Any]:
    """Figures, not a check: of the numbered events in each chat's log, how many each of
    its participants' sockets got (every participant's socket is in the room, the sender's
    too), and the `new-message` events missed, by phase of the freeze the message was
    acknowledged in."""
    phase_of = {s.message_id: freeze.phase(s.created_s) for s in ledger.sends.values()}
    missed_messages: Counter[str] = Counter()
    expected = delivered = doubled = 0
    for user in world.users:
        if user.listener is None:
            continue
        for chat in user.chats:
            got = user.listener.seqs.get(chat.id, Counter())
            for event in state.events.get(chat.id, []):
                expected += 1
                delivered += got[event["seq"]] > 0
                doubled += got[event["seq"]] > 1
            for m in state.messages.get(chat.id, []):
                if not user.listener.received.get(m["_id"]):
                    missed_messages[phase_of.get(m["_id"], "unknown")] += 1
    return {
        "events_expected": expected,
        "events_delivered": delivered,
        "events_delivered_twice": doubled,
        "new_message_missed_by_phase": dict(missed_messages),
    }
