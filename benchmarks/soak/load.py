"""The load of a soak run: one actor per user, each picking a weighted random action, then
a random think time, until the run's end.

Actions: send (a unique `clientMessageId` each, retried with the same id after a network
error, a 503, a 429 or a 409 that is not an idempotency conflict, until the answer is
2xx, another 4xx, or the retry deadline passes), history page, mark-read (all or some),
edit of an own message within the edit window, delete (rarely), events replay, chat list
and chat info. Sends stay within the server's advertised rate limit: each user sends at
most three quarters of `rateLimit.messages` per `rateLimit.windowSeconds`, spread evenly
(one send per window / allowance at most), so sends keep flowing through the freeze
rather than coming in bursts that use up the allowance before it.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks.soak.services import Freeze
from benchmarks.soak.traffic import Answer, Ledger, RequestBudgetSpent, Send, Traffic
from benchmarks.soak.world import Chat, User, World

RECENT_PER_CHAT = 50
EDIT_MARGIN_S = 60.0  # leave this much of the edit window unused: clocks and queues differ
RETRY_BACKOFF_S = (0.25, 4.0)
WEIGHTS = {
    "send": 4.0,
    "history": 2.0,
    "read": 2.0,
    "edit": 1.0,
    "delete": 0.2,
    "events": 1.0,
    "list": 1.0,
    "info": 0.5,
}


@dataclass(frozen=True)
class Limits:
    """What `GET /api/chat/config` says the server enforces."""

    messages: int
    window_s: float
    edit_window_s: float

    @property
    def sends_per_window(self) -> int:
        return max(1, self.messages * 3 // 4)

    @property
    def send_interval_s(self) -> float:
        return self.window_s / self.sends_per_window


@dataclass
class Load:
    traffic: Traffic
    world: World
    ledger: Ledger
    freeze: Freeze
    limits: Limits
    began: float
    end: float
    think_s: float
    retry_for_s: float
    seed: int
    recent: dict[str, deque[Send]] = field(default_factory=dict)
    latest_seq: dict[str, int] = field(default_factory=dict)

    def now_s(self) -> float:
        return time.monotonic() - self.began

    async def run(self) -> None:
        """Every actor until the end (or the request cap)."""
        await asyncio.gather(*(self._actor(user) for user in self.world.users))

    async def _actor(self, user: User) -> None:
        rng = random.Random(self.seed * 1000 + user.index)
        next_send = [0.0]  # monotonic time before which this user does not send
        numbers = itertools.count(1)
        actions: dict[str, Callable[[], Awaitable[object]]] = {
            "send": lambda: self._send(user, rng, next_send, next(numbers)),
            "history": lambda: self._history(user, rng),
            "read": lambda: self._read(user, rng),
            "edit": lambda: self._edit(user, rng),
            "delete": lambda: self._delete(user, rng),
            "events": lambda: self._events(user, rng),
            "list": lambda: self._call(user, "list", "GET", "/api/chat", params={"limit": 20}),
            "info": lambda: self._call(
                user, "info", "GET", f"/api/chat/{rng.choice(user.chats).id}/info"
            ),
        }
        names, weights = list(WEIGHTS), list(WEIGHTS.values())
        await asyncio.sleep(rng.uniform(0, self.think_s))
        while time.monotonic() < self.end:
            try:
                await actions[rng.choices(names, weights)[0]]()
            except RequestBudgetSpent:
                return
            await asyncio.sleep(min(rng.expovariate(1 / self.think_s), 5 * self.think_s))

    async def _call(self, user: User, kind: str, method: str, path: str, **kw: Any) -> Answer:
        return await self.traffic.call(kind, method, path, user.token, **kw)

    # --- sends ----------------------------------------------------------------------------

    async def _send(
        self, user: User, rng: random.Random, next_send: list[float], number: int
    ) -> None:
        now = time.monotonic()
        if now < next_send[0]:
            await self._history(user, rng)  # not this user's turn to send: read instead
            return
        next_send[0] = now + self.limits.send_interval_s
        chat = rng.choice(user.chats)
        cmid = f"soak-{user.index:02d}-{number:05d}"
        started = self.now_s()
        send = Send(cmid, chat.id, user.id, f"soak message {cmid}", started, "")
        send.phase = self.freeze.phase(started)
        self.ledger.add(send)
        await self._deliver(user, chat, send)

    async def _deliver(self, user: User, chat: Chat, send: Send) -> None:
        """POST the message until it is answered for good (see the module docstring)."""
        body = {"content": send.content, "clientMessageId": send.client_message_id}
        deadline = time.monotonic() + self.retry_for_s
        backoff = RETRY_BACKOFF_S[0]
        while True:
            send.attempts += 1
            attempt_phase = self.freeze.phase(self.now_s())
            answer = await self.traffic.call(
                "send",
                "POST",
                f"/api/chat/{chat.id}/messages",
                user.token,
                budgeted=send.attempts == 1,
                json=body,
            )
            self.ledger.attempt(attempt_phase, answer.seconds)
            if answer.ok or not _retryable(answer) or time.monotonic() > deadline:
                break
            wait = answer.retry_after(backoff) if answer.status in (429, 503) else backoff
            await asyncio.sleep(wait)
            backoff = min(backoff * 2, RETRY_BACKOFF_S[1])
        send.status = answer.status
        send.seconds = self.now_s() - send.started_s
        if answer.ok:
            send.message_id = answer.data["message"]["_id"]
            send.created_s = self.now_s()
            send.content_now = send.content
            self.recent.setdefault(chat.id, deque(maxlen=RECENT_PER_CHAT)).append(send)

    # --- reads ----------------------------------------------------------------------------

    async def _history(self, user: User, rng: random.Random) -> None:
        chat = rng.choice(user.chats)
        params: dict[str, str | int] = {"limit": 20}
        known = self.recent.get(chat.id)
        choice = rng.random()
        if known and choice < 0.3:
            params["before"] = rng.choice(known).message_id
        elif choice < 0.5:
            params["page"] = rng.randint(2, 4)
        await self._call(user, "history", "GET", f"/api/chat/{chat.id}/messages", params=params)

    async def _read(self, user: User, rng: random.Random) -> None:
        chat = rng.choice(user.chats)
        others = [s.message_id for s in self.recent.get(chat.id, ()) if s.sender_id != user.id]
        body = {"messageIds": rng.sample(others, min(len(others), 5))} if others else {}
        if rng.random() < 0.5:
            body = {}
        path = f"/api/chat/{chat.id}/messages/read"
        await self._call(user, "read", "PATCH", path, json=body)

    async def _events(self, user: User, rng: random.Random) -> None:
        chat = rng.choice(user.chats)
        after = max(0, self.latest_seq.get(chat.id, 0) - rng.randint(0, 30))
        params = {"afterSeq": after, "limit": 50}
        answer = await self._call(
            user, "events", "GET", f"/api/chat/{chat.id}/events", params=params
        )
        if answer.ok:
            self.latest_seq[chat.id] = max(
                self.latest_seq.get(chat.id, 0), answer.data["latestSeq"]
            )

    # --- edits and deletes ----------------------------------------------------------------

    def _own(self, user: User, rng: random.Random) -> Send | None:
        horizon = self.now_s() - (self.limits.edit_window_s - EDIT_MARGIN_S)
        mine = [
            s
            for chat in user.chats
            for s in self.recent.get(chat.id, ())
            if s.sender_id == user.id and not s.deleted and not s.uncertain
            if s.created_s > horizon
        ]
        return rng.choice(mine) if mine else None

    async def _edit(self, user: User, rng: random.Random) -> None:
        send = self._own(user, rng)
        if send is None:
            return
        content = f"{send.content} (edit {rng.randint(1, 10**6)})"
        path = f"/api/chat/{send.chat_id}/messages/{send.message_id}"
        answer = await self._call(user, "edit", "PUT", path, json={"content": content})
        if answer.ok:
            send.content_now = content
        elif not 400 <= answer.status < 500:
            send.uncertain = True

    async def _delete(self, user: User, rng: random.Random) -> None:
        send = self._own(user, rng)
        if send is None:
            return
        path = f"/api/chat/{send.chat_id}/messages/{send.message_id}"
        answer = await self._call(user, "delete", "DELETE", path)
        if answer.ok:
            send.deleted = True
        elif not 400 <= answer.status < 500:
            send.uncertain = True


def _retryable(answer: Answer) -> bool:
    """No answer, the store or a dependency unavailable, the rate limit, or a retry racing
    the original: the same clientMessageId can safely be sent again."""
    if answer.status in (0, 503, 429):
        return True
    return answer.status == 409 and answer.code != "IDEMPOTENCY_CONFLICT"
