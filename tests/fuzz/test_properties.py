"""Properties of the chat domain, checked through the public REST API of an in-process app
(one app shared by the examples, emptied by `POST /api/dev/reset` before each) against
small models of what the contract promises:

(a) unread counts equal the model under any interleaving of sends, reads, edits, deletes
    and archiving, everywhere they are reported, and the stats agree with the lists;
(b) paging history with `before` (a message id, or a timestamp) or with `page` returns
    every message exactly once, newest first, also when timestamps tie;
(c) the rate limiter never admits a 21st message inside any 60 s window, admits again
    once `Retry-After` has passed, and only accepted messages count;
(d) concurrent creations of one purchase or direct chat, and retries of one
    `clientMessageId`, yield one chat and one message;
(e) a client replaying `GET /api/chat/{id}/events?afterSeq=` onto an earlier snapshot of
    the history arrives at what a fresh fetch returns.

Where time matters the server's clock is frozen (`frozen_time`): it moves only when the
test advances the dev clock, in the whole seconds the models count in.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
from fuzzkit import PNG, Api, Member, frozen_time, fuzz_settings, run_app
from hypothesis import example, given
from hypothesis import strategies as st

from impl.app import ChatApp

# Rate limit lifted where the property is about something else (a, b, e): one user may
# send dozens of messages in one instant of the frozen clock. (c) runs the real limits.
UNLIMITED = fuzz_settings(rate_limit=1_000_000)


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def newest_first(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The documented order: `createdAt` descending, ties by id descending."""
    return sorted(messages, key=lambda m: (parse_time(m["createdAt"]), m["_id"]), reverse=True)


# ---- (a) unread counts ---------------------------------------------------------------------

USERS = 4  # 0 creates the chats, 3 is an admin; the group holds all four
ADMIN = USERS - 1
GROUP, DIRECT = 0, 1  # the direct chat is between users 0 and 1


@dataclass
class ModelMessage:
    id: str
    chat: int
    sender: int
    readers: set[int]
    deleted: bool = False


@dataclass
class UnreadModel:
    messages: list[ModelMessage] = field(default_factory=list)
    archived: set[tuple[int, int]] = field(default_factory=set)  # (user, chat)

    @staticmethod
    def members(chat: int) -> set[int]:
        return set(range(USERS)) if chat == GROUP else {0, 1}

    def unread(self, user: int, chat: int) -> int:
        return sum(
            1
            for m in self.messages
            if m.chat == chat and m.sender != user and not m.deleted and user not in m.readers
        )

    def expected_status(self, kind: str, user: int, target: ModelMessage) -> int:
        """Edit: author only, not once deleted. Delete: the author or an admin (an admin
        even from outside the chat), again and again."""
        admin = user == ADMIN
        member = user in self.members(target.chat)
        if kind == "edit":
            if not member or target.sender != user:
                return 403
            return 409 if target.deleted else 200
        return 200 if (member or admin) and (target.sender == user or admin) else 403

    def mark_read(self, user: int, chat: int, only: set[str] | None) -> int:
        marked = 0
        for m in self.messages:
            wanted = only is None or m.id in only
            mine = m.chat == chat and m.sender != user and not m.deleted
            if wanted and mine and user not in m.readers:
                m.readers.add(user)
                marked += 1
        return marked


user_index = st.integers(0, USERS - 1)
chat_choice = st.sampled_from([GROUP, DIRECT])
message_pick = st.integers(0, 200)
unread_step = st.one_of(
    st.tuples(st.just("send"), user_index, chat_choice),
    st.tuples(st.just("read_all"), user_index, chat_choice),
    st.tuples(st.just("read_some"), user_index, chat_choice, st.lists(message_pick, max_size=4)),
    st.tuples(st.just("edit"), user_index, message_pick),
    st.tuples(st.just("delete"), user_index, message_pick),
    st.tuples(st.just("archive"), user_index, chat_choice),
)


@given(steps=st.lists(unread_step, max_size=40))
@example(  # a read, then the message is deleted: the count must not go below zero
    steps=[("send", 0, GROUP), ("read_all", 1, GROUP), ("delete", 0, 0), ("read_all", 1, GROUP)]
)
@example(steps=[("send", 0, GROUP), ("read_some", 1, GROUP, [])])  # [] marks all
@example(  # ids of another chat in messageIds mark nothing here
    steps=[("send", 1, DIRECT), ("send", 2, GROUP), ("read_some", 0, GROUP, [0])]
)
def test_unread_counts_follow_the_model(steps: list[tuple[Any, ...]]) -> None:
    async def scenario(api: Api, app: ChatApp) -> None:
        users = [await api.user(f"u{i}", "admin" if i == ADMIN else "user") for i in range(USERS)]
        chats = [
            await api.chat(users[0], *users[1:]),
            await api.chat(users[0], users[1], kind="direct"),
        ]
        model = UnreadModel()

        async def check_info() -> None:
            for chat in (GROUP, DIRECT):
                info = await api.data(users[0], "GET", f"/api/chat/{chats[chat]}/info")
                counts = info["chat"]["unreadCounts"]
                want = {users[u].id: model.unread(u, chat) for u in sorted(model.members(chat))}
                assert counts == want, (chat, counts, want)

        for step in steps:
            kind, who = step[0], step[1]
            if kind in ("send", "read_all", "read_some", "archive"):
                chat = step[2] if who in model.members(step[2]) else GROUP
                path = f"/api/chat/{chats[chat]}"
            if kind == "send":
                data = await api.data(
                    users[who], "POST", f"{path}/messages", json={"content": "hi"}
                )
                model.messages.append(ModelMessage(data["message"]["_id"], chat, who, {who}))
            elif kind in ("read_all", "read_some"):
                only = None
                body: dict[str, Any] = {}
                if kind == "read_some" and model.messages:
                    picked = {model.messages[i % len(model.messages)].id for i in step[3]}
                    body = {"messageIds": sorted(picked)}
                    only = picked or None  # an empty list marks everything
                data = await api.data(users[who], "PATCH", f"{path}/messages/read", json=body)
                assert data["modifiedCount"] == model.mark_read(who, chat, only)
            elif kind == "archive":
                data = await api.data(users[who], "PUT", f"{path}/archive")
                model.archived ^= {(who, chat)}
                assert data["archived"] is ((who, chat) in model.archived)
            elif model.messages:  # edit or delete
                target = model.messages[step[2] % len(model.messages)]
                r = await api.call(
                    users[who],
                    "PUT" if kind == "edit" else "DELETE",
                    f"/api/chat/{chats[target.chat]}/messages/{target.id}",
                    json={"content": "edited"} if kind == "edit" else None,
                )
                expected = model.expected_status(kind, who, target)
                assert r.status_code == expected, (step, r.text)
                target.deleted |= kind == "delete" and expected == 200
            await check_info()

        total = 0
        for u in range(USERS):
            listed: dict[str, dict[str, Any]] = {}
            for archived in ("false", "true"):
                params = {"archived": archived, "limit": 100}
                data = await api.data(users[u], "GET", "/api/chat", params=params)
                for c in data["chats"]:
                    assert c["archived"] is (archived == "true")
                    listed[c["_id"]] = c
            mine = [c for c in (GROUP, DIRECT) if u in model.members(c)]
            assert set(listed) == {chats[c] for c in mine}
            for c in mine:
                assert listed[chats[c]]["unreadCount"] == model.unread(u, c) >= 0
                assert listed[chats[c]]["archived"] is ((u, c) in model.archived)
            stats = await api.data(users[u], "GET", "/api/chat/stats")
            assert stats["totalUnread"] == sum(c["unreadCount"] for c in listed.values())
            assert stats["archivedChats"] == sum(c["archived"] for c in listed.values())
            total += stats["totalUnread"]
        assert total == sum(
            model.unread(u, c)
            for u in range(USERS)
            for c in (GROUP, DIRECT)
            if u in model.members(c)
        )

    run_app(scenario, UNLIMITED)


# ---- (b) paging history ----------------------------------------------------------------------


@given(
    gaps=st.lists(st.integers(0, 2), max_size=45),
    limit=st.integers(1, 100),
    deleted=st.sets(st.integers(0, 44), max_size=10),
    offset_minutes=st.integers(-12 * 60, 14 * 60),
)
@example(gaps=[0] * 25, limit=7, deleted=set(), offset_minutes=0)  # 25 messages, one instant
@example(gaps=[0, 1, 0, 0, 1, 0], limit=2, deleted={1, 3}, offset_minutes=90)
def test_paging_returns_every_message_once_newest_first(
    gaps: list[int], limit: int, deleted: set[int], offset_minutes: int
) -> None:
    async def scenario(api: Api, app: ChatApp) -> None:
        senders = [await api.user(f"s{i}") for i in range(3)]
        chat = await api.chat(senders[0], *senders[1:])
        base = f"/api/chat/{chat}/messages"
        sent: list[dict[str, Any]] = []
        for i, gap in enumerate(gaps):
            await api.advance(gap)
            who = senders[i % 3]
            data = await api.data(who, "POST", base, json={"content": f"m{i}"})
            sent.append(data["message"])
        for i in sorted(d for d in deleted if d < len(sent)):
            await api.data(senders[i % 3], "DELETE", f"{base}/{sent[i]['_id']}")
        reader = senders[0]
        everything = [m["_id"] for m in reversed(sent)]  # newest first, ties by id

        # The exact cursor: `before` = the last id of the previous page.
        seen: list[str] = []
        params: dict[str, Any] = {"limit": limit}
        while True:
            page = (await api.data(reader, "GET", base, params=params))["messages"]
            assert len(page) <= limit
            if not page:
                break
            seen += [m["_id"] for m in page]
            params = {"limit": limit, "before": page[-1]["_id"]}
        assert seen == everything

        # Page numbers, without a cursor.
        seen = []
        pages = -(-len(sent) // limit)
        for number in range(1, pages + 2):
            data = await api.data(reader, "GET", base, params={"limit": limit, "page": number})
            assert data["pagination"] == {
                "page": number,
                "limit": limit,
                "total": len(sent),
                "pages": pages,
            }
            seen += [m["_id"] for m in data["messages"]]
        assert seen == everything

        # A timestamp cursor: strictly earlier messages, whatever the offset it is written in.
        zone = timezone(timedelta(minutes=offset_minutes))
        for moment in sorted({m["createdAt"] for m in sent}):
            written = parse_time(moment).astimezone(zone).isoformat(timespec="milliseconds")
            params = {"limit": 100, "before": written}
            page = (await api.data(reader, "GET", base, params=params))["messages"]
            earlier = [m for m in everything if _created(sent, m) < parse_time(moment)]
            assert [m["_id"] for m in page] == earlier
            assert page == newest_first(page)

        # Tombstones stay in the history.
        history = {m["_id"]: m for m in await api.history(reader, chat)}
        for i, m in enumerate(sent):
            if i in deleted:
                assert history[m["_id"]]["content"] == "" and "deletedAt" in history[m["_id"]]
            else:
                assert history[m["_id"]]["content"] == f"m{i}"

    run_app(scenario, UNLIMITED, time=frozen_time())


def _created(sent: list[dict[str, Any]], message_id: str) -> datetime:
    return next(parse_time(m["createdAt"]) for m in sent if m["_id"] == message_id)


@given(gaps=st.lists(st.integers(1, 3), min_size=1, max_size=30), limit=st.integers(1, 10))
def test_paging_by_timestamp_when_timestamps_are_distinct(gaps: list[int], limit: int) -> None:
    """With distinct timestamps, `before` = the last page's oldest `createdAt` pages too."""

    async def scenario(api: Api, app: ChatApp) -> None:
        a, b = await api.user("a"), await api.user("b")
        chat = await api.chat(a, b, kind="direct")
        base = f"/api/chat/{chat}/messages"
        sent = []
        for i, gap in enumerate(gaps):
            await api.advance(gap)
            sent.append((await api.data(a, "POST", base, json={"content": f"m{i}"}))["message"])
        seen: list[str] = []
        params: dict[str, Any] = {"limit": limit}
        while page := (await api.data(b, "GET", base, params=params))["messages"]:
            seen += [m["_id"] for m in page]
            params = {"limit": limit, "before": page[-1]["createdAt"]}
        assert seen == [m["_id"] for m in reversed(sent)]

    run_app(scenario, UNLIMITED, time=frozen_time())


# ---- (c) the rate limiter ----------------------------------------------------------------------

LIMIT, WINDOW = 20, 60
attempt = st.tuples(
    st.one_of(st.just(0), st.integers(0, 5), st.integers(55, 65), st.integers(0, 130)),
    st.sampled_from(["text", "text", "text", "file", "invalid", "retry"]),
    st.booleans(),  # after a 429: wait exactly Retry-After and send again
)


@given(attempts=st.lists(attempt, max_size=70))
@example(attempts=[(0, "text", False)] * 21)  # the 21st in one instant
@example(  # 20 at t=0, the 21st at t=59 (refused), at t=60 (admitted: the first left)
    attempts=[(0, "text", False)] * 20 + [(59, "text", False), (1, "text", False)]
)
@example(attempts=[(0, "invalid", False)] * 25 + [(0, "text", False)] * 20)
def test_rate_limit_is_a_sliding_window(attempts: list[tuple[int, str, bool]]) -> None:
    async def scenario(api: Api, app: ChatApp) -> None:
        me, other = await api.user("sender"), await api.user("other")
        chat = await api.chat(me, other, kind="direct")
        base = f"/api/chat/{chat}/messages"
        now = 0
        stamps: list[int] = []  # times of accepted messages, in seconds
        accepted: list[dict[str, Any]] = []

        def recent() -> list[int]:
            return [s for s in stamps if s > now - WINDOW]

        async def post(kind: str, content: str, cmid: str) -> httpx.Response:
            if kind == "file":
                form = {"content": content, "clientMessageId": cmid}
                files = {"file": ("p.png", PNG, "image/png")}
                return await api.call(me, "POST", f"{base}/file", data=form, files=files)
            body = {"content": content, "clientMessageId": cmid}
            return await api.call(me, "POST", base, json=body)

        async def send(kind: str, n: int) -> None:
            if kind == "retry" and accepted:
                original = accepted[n % len(accepted)]
                r = await post(original["kind"], original["content"], original["cmid"])
                assert r.status_code == 200, r.text  # a retry is answered whatever the limit
                assert r.json()["data"]["message"]["_id"] == original["_id"]
                return
            if kind == "invalid":
                r = await api.call(me, "POST", base, json={"content": " \t "})
                assert r.status_code == 400, r.text
                return
            kind = "file" if kind == "file" else "text"
            content, cmid = f"m{n}", f"c{n}"
            r = await post(kind, content, cmid)
            window = recent()
            if len(window) < LIMIT:
                assert r.status_code == 201, r.text
                stamps.append(now)
                message_id = r.json()["data"]["message"]["_id"]
                accepted.append({"_id": message_id, "kind": kind, "content": content, "cmid": cmid})
                assert r.headers["X-RateLimit-Limit"] == str(LIMIT)
                assert r.headers["X-RateLimit-Remaining"] == str(LIMIT - len(recent()))
            else:
                assert r.status_code == 429, r.text
                body = r.json()
                assert body["code"] == "RATE_LIMITED"
                wait = min(window) + WINDOW - now
                assert r.headers["Retry-After"] == str(wait) == str(body["retryAfter"])
                assert r.headers["X-RateLimit-Remaining"] == "0"

        for n, (gap, kind, wait_after_refusal) in enumerate(attempts):
            await api.advance(gap)
            now += gap
            refused_before = len(recent()) >= LIMIT and kind in ("text", "file")
            await send(kind, n)
            if refused_before and wait_after_refusal:
                wait = min(recent()) + WINDOW - now
                await api.advance(wait)
                now += wait
                await send("text", 10_000 + n)  # admitted again once Retry-After has passed

        # Independently of the model: no 60 s window holds more than 20 stored messages.
        times = sorted(parse_time(m["createdAt"]) for m in await api.history(me, chat))
        assert len(times) == len(accepted)
        for first, last in zip(times, times[LIMIT:], strict=False):
            assert last - first >= timedelta(seconds=WINDOW)

    run_app(scenario, fuzz_settings(), time=frozen_time())


# ---- (d) idempotency -----------------------------------------------------------------------------


@given(n=st.integers(2, 12))
def test_concurrent_purchase_chats_are_one(n: int) -> None:
    async def scenario(api: Api, app: ChatApp) -> None:
        buyer, seller = await api.user("buyer"), await api.user("seller")
        body = {"purchaseRequestId": "665f1c2e9b1e8a3d4c5b6a90", "sellerId": seller.id}
        replies = await asyncio.gather(
            *(api.call(buyer, "POST", "/api/chat/purchase-request", json=body) for _ in range(n))
        )
        assert sorted(r.status_code for r in replies) == [200] * (n - 1) + [201]
        assert len({r.json()["data"]["chat"]["_id"] for r in replies}) == 1
        listed = await api.data(seller, "GET", "/api/chat")
        assert listed["pagination"]["total"] == 1

    run_app(scenario)


@given(
    callers=st.lists(st.booleans(), min_size=2, max_size=12),
    spelled=st.lists(st.sampled_from(["other", "both", "twice"]), min_size=12, max_size=12),
)
def test_concurrent_direct_chats_are_one(callers: list[bool], spelled: list[str]) -> None:
    """Both users asking at once, naming the caller or not, get the same one chat."""

    async def scenario(api: Api, app: ChatApp) -> None:
        a, b = await api.user("a"), await api.user("b")

        def ask(a_asks: bool, spelling: str) -> Any:
            me, you = (a, b) if a_asks else (b, a)
            ids = {"other": [you.id], "both": [me.id, you.id], "twice": [you.id, me.id, you.id]}
            body = {"participantIds": ids[spelling], "type": "direct"}
            return api.call(me, "POST", "/api/chat", json=body)

        replies = await asyncio.gather(*(ask(c, s) for c, s in zip(callers, spelled, strict=False)))
        n = len(callers)
        assert sorted(r.status_code for r in replies) == [200] * (n - 1) + [201]
        assert len({r.json()["data"]["chat"]["_id"] for r in replies}) == 1

    run_app(scenario)


@given(
    n=st.integers(2, 12),
    client_message_id=st.text(min_size=1, max_size=64),
    content=st.text(
        st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=50
    ).filter(lambda s: s.strip()),
)
def test_retries_of_one_client_message_id_are_one_message(
    n: int, client_message_id: str, content: str
) -> None:
    async def scenario(api: Api, app: ChatApp) -> None:
        a, b = await api.user("a"), await api.user("b")
        chat = await api.chat(a, b, kind="direct")
        base = f"/api/chat/{chat}/messages"
        body = {"content": content, "clientMessageId": client_message_id}
        replies = await asyncio.gather(*(api.call(a, "POST", base, json=body) for _ in range(n)))
        assert sorted(r.status_code for r in replies) == [200] * (n - 1) + [201], replies[0].text
        ids = {r.json()["data"]["message"]["_id"] for r in replies}
        assert len(ids) == 1
        again = await api.call(a, "POST", base, json=body)
        assert again.status_code == 200 and again.json()["data"]["message"]["_id"] in ids
        other = {**body, "content": content + " (changed)"}
        conflict = await api.call(a, "POST", base, json=other)
        assert conflict.status_code == 409 and conflict.json()["code"] == "IDEMPOTENCY_CONFLICT"
        history = await api.history(b, chat)
        assert [m["_id"] for m in history] == list(ids)
        assert history[0]["clientMessageId"] == client_message_id
        events = await api.data(b, "GET", f"/api/chat/{chat}/events")
        assert Counter(e["event"] for e in events["events"]) == {"new-message": 1}

    run_app(scenario)


# ---- (e) replaying events ------------------------------------------------------------------------

replay_step = st.one_of(
    st.tuples(st.just("send"), user_index, st.integers(0, 200)),
    st.tuples(st.just("file"), user_index, st.integers(0, 200)),
    st.tuples(st.just("edit"), user_index, message_pick),
    st.tuples(st.just("delete"), user_index, message_pick),
    st.tuples(st.just("read_all"), user_index, st.just(0)),
    st.tuples(st.just("read_some"), user_index, message_pick),
    st.tuples(st.just("join"), st.just(0), st.integers(0, 1)),
)


@given(
    before=st.lists(replay_step, max_size=15),
    after=st.lists(replay_step, max_size=25),
    page=st.integers(1, 100),
)
def test_replaying_events_onto_a_snapshot_matches_a_fresh_fetch(
    before: list[tuple[str, int, int]], after: list[tuple[str, int, int]], page: int
) -> None:
    async def scenario(api: Api, app: ChatApp) -> None:
        users = [await api.user(f"u{i}", "admin" if i == ADMIN else "user") for i in range(USERS)]
        chat = await api.chat(users[0], *users[1:])
        base = f"/api/chat/{chat}"
        ids: list[str] = []
        newcomers: list[Member] = []

        async def apply(step: tuple[str, int, int]) -> None:
            kind, who, n = step
            actor = users[who]
            if kind == "send":
                data = await api.data(actor, "POST", f"{base}/messages", json={"content": f"m{n}"})
                ids.append(data["message"]["_id"])
            elif kind == "file":
                files = {"file": ("p.png", PNG, "image/png")}
                r = await api.call(actor, "POST", f"{base}/messages/file", files=files)
                assert r.status_code == 201, r.text
                ids.append(r.json()["data"]["message"]["_id"])
            elif kind == "read_all":
                await api.data(actor, "PATCH", f"{base}/messages/read")
            elif kind == "join":
                if n == 0 or not newcomers:  # a new participant, or the last one leaves
                    newcomers.append(await api.user("newcomer"))
                    body = {"userId": newcomers[-1].id}
                    await api.data(users[0], "POST", f"{base}/participants", json=body)
                else:
                    gone = newcomers.pop()
                    await api.data(users[0], "DELETE", f"{base}/participants/{gone.id}")
            elif ids:
                target = ids[n % len(ids)]
                if kind == "read_some":
                    body = {"messageIds": [target]}
                    await api.data(actor, "PATCH", f"{base}/messages/read", json=body)
                elif kind == "edit":
                    body = {"content": f"edited by {who}"}
                    await api.call(actor, "PUT", f"{base}/messages/{target}", json=body)
                else:
                    await api.call(actor, "DELETE", f"{base}/messages/{target}")

        for step in before:
            await apply(step)
        viewer = users[1]
        latest = (await api.data(viewer, "GET", f"{base}/events"))["latestSeq"]
        snapshot = {m["_id"]: m for m in await api.history(viewer, chat)}
        for step in after:
            await apply(step)

        seq = latest
        while True:
            params = {"afterSeq": seq, "limit": page}
            data = await api.data(viewer, "GET", f"{base}/events", params=params)
            for event in data["events"]:
                assert event["seq"] == seq + 1, "events are numbered without gaps"
                seq = event["seq"]
                replay_event(snapshot, event)
            if not data["events"]:
                assert seq == data["latestSeq"]
                break
        fresh = await api.history(viewer, chat)
        assert newest_first(list(snapshot.values())) == fresh

    run_app(scenario, UNLIMITED)


def replay_event(messages: dict[str, dict[str, Any]], event: dict[str, Any]) -> None:
    """What a client does with one replayed event to its copy of the history."""
    payload = event["payload"]
    if event["event"] in ("new-message", "message-edited"):
        messages[payload["message"]["_id"]] = payload["message"]
    elif event["event"] == "message-deleted":
        message = messages[payload["messageId"]]
        message.update(content="", attachments=[], deletedAt=event["createdAt"])
    elif event["event"] == "messages-read":
        for message_id in payload["messageIds"]:
            receipt = {"userId": payload["userId"], "readAt": payload["readAt"]}
            messages[message_id]["readBy"].append(receipt)
