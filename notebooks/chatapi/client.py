"""The REST API by name: `ChatAPI` (a client of one server, with the dev operations) and
`User` (one user's token, with every other operation), each method named exactly like the
`operationId` it calls."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

import aiohttp
import socketio

from .display import Aliases
from .responses import Response
from .sockets import Live


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


class ChatAPI:
    """A client of one server: raw requests, the dev operations, users."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.aliases = Aliases.latest = Aliases()
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

    async def list_dev_users(self, **query: Any) -> Response:
        """GET /api/dev/users?limit= -> {users: [{user, token}]}, oldest first, fresh tokens."""
        return await self.dev("GET", "/api/dev/users", query=query)

    async def update_dev_user(self, user: Any, **changes: Any) -> Response:
        """PATCH /api/dev/users/{id} {role?, status?}."""
        return await self.dev("PATCH", f"/api/dev/users/{_id(user)}", changes)

    async def read_dev_clock(self) -> Response:
        """GET /api/dev/clock: the sandbox's time now (real time plus every advance)."""
        return await self.dev("GET", "/api/dev/clock")

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
        """GET /api/dev/requests?operationId=&kind=&event=&userId=&limit= -> {requests},
        newest first (REST requests and Socket.IO traffic)."""
        return await self.dev("GET", "/api/dev/requests", query=query)

    async def clear_dev_requests(self) -> Response:
        """DELETE /api/dev/requests -> {cleared}."""
        return await self.dev("DELETE", "/api/dev/requests")

    async def export_dev_requests_har(self) -> Response:
        """GET /api/dev/requests.har -> the sandbox's REST exchanges as HAR 1.2 (no envelope)."""
        return await self.dev("GET", "/api/dev/requests.har")

    async def set_dev_provider_state(
        self, state: str, action: str = "setup", **params: Any
    ) -> Response:
        """POST /api/dev/provider-states {state, params, action}: what a Pact verifier
        posts; a setup answers the values its interaction needs."""
        body = {"state": state, "params": params, "action": action}
        return await self.dev("POST", "/api/dev/provider-states", body)

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
