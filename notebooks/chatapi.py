"""Named calls over the Chat API, for the walkthrough notebooks.

Every REST operation of `openapi.yaml` is a method named exactly like its `operationId`
(`send_message`, `list_chat_events`, ...): the dev operations live on `ChatAPI`, the
others on `User`, which holds one user's token. Each call returns a `Response` whose
display is the request line, the status and the JSON body with every id, token and
timestamp replaced by a stable placeholder (`<chat 1>`, `<user Alice>`, `<time>`), so
that the notebooks' outputs read the same on every run and every machine.

`Server` starts `python -m impl serve --port N --no-demo` in a child process on a free
port; `Live` is one user's Socket.IO connection (python-socketio's `AsyncClient`) that
records every event it receives.
"""

from __future__ import annotations

import asyncio
import atexit
import copy
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import socketio

from impl.settings import ENV_VARS

REPO = Path(__file__).resolve().parent.parent

# The walkthrough server runs without any variable the server reads, so that nothing in
# the environment points it elsewhere or changes the rules it demonstrates.
_SERVER_ENV_DROPPED = ENV_VARS


# --------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    """The reference server in a child process, on the embedded store, without demo users."""

    def __init__(self, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.log = tempfile.NamedTemporaryFile(prefix="chat-server-", suffix=".log")  # noqa: SIM115
        self._output = ""

    def start(self, timeout: float = 30.0) -> Server:
        env = {k: v for k, v in os.environ.items() if k not in _SERVER_ENV_DROPPED}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        env.setdefault("LOG_LEVEL", "warning")
        env.update(self.env)
        command = [sys.executable, "-m", "impl", "serve", "--port", str(self.port), "--no-demo"]
        self.process = subprocess.Popen(  # noqa: S603
            command, cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )
        atexit.register(self.stop)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited at start:\n{self.output()}")
            try:
                with urllib.request.urlopen(self.url + "/openapi.json", timeout=1):  # noqa: S310
                    return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the server did not answer within {timeout} s:\n{self.output()}")

    def output(self) -> str:
        """The end of what the server printed (kept after `stop`)."""
        if not self.log.closed:
            self.log.flush()
            self._output = Path(self.log.name).read_text(errors="replace")[-4000:]
        return self._output

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if not self.log.closed:
            self.output()
            self.log.close()  # a temporary file: closing removes it

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<Server python -m impl serve --no-demo: {state} on a free local port>"


# --------------------------------------------------------------------------- masking

HEX_ID = re.compile(r"\b[0-9a-f]{24}\b")
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
JWT = re.compile(r"eyJ[\w-]*\.[\w-]*\.[\w-]*")

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
        """The text with ids, tokens and timestamps replaced by placeholders."""
        text = JWT.sub("<token>", text)
        text = TIMESTAMP.sub("<time>", text)
        return HEX_ID.sub(lambda m: self.register(m.group(0), "id"), text)

    def mask(self, value: Any, key: str | None = None, cut: int = 100) -> Any:
        """A copy of a JSON value fit to print: placeholders, long strings shortened."""
        if isinstance(value, dict):
            return {self.text(k): self.mask(v, k, cut) for k, v in value.items()}
        if isinstance(value, list):
            return [self.mask(v, key, cut) for v in value]
        if isinstance(value, str):
            if key == "token":
                return "<token>"
            masked = self.text(value)
            if len(masked) > cut:
                return f"{masked[: cut - 12]}... ({len(value)} characters)"
            return masked
        return value

    def dumps(self, value: Any, indent: int | None = 2) -> str:
        return json.dumps(self.mask(value), indent=indent, ensure_ascii=False)


def _id(thing: Any) -> str:
    """An id from an id string, a `User`, a `Response` of one object or a dict with `_id`."""
    if isinstance(thing, str):
        return thing
    if isinstance(thing, User):
        if thing.id is None:
            raise ValueError("this user has no id")
        return thing.id
    if isinstance(thing, Response):
        data = thing.data
        for key in ("chat", "message", "user"):
            if key in data:
                return str(data[key]["_id"])
        raise ValueError("the response holds no chat, message or user")
    if isinstance(thing, dict):
        return str(thing["_id"])
    raise TypeError(f"cannot take an id from {type(thing).__name__}")


# --------------------------------------------------------------------------- responses


class Response:
    """One HTTP exchange: status, headers and the parsed body, displayed masked."""

    def __init__(
        self,
        api: ChatAPI,
        method: str,
        path: str,
        status: int,
        headers: Any,
        raw: bytes,
    ) -> None:
        self.api = api
        self.method = method
        self.path = path
        self.status = status
        self.headers = headers
        self.raw = raw
        self.content_type = headers.get("Content-Type", "").split(";")[0].strip()
        self.body: Any = None
        if self.content_type.endswith("json") and raw:
            self.body = json.loads(raw)
            api.aliases.collect(self.body)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def data(self) -> Any:
        """The `data` member of a success envelope."""
        assert isinstance(self.body, dict) and self.body.get("success") is True, self.text()
        return self.body["data"]

    @property
    def code(self) -> str | None:
        """The machine `code` of a problem document."""
        return self.body.get("code") if isinstance(self.body, dict) else None

    def header(self, name: str) -> str | None:
        value: str | None = self.headers.get(name)
        return value

    def status_line(self) -> str:
        try:
            phrase = HTTPStatus(self.status).phrase
        except ValueError:
            phrase = ""
        return f"{self.method} {self.api.aliases.text(self.path)}  ->  {self.status} {phrase}"

    def text(self, *headers: str) -> str:
        lines = [self.status_line()]
        for name in headers:
            value = self.headers.get(name)
            if value is not None:
                lines.append(f"{name}: {self.api.aliases.text(value)}")
        if self.body is not None:
            lines.append(self.api.aliases.dumps(self.body))
        elif self.raw:
            lines.append(f"<{len(self.raw)} bytes of {self.content_type or 'unknown type'}>")
        return "\n".join(lines)

    def show(self, *headers: str) -> None:
        """Print the exchange, with the named response headers."""
        print(self.text(*headers))

    def expect(self, status: int, code: str | None = None) -> Response:
        """Assert the status (and the problem `code`), then return self for display."""
        assert self.status == status, self.text()
        if code is not None:
            assert self.content_type == "application/problem+json", self.content_type
            assert self.body["success"] is False and self.code == code, self.text()
        return self

    def __repr__(self) -> str:
        return self.text()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.text())


# --------------------------------------------------------------------------- REST


_current: Aliases | None = None  # the aliases of the latest ChatAPI, used by `table`


class ChatAPI:
    """A client of one server: raw requests, the dev operations, users."""

    def __init__(self, base_url: str) -> None:
        global _current
        self.base_url = base_url.rstrip("/")
        self.aliases = _current = Aliases()
        self.session: aiohttp.ClientSession | None = None
        self.sandbox: str | None = None
        self.root = self  # the client whose session every sandbox view shares

    def in_sandbox(self, name: str) -> ChatAPI:
        """The same client whose dev calls name sandbox `name` (`X-Chat-Sandbox`): users it
        creates get tokens of that sandbox, and reset, clock, faults and the journal are
        that sandbox's."""
        other = copy.copy(self)
        other.sandbox = name
        return other

    async def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        query: dict[str, Any] | None = None,
        json_body: Any = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        root = self.root
        if root.session is None:
            root.session = aiohttp.ClientSession()
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        if query:
            clean = {k: _query_value(v) for k, v in query.items() if v is not None}
            path = f"{path}?{urlencode(clean)}" if clean else path
        kwargs: dict[str, Any] = {"headers": sent}
        if json_body is not None:
            kwargs["json"] = json_body
        if data is not None:
            kwargs["data"] = data
        if json_body is None and data is None:
            # aiohttp labels an empty body `application/octet-stream`; send no type at all.
            kwargs["skip_auto_headers"] = ("Content-Type",)
        async with root.session.request(method, self.base_url + path, **kwargs) as r:
            raw = await r.read()
            return Response(self, method, path, r.status, r.headers, raw)

    # The dev operations (exist on the embedded store).

    async def dev(self, method: str, path: str, json_body: Any = None, **kw: Any) -> Response:
        """A dev call, in this client's sandbox when it has one."""
        headers = {"X-Chat-Sandbox": self.sandbox} if self.sandbox else {}
        return await self.request(method, path, json_body=json_body, headers=headers, **kw)

    async def create_dev_user(self, name: str, **fields: Any) -> Response:
        """POST /api/dev/users {name, role?, email?, status?} -> 201 {user, token}."""
        r = await self.dev("POST", "/api/dev/users", {"name": name, **fields})
        if r.status == 201:
            self.aliases.name(r.data["user"]["_id"], f"user {name}")
        return r

    async def update_dev_user(self, user: Any, **changes: Any) -> Response:
        """PATCH /api/dev/users/{id} {role?, status?}."""
        return await self.dev("PATCH", f"/api/dev/users/{_id(user)}", changes)

    async def advance_dev_clock(self, seconds: int) -> Response:
        """POST /api/dev/clock {advanceSeconds}: every time rule follows, token expiry aside."""
        return await self.dev("POST", "/api/dev/clock", {"advanceSeconds": seconds})

    async def reset_dev_store(self) -> Response:
        """POST /api/dev/reset: empties every collection, users included."""
        return await self.dev("POST", "/api/dev/reset")

    # The contract-testing kit: sandboxes, injected faults, the request journal.

    async def list_dev_sandboxes(self) -> Response:
        """GET /api/dev/sandboxes -> {sandboxes: [{name, createdAt}]}."""
        return await self.dev("GET", "/api/dev/sandboxes")

    async def delete_dev_sandbox(self, name: str) -> Response:
        """DELETE /api/dev/sandboxes/{name}: its sockets dropped, its data gone."""
        return await self.dev("DELETE", f"/api/dev/sandboxes/{name}")

    async def create_dev_fault(self, operation_id: str, **fields: Any) -> Response:
        """POST /api/dev/faults {operationId, status?, delayMs?, times?} -> 201 {fault}."""
        return await self.dev("POST", "/api/dev/faults", {"operationId": operation_id, **fields})

    async def list_dev_faults(self) -> Response:
        """GET /api/dev/faults -> {faults}: pending, with the calls each has left."""
        return await self.dev("GET", "/api/dev/faults")

    async def clear_dev_faults(self) -> Response:
        """DELETE /api/dev/faults -> {cleared}."""
        return await self.dev("DELETE", "/api/dev/faults")

    async def disconnect_dev_sockets(self, user: Any = None) -> Response:
        """POST /api/dev/sockets/disconnect {userId?} -> {disconnected}."""
        body = {"userId": _id(user)} if user is not None else None
        return await self.dev("POST", "/api/dev/sockets/disconnect", body)

    async def list_dev_requests(self, **query: Any) -> Response:
        """GET /api/dev/requests?operationId=&limit= -> {requests}, newest first."""
        return await self.dev("GET", "/api/dev/requests", query=query)

    async def clear_dev_requests(self) -> Response:
        """DELETE /api/dev/requests -> {cleared}."""
        return await self.dev("DELETE", "/api/dev/requests")

    # Users.

    def user_from(self, created: Response) -> User:
        """The `User` of a `create_dev_user` response."""
        user = created.data["user"]
        return User(self, user["_id"], created.data["token"], user["name"], user["role"])

    async def new_user(self, name: str, role: str = "user", **fields: Any) -> User:
        """Create a user through the dev endpoint and return it, token and all."""
        created = (await self.create_dev_user(name, role=role, **fields)).expect(201)
        return self.user_from(created)

    def anonymous(self) -> User:
        """A caller without any `Authorization` header."""
        return User(self, None, None, "anonymous", "none")

    def with_token(self, token: str, name: str = "someone") -> User:
        """A caller presenting an arbitrary bearer token."""
        return User(self, None, token, name, "unknown")

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class User:
    """One user's side of the REST API: every non-dev operation, named by its operationId."""

    def __init__(
        self, api: ChatAPI, user_id: str | None, token: str | None, name: str, role: str
    ) -> None:
        self.api = api
        self.id = user_id
        self.token = token
        self.name = name
        self.role = role

    def __repr__(self) -> str:
        return f"<User {self.name} ({self.role})>"

    async def request(self, method: str, path: str, **kwargs: Any) -> Response:
        return await self.api.request(method, path, token=self.token, **kwargs)

    # Chats.

    async def create_chat(
        self,
        participants: Iterable[Any],
        type: str | None = None,  # the field's name on the wire
        **fields: Any,
    ) -> Response:
        body: dict[str, Any] = {"participantIds": [_id(p) for p in participants], **fields}
        if type is not None:
            body["type"] = type
        return await self.request("POST", "/api/chat", json_body=body)

    async def list_chats(self, **query: Any) -> Response:
        """GET /api/chat?page&limit&type&archived."""
        return await self.request("GET", "/api/chat", query=query)

    async def create_purchase_request_chat(
        self, purchase_request_id: str, seller: Any, **fields: Any
    ) -> Response:
        body = {"purchaseRequestId": purchase_request_id, "sellerId": _id(seller), **fields}
        return await self.request("POST", "/api/chat/purchase-request", json_body=body)

    async def create_support_chat(self, **fields: Any) -> Response:
        """POST /api/chat/support {subject?, initialMessage?}."""
        return await self.request("POST", "/api/chat/support", json_body=fields)

    async def get_chat_stats(self) -> Response:
        return await self.request("GET", "/api/chat/stats")

    async def get_chat_config(self) -> Response:
        return await self.request("GET", "/api/chat/config")

    async def get_chat_info(self, chat: Any) -> Response:
        return await self.request("GET", f"/api/chat/{_id(chat)}/info")

    async def archive_chat(self, chat: Any, archived: bool | None = None) -> Response:
        """Without `archived` the flag toggles; with it, it is set."""
        body = None if archived is None else {"archived": archived}
        return await self.request("PUT", f"/api/chat/{_id(chat)}/archive", json_body=body)

    async def add_participant(self, chat: Any, user: Any) -> Response:
        body = {"userId": _id(user)}
        return await self.request("POST", f"/api/chat/{_id(chat)}/participants", json_body=body)

    async def remove_participant(self, chat: Any, user: Any) -> Response:
        return await self.request("DELETE", f"/api/chat/{_id(chat)}/participants/{_id(user)}")

    # Messages.

    async def list_messages(self, chat: Any, **query: Any) -> Response:
        """GET /api/chat/{id}/messages?page&limit&before (newest first)."""
        return await self.request("GET", f"/api/chat/{_id(chat)}/messages", query=query)

    async def send_message(self, chat: Any, content: str, **fields: Any) -> Response:
        """POST /api/chat/{id}/messages {content, type?, replyToMessageId?, metadata?,
        clientMessageId?} (the wire names)."""
        body = {"content": content, **fields}
        return await self.request("POST", f"/api/chat/{_id(chat)}/messages", json_body=body)

    async def send_file_message(
        self,
        chat: Any,
        filename: str,
        data: bytes,
        content_type: str = "application/octet-stream",
        **fields: str,
    ) -> Response:
        """POST /api/chat/{id}/messages/file, multipart with the file in `file` and the
        optional text fields `content` (a caption), `replyToMessageId`, `clientMessageId`."""
        form = aiohttp.FormData(quote_fields=False)  # the file name as given, not %-encoded
        form.add_field("file", data, filename=filename, content_type=content_type)
        for name, value in fields.items():
            form.add_field(name, value)
        return await self.request("POST", f"/api/chat/{_id(chat)}/messages/file", data=form)

    async def mark_messages_read(
        self, chat: Any, message_ids: Iterable[Any] | None = None
    ) -> Response:
        """No ids: every message of the chat."""
        body = None if message_ids is None else {"messageIds": [_id(m) for m in message_ids]}
        return await self.request("PATCH", f"/api/chat/{_id(chat)}/messages/read", json_body=body)

    async def edit_message(self, chat: Any, message: Any, content: str) -> Response:
        path = f"/api/chat/{_id(chat)}/messages/{_id(message)}"
        return await self.request("PUT", path, json_body={"content": content})

    async def delete_message(self, chat: Any, message: Any) -> Response:
        return await self.request("DELETE", f"/api/chat/{_id(chat)}/messages/{_id(message)}")

    async def download_attachment(self, url: str, **headers: str) -> Response:
        """GET an attachment's `url` (`/api/chat/{id}/attachments/{fileId}`)."""
        sent = {k.replace("_", "-"): v for k, v in headers.items()}
        return await self.request("GET", url, headers=sent)

    async def list_chat_events(self, chat: Any, **query: Any) -> Response:
        """GET /api/chat/{id}/events?afterSeq&limit (oldest first)."""
        return await self.request("GET", f"/api/chat/{_id(chat)}/events", query=query)

    # Notifications.

    async def list_notifications(self, **query: Any) -> Response:
        return await self.request("GET", "/api/notifications", query=query)

    async def mark_notifications_read(self, ids: Iterable[Any] | None = None) -> Response:
        body = None if ids is None else {"ids": [_id(i) for i in ids]}
        return await self.request("PATCH", "/api/notifications/read", json_body=body)

    # Real time.

    async def connect(self, refused_ok: bool = False) -> Live:
        """Open this user's Socket.IO connection (the token in the connect `auth`). With
        `refused_ok`, a refused connection is returned with `refusal` set instead of raising."""
        live = Live(self)
        try:
            await live.connect()
        except socketio.exceptions.ConnectionError:
            if not refused_ok:
                raise
        return live


# --------------------------------------------------------------------------- Socket.IO


class Live:
    """One Socket.IO connection of one user, keeping every event it receives in order."""

    def __init__(self, user: User) -> None:
        self.user = user
        self.aliases = user.api.aliases
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, Any]] = []
        self._taken = 0
        self._arrived = asyncio.Event()
        self.refusal: Any = None  # what `connect_error` carried, when the server refused
        self.sio.on("*", self._on_event)
        self.sio.on("connect_error", self._on_connect_error)

    async def _on_connect_error(self, data: Any = None) -> None:
        self.refusal = data

    async def _on_event(self, event: str, data: Any = None) -> None:
        self.aliases.collect(data)
        self.events.append((event, data))
        self._arrived.set()

    async def connect(self) -> None:
        await self.sio.connect(
            self.user.api.base_url,
            auth={"token": self.user.token},
            transports=["websocket"],
            wait_timeout=5,
        )

    async def disconnect(self) -> None:
        await self.sio.disconnect()

    async def closed(self, within: float = 5.0) -> None:
        """Wait until the server has closed this connection."""
        await asyncio.wait_for(self.sio.wait(), within)

    @property
    def connected(self) -> bool:
        return bool(self.sio.connected)

    async def call(self, event: str, payload: Any) -> Any:
        """Emit a client event and return its acknowledgement."""
        return await self.sio.call(event, payload, timeout=5)

    async def wait(self, event: str, within: float = 5.0) -> Any:
        """The payload of the next not yet taken event; it must be `event`."""
        deadline = asyncio.get_running_loop().time() + within
        while self._taken >= len(self.events):
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"{self.user.name} got no {event!r} in time")
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                continue
        name, payload = self.events[self._taken]
        self._taken += 1
        assert name == event, f"{self.user.name} expected {event!r}, got {name!r}"
        return payload

    async def nothing_more(self, seconds: float = 0.3) -> None:
        """Assert that no further event arrives within a short while."""
        await asyncio.sleep(seconds)
        extra = [name for name, _ in self.events[self._taken :]]
        assert not extra, f"{self.user.name} got unexpected events: {extra}"

    def log(self) -> list[str]:
        """One line per event received so far: name, seq and the payload's gist."""
        return [describe(name, payload, self.aliases) for name, payload in self.events]

    def __repr__(self) -> str:
        state = "connected" if self.connected else "disconnected"
        return f"<Live {self.user.name}: {state}, {len(self.events)} events received>"


def describe(event: str, payload: Any, aliases: Aliases, cut: int = 18) -> str:
    """One event in a line: `#4 new-message Alice: 'Price: 120 EUR'` and the like."""
    p = payload if isinstance(payload, dict) else {}

    def who(user_id: Any) -> str:
        return re.sub(r"<user (.+)>", r"\1", aliases.text(str(user_id)))

    def quote(text: str) -> str:
        return repr(text if len(text) <= cut else text[: cut - 3] + "...")

    parts = [f"#{p['seq']}" if "seq" in p else "--", event]
    message = p.get("message")
    if isinstance(message, dict):
        parts.append(f"{who(message['senderId'])}: {quote(message.get('content', ''))}")
    if "messageId" in p:
        parts.append(aliases.text(str(p["messageId"])))
    if "messageIds" in p:
        parts.append(f"by {who(p['userId'])}: {len(p['messageIds'])} message(s)")
    if "userIds" in p:
        parts.append(", ".join(who(u) for u in p["userIds"]))
    if event == "participant-removed":
        parts.append(who(p.get("userId")))
    if event == "user-typing":
        parts.append(f"{who(p.get('userId'))} {'starts' if p.get('isTyping') else 'stops'}")
    return " ".join(parts)


def side_by_side(*lives: Live, width: int = 44) -> None:
    """Print the events each connection received, one column per user."""
    columns = [[f"{live.user.name}'s socket:", *live.log()] for live in lives]
    height = max(len(c) for c in columns)
    for row in range(height):
        cells = [c[row] if row < len(c) else "" for c in columns]
        print("  ".join(cell[:width].ljust(width) for cell in cells).rstrip())


def table(rows: Iterable[Iterable[Any]], header: Iterable[str]) -> None:
    """A plain text table; ids, tokens and timestamps in cells are shown as placeholders."""
    mask = _current.text if _current is not None else str
    grid = [[str(c) for c in header]] + [[mask(str(c)) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in grid) for i in range(len(grid[0]))]
    for n, r in enumerate(grid):
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


# --------------------------------------------------------------------------- plots


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
