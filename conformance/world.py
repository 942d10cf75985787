"""The users a run acts as, and what the target lets the kit do besides the API.

Two ways to get users, chosen on the command line:

    DevWorld       the target has the dev endpoints: the kit works in a sandbox of its own
                   (`conformance-<random>`, emptied first, removed at the end, so two runs
                   can share a server), creates fresh users of any role for every rule, and
                   moves the sandbox's clock
    FixtureWorld   the target has none (or the kit must not use them): the users of a
                   fixture file, each with its role, id and token; no clock, no reset

What a world offers is a set of capabilities; a rule that needs one the world lacks is
reported "not run" with the reason the world gives (`missing`).

    CLOCK     the target's clock can be moved (`POST /api/dev/clock`)
    RESET     the kit has a world of its own, emptied at the start, where it knows every
              user (a sandbox and `POST /api/dev/reset`)
    ADMIN     a user whose role is admin
    SUPPORT   a user whose role is support (or admin)

With a fixture, the same users serve every rule, so the kit hands out the least used ones
first (by accepted sends and new chats, which the target limits per user), keeps one user
of role `user` apart for the rule that uses up a whole message allowance, and before it
hands a user to a rule waits, if it must, until that user has room in the target's limits
for what one rule sends (`HEADROOM`): a fixture with few users makes a slower run, not a
failing one.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.http import NOTHING, Form, Reply, Rest
from conformance.trace import NotRun, RuleFailed

CLOCK, RESET, ADMIN, SUPPORT = "clock", "reset", "admin", "support"
CAPABILITIES = (CLOCK, RESET, ADMIN, SUPPORT)
ROLES = ("user", "support", "admin")
OBJECT_ID = re.compile(r"^[0-9a-fA-F]{24}$")
SANDBOX_HEADER = "X-Chat-Sandbox"
SEND_OPERATIONS = ("send_message", "send_file_message")
CREATE_OPERATIONS = ("create_chat", "create_purchase_request_chat", "create_support_chat")
# with this many users of role `user`, a fixture's last one is kept for the rate-limit rule
FIXTURE_SPARE_FROM = 4
# what one rule may send and open as one user (the rate-limit rules aside)
HEADROOM = {"messages": 8, "chats": 8}


class SetupError(Exception):
    """The kit cannot run against this target as asked (the message is the one line)."""


def succeeded(reply: Reply, what: str) -> Reply:
    """`reply`, if it is a success (any 2xx): a step a rule takes for granted."""
    if not 200 <= reply.status < 300:
        answer = f"{reply.exchange.line} answered {reply.status}"
        raise RuleFailed(f"{what}: {answer}: {reply.exchange.response_body[:300]}")
    return reply


@dataclass
class Actor:
    """One user of the target, with its token and the REST calls rules make as it."""

    id: str
    role: str
    name: str
    token: str
    rest: Rest
    sends: list[float] = field(default_factory=list)
    chats_made: list[float] = field(default_factory=list)

    def __str__(self) -> str:
        return self.name

    async def request(self, method: str, path: str, **kwargs: Any) -> Reply:
        reply = await self.rest.request(method, path, token=self.token, actor=self.name, **kwargs)
        self._count(reply, kwargs.get("json", NOTHING))
        return reply

    def _count(self, reply: Reply, body: Any) -> None:
        if reply.status != 201:
            return
        now = time.monotonic()
        operation = reply.exchange.operation
        if operation in SEND_OPERATIONS:
            self.sends.append(now)
        elif operation in CREATE_OPERATIONS:
            self.chats_made.append(now)
            if isinstance(body, dict) and "initialMessage" in body:
                self.sends.append(now)

    def used(self, window_s: float) -> int:
        """How much of its allowances the kit used in the last window."""
        since = time.monotonic() - window_s
        return sum(t > since for t in self.sends) + sum(t > since for t in self.chats_made)

    def free_at(self, kind: str, limit: int, window_s: float) -> float:
        """When (monotonic) this user has room for `HEADROOM[kind]` more of `kind`."""
        now = time.monotonic()
        times = self.sends if kind == "messages" else self.chats_made
        recent = sorted(t for t in times if t > now - window_s)
        excess = len(recent) - max(limit - HEADROOM[kind], 0)
        return now if excess <= 0 else recent[excess - 1] + window_s

    async def get(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("POST", path, **kwargs)

    async def put(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("PUT", path, **kwargs)

    async def patch(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("PATCH", path, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("DELETE", path, **kwargs)

    # --- steps rules take for granted: each must succeed (any 2xx) -----------------------

    async def done(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        """The `data` of a call that must succeed, whatever its 2xx status."""
        return succeeded(await self.request(method, path, **kwargs), what).data

    async def group(self, *others: Actor, title: str = "conformance group") -> dict[str, Any]:
        body = {"participantIds": [o.id for o in others], "type": "group", "title": title}
        data = await self.done("POST", "/api/chat", "creating a group chat", json=body)
        return dict(data["chat"])

    async def direct(self, other: Actor) -> dict[str, Any]:
        data = await self.done(
            "POST", "/api/chat", "opening a direct chat", json={"participantIds": [other.id]}
        )
        return dict(data["chat"])

    async def send(self, chat_id: str, content: str = "hello", **extra: Any) -> Reply:
        return await self.post(f"/api/chat/{chat_id}/messages", json={"content": content, **extra})

    async def sent(self, chat_id: str, content: str = "hello", **extra: Any) -> dict[str, Any]:
        body = {"content": content, **extra}
        data = await self.done(
            "POST", f"/api/chat/{chat_id}/messages", "sending a message", json=body
        )
        return dict(data["message"])

    async def send_file(self, chat_id: str, form: Form) -> Reply:
        return await self.post(f"/api/chat/{chat_id}/messages/file", form=form)

    async def info(self, chat_id: str) -> dict[str, Any]:
        data = await self.done("GET", f"/api/chat/{chat_id}/info", "reading the chat's info")
        return dict(data["chat"])

    async def history(self, chat_id: str, **params: Any) -> list[dict[str, Any]]:
        query = {"limit": 100, **params}
        data = await self.done(
            "GET", f"/api/chat/{chat_id}/messages", "reading the history", params=query
        )
        return list(data["messages"])

    async def listed(self, **params: Any) -> list[dict[str, Any]]:
        query = {"limit": 100, **params}
        data = await self.done("GET", "/api/chat", "listing chats", params=query)
        return list(data["chats"])

    async def mark_read(self, chat_id: str, body: Any = NOTHING) -> Reply:
        return await self.patch(f"/api/chat/{chat_id}/messages/read", json=body)

    async def stats(self) -> dict[str, int]:
        data = await self.done("GET", "/api/chat/stats", "reading the stats")
        return dict(data)


class World:
    """Where the kit's users come from; subclasses say how."""

    mode = ""

    def __init__(self, rest: Rest) -> None:
        self.rest = rest
        self.missing: dict[str, str] = {}

    def lacks(self, capability: str) -> str | None:
        """Why the world cannot offer `capability` (None: it can)."""
        return self.missing.get(capability)

    async def start(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        """Let go of what the run made on the target."""

    async def users(
        self, count: int, role: str = "user", apart_from: Collection[str] = ()
    ) -> list[Actor]:
        """`count` users of `role`, none of them one of `apart_from` (ids a rule already has)."""
        raise NotImplementedError

    async def spare(self) -> Actor:
        """A user of role `user` with its whole message allowance, used by no other rule."""
        raise NotImplementedError

    async def banned(self, role: str) -> Actor:
        raise NotRun(self.lacks(RESET) or "this world cannot ban users")

    def everyone(self) -> list[tuple[Actor, str]]:
        """Every user of the world with its status, when the kit made them all."""
        raise NotRun(self.lacks(RESET) or "the kit does not know every user of this world")

    async def advance(self, seconds: float) -> None:
        raise NotRun(self.lacks(CLOCK) or "the clock cannot be moved")

    def describe(self) -> dict[str, Any]:
        return {"mode": self.mode, "missing": dict(self.missing)}


class DevWorld(World):
    mode = "dev-endpoints"

    def __init__(self, rest: Rest, sandbox: str | None = None) -> None:
        super().__init__(rest)
        self.sandbox = sandbox or f"conformance-{secrets.token_hex(4)}"
        self.made: Counter[str] = Counter()
        self.roster: list[tuple[Actor, str]] = []
        self.created = False

    @property
    def headers(self) -> dict[str, str]:
        return {SANDBOX_HEADER: self.sandbox}

    async def dev(self, method: str, path: str, what: str, **kwargs: Any) -> Reply:
        reply = await self.rest.request(
            method, f"/api/dev/{path}", headers=self.headers, actor="kit", **kwargs
        )
        return succeeded(reply, what)

    async def start(self) -> None:
        probe = await self.rest.request("GET", "/api/dev/sandboxes", check=False)
        if probe.status != 200:
            raise SetupError(
                "the target has no dev endpoints (GET /api/dev/sandboxes answered "
                f"{probe.status}): run with --fixture USERS.json"
            )
        try:
            await self.dev("POST", "reset", "emptying the kit's sandbox")
        except RuleFailed as exc:
            self.missing[RESET] = f"the target's reset failed: {exc}"
        clock = await self.rest.request("GET", "/api/dev/clock", headers=self.headers, check=False)
        if clock.status != 200:
            self.missing[CLOCK] = f"GET /api/dev/clock answered {clock.status}"

    async def close(self) -> None:
        if self.created:
            await self.rest.request("DELETE", f"/api/dev/sandboxes/{self.sandbox}", check=False)

    async def make(self, role: str, status: str = "active") -> Actor:
        self.made[role] += 1
        name = (
            f"{role}-{self.made[role]}"
            if status == "active"
            else f"{role}-{self.made[role]}-banned"
        )
        body = {"name": name, "role": role, **({"status": status} if status != "active" else {})}
        reply = await self.dev("POST", "users", f"creating a {role}", json=body)
        self.created = True
        actor = Actor(reply.data["user"]["_id"], role, name, reply.data["token"], self.rest)
        self.roster.append((actor, status))
        return actor

    def everyone(self) -> list[tuple[Actor, str]]:
        if RESET in self.missing:
            raise NotRun(self.missing[RESET])
        return list(self.roster)

    async def users(
        self, count: int, role: str = "user", apart_from: Collection[str] = ()
    ) -> list[Actor]:
        return [await self.make(role) for _ in range(count)]

    async def spare(self) -> Actor:
        return await self.make("user")

    async def banned(self, role: str) -> Actor:
        return await self.make(role, status="banned")

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "sandbox": self.sandbox}

    async def advance(self, seconds: float) -> None:
        if CLOCK in self.missing:
            raise NotRun(self.missing[CLOCK])
        await self.dev(
            "POST", "clock", "moving the clock", json={"advanceSeconds": int(seconds + 0.999)}
        )


@dataclass(frozen=True)
class FixtureUser:
    id: str
    role: str
    token: str
    name: str


def read_fixture(path: Path) -> list[FixtureUser]:
    """The users of a fixture file (see docs/conformance.md), or SetupError saying what is off."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SetupError(f"cannot read the fixture {path}: {exc}") from None
    entries = data.get("users") if isinstance(data, Mapping) else None
    if not isinstance(entries, list) or not entries:
        raise SetupError(f'{path}: expected {{"users": [{{"id", "role", "token"}}, ...]}}')
    users = []
    for index, entry in enumerate(entries):
        where = f"{path}: users[{index}]"
        if not isinstance(entry, Mapping):
            raise SetupError(f"{where} is not an object")
        user_id, role, token = entry.get("id"), entry.get("role"), entry.get("token")
        if not isinstance(user_id, str) or not OBJECT_ID.match(user_id):
            raise SetupError(f"{where}: id must be a 24-hex user id")
        if role not in ROLES:
            raise SetupError(f"{where}: role must be one of {', '.join(ROLES)}")
        if not isinstance(token, str) or not token:
            raise SetupError(f"{where}: token must be the user's bearer token")
        name = entry.get("name")
        label = name if isinstance(name, str) and name else f"{role}-{index + 1}"
        users.append(FixtureUser(user_id, role, token, label))
    if len({u.id for u in users}) != len(users):
        raise SetupError(f"{path}: a user is listed twice")
    return users


class FixtureWorld(World):
    mode = "fixture"

    def __init__(self, rest: Rest, fixture: list[FixtureUser], window_s: float = 60.0) -> None:
        super().__init__(rest)
        self.actors = [Actor(u.id, u.role, u.name, u.token, rest) for u in fixture]
        self.window_s = window_s
        self.limits = {"messages": 20, "chats": 60}
        self.waited_s = 0.0
        self.missing[CLOCK] = (
            "the target's clock cannot be moved (a fixture run uses no dev endpoint)"
        )
        self.missing[RESET] = (
            "needs a world whose every user the kit knows (a sandbox of its own with "
            "POST /api/dev/reset); a fixture run uses no dev endpoint"
        )
        plain = self.of_role("user")
        self.kept_apart = plain[-1] if len(plain) >= FIXTURE_SPARE_FROM else None
        if not self.of_role("admin"):
            self.missing[ADMIN] = "the fixture has no user of role admin"
        if not self.of_role("support") and not self.of_role("admin"):
            self.missing[SUPPORT] = "the fixture has no user of role support or admin"

    def of_role(self, role: str) -> list[Actor]:
        return [a for a in self.actors if a.role == role]

    async def start(self) -> None:
        for actor in self.actors:
            reply = await self.rest.request(
                "GET", "/api/chat/config", token=actor.token, check=False
            )
            if reply.status != 200:
                answer = f"GET /api/chat/config with its token answered {reply.status}"
                raise SetupError(f"fixture user {actor.name}: {answer}")

    def set_allowances(self, messages: int, chats: int, window_s: float) -> None:
        """The target's limits per user, which the kit keeps its use of the users within."""
        self.limits = {"messages": messages, "chats": chats}
        self.window_s = window_s

    async def with_room(self, actors: list[Actor]) -> list[Actor]:
        """`actors`, once each has room for one rule's messages and chats."""
        ready = max(
            a.free_at(kind, limit, self.window_s)
            for a in actors
            for kind, limit in self.limits.items()
        )
        delay = ready - time.monotonic()
        if delay > 0:
            self.waited_s += delay
            await asyncio.sleep(delay)
        return actors

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "waitedSeconds": round(self.waited_s, 1)}

    async def users(
        self, count: int, role: str = "user", apart_from: Collection[str] = ()
    ) -> list[Actor]:
        pool = [
            a for a in self.of_role(role) if a is not self.kept_apart and a.id not in apart_from
        ]
        if len(pool) < count:
            kept = (
                " (one more is kept for the rate-limit rule)"
                if role == "user" and self.kept_apart
                else ""
            )
            more = " more" if apart_from else ""
            raise NotRun(
                f"needs {count}{more} users of role {role}; the fixture has {len(pool)}{kept}"
            )
        return await self.with_room(sorted(pool, key=lambda a: a.used(self.window_s))[:count])

    async def spare(self) -> Actor:
        if self.kept_apart is None:
            raise NotRun(
                f"needs a user of role user that no other rule uses: give the fixture at least "
                f"{FIXTURE_SPARE_FROM} users of role user"
            )
        return self.kept_apart
