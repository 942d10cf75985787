"""Socket.IO event handlers: the handshake, rooms, typing indicators.

One small function per client event of asyncapi.yaml. Every handler answers through its
acknowledgement, `{success: true}` or `{success: false, error: {code, detail}}`; nothing a
client sends can raise out of a handler or close its connection: not a payload of the
wrong shape, not extra arguments, not an event named like a reserved one (`connect`,
`disconnect`). Each socket has a small token bucket so that one flooding client is refused
quickly instead of slowing others.

A payload is checked against the event's schema (`room_request`, `chat_request`) before
the handler runs, and a failure is `VALIDATION_FAILED`; the handler gets the chat id. Any
error that is not one of the API's own (`DomainError`) is a fault of the server, not of the
client: it is logged with its traceback and acknowledged as `INTERNAL_ERROR`.

With dev endpoints on, an observer (impl.realtime.observer, the dev kit's socket journal)
hears each connect, each client event with its acknowledgement and, when the event's name,
size or payload broke asyncapi.yaml, why; and each disconnect with its reason.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import socketio
from bson import ObjectId

from impl.domain.access import active_user, member_chat
from impl.domain.effects import Emit, chat_room, user_room
from impl.domain.input_rules import parse_id
from impl.domain.services import Services
from impl.errors import DomainError, RateLimited, Unauthorized, ValidationFailed
from impl.realtime.observer import SocketObserver
from impl.tokens import SANDBOX_CLAIM, claims_of

# The services of the sandbox of a given name, None when there is none.
WorldFinder = Callable[[str], Services | None]

log = logging.getLogger("impl.realtime.sockets")

NAMESPACE = "/"
TYPING_ENTRIES_BEFORE_PRUNE = 10_000

Ack = dict[str, Any]
# A payload checked against an event's schema: the chat id it names.
PayloadRule = Callable[[Any], ObjectId]
Handler = Callable[[str, str, ObjectId], Awaitable[Ack]]


def ok() -> Ack:
    return {"success": True}


def failed(code: str, detail: str) -> Ack:
    return {"success": False, "error": {"code": code, "detail": detail}}


@dataclass
class Bucket:
    """A socket's event allowance: `capacity` at once, refilled at `refill_per_second`."""

    capacity: float
    refill_per_second: float
    tokens: float = field(init=False)
    updated: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.tokens = self.capacity

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(
            self.capacity, self.tokens + (now - self.updated) * self.refill_per_second
        )
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


@dataclass
class TypingThrottle:
    """When each user last had a `typing-start` broadcast in each chat, in server-clock ms.

    A user's entries go when their last socket in this process disconnects, so that
    connections that come and go leave nothing behind."""

    throttle_ms: int
    last: dict[str, dict[str, float]] = field(default_factory=dict)
    entries: int = 0

    def allow_start(self, user_id: str, chat_id: str, now_ms: float) -> bool:
        chats = self.last.get(user_id, {})
        if now_ms - chats.get(chat_id, float("-inf")) < self.throttle_ms:
            return False
        if self.entries >= TYPING_ENTRIES_BEFORE_PRUNE:
            self.prune(now_ms)
        chats = self.last.setdefault(user_id, {})
        self.entries += chat_id not in chats
        chats[chat_id] = now_ms
        return True

    def stop(self, user_id: str, chat_id: str) -> None:
        chats = self.last.get(user_id)
        if chats is not None and chats.pop(chat_id, None) is not None:
            self.entries -= 1
            if not chats:
                del self.last[user_id]

    def drop_user(self, user_id: str) -> None:
        self.entries -= len(self.last.pop(user_id, {}))

    def prune(self, now_ms: float) -> None:
        """Forget entries that no longer throttle anything (typists who never sent a stop)."""
        horizon = now_ms - self.throttle_ms
        kept = {
            user_id: {chat: at for chat, at in chats.items() if at > horizon}
            for user_id, chats in self.last.items()
        }
        self.last = {user_id: chats for user_id, chats in kept.items() if chats}
        self.entries = sum(len(chats) for chats in self.last.values())


def single_payload(args: tuple[Any, ...]) -> Any:
    """The one payload argument an event takes (None when the client sent none)."""
    if len(args) > 1:
        raise ValidationFailed("an event takes one payload argument")
    return args[0] if args else None


def payload_size(data: Any) -> int:
    """Bytes of the payload as compact UTF-8 JSON (binary parts counted by their repr)."""
    try:
        compact = json.dumps(data, default=str, separators=(",", ":"), ensure_ascii=False)
    except RecursionError:
        raise ValidationFailed("payload is nested too deeply") from None
    return len(compact.encode("utf-8", "surrogatepass"))


def room_request(data: Any) -> ObjectId:
    """asyncapi.yaml's `RoomRequest`: the chat id as a string, or exactly `{"chatId": "<id>"}`."""
    if isinstance(data, dict):
        if set(data) != {"chatId"}:
            raise ValidationFailed("payload must be a chat id or exactly {chatId}")
        data = data["chatId"]
    if not isinstance(data, str):
        raise ValidationFailed("payload must be a chat id or {chatId}")
    return parse_id(data, "chatId")


def chat_request(data: Any) -> ObjectId:
    """asyncapi.yaml's `ChatRequest`: exactly `{"chatId": "<id>"}`."""
    if not isinstance(data, dict):
        raise ValidationFailed("payload must be {chatId}")
    return room_request(data)


def refused(code: str, detail: str) -> socketio.exceptions.ConnectionRefusedError:
    """The refusal a client sees as `connect_error`: `message` and `data: {code, detail}`."""
    return socketio.exceptions.ConnectionRefusedError(detail, {"code": code, "detail": detail})


class ChatSockets:
    """`services` is the default world's; a socket whose token was issued in a sandbox
    works with that sandbox's services for as long as it is connected (`services_of`).
    An `observer` (the dev kit's socket journal) hears of connects, client events with
    their acknowledgements, and disconnects."""

    def __init__(
        self,
        sio: socketio.AsyncServer,
        services: Services,
        worlds: WorldFinder | None = None,
        observer: SocketObserver | None = None,
    ) -> None:
        self.sio = sio
        self.services = services
        self.worlds = worlds
        self.observer = observer
        self.socket_services: dict[str, Services] = {}
        self.buckets: dict[str, Bucket] = {}
        self.typing_throttle = TypingThrottle(services.settings.typing_throttle_ms)
        sio.on("connect", self.connect)
        sio.on("disconnect", self.disconnect)
        sio.on("join-chat-room", self.guarded("join-chat-room", self.join, room_request))
        sio.on("leave-chat-room", self.guarded("leave-chat-room", self.leave, room_request))
        sio.on("typing-start", self.guarded("typing-start", self.typing_start, chat_request))
        sio.on("typing-stop", self.guarded("typing-stop", self.typing_stop, chat_request))
        sio.on("*", self.unknown)

    def is_connected(self, sid: str) -> bool:
        """True for a socket past its handshake and not leaving: the state in which the
        `connect` and `disconnect` handlers can only be reached by a client's own event."""
        return bool(self.sio.manager.is_connected(sid, NAMESPACE))

    async def connect(self, sid: str, *args: Any) -> Ack | None:
        if self.is_connected(sid):
            return await self.unknown("connect", sid, *args)
        auth = args[1] if len(args) > 1 else None
        token = auth.get("token") if isinstance(auth, dict) else None
        if not isinstance(token, str) or not token:
            raise refused("UNAUTHORIZED", "connect with auth {token}")
        try:
            claims = claims_of(self.services.settings, token)
            services = self.sandbox_services(claims.get(SANDBOX_CLAIM))
            user = await services.run(active_user, services.store, ObjectId(claims["sub"]))
        except DomainError as exc:
            raise refused(exc.code, str(exc.detail)) from None
        except Exception:
            log.exception("socket handshake failed")
            raise refused("INTERNAL_ERROR", "the connection could not be set up") from None
        self.socket_services[sid] = services
        await self.sio.save_session(sid, {"userId": str(user["_id"]), "sandbox": services.sandbox})
        await self.sio.enter_room(sid, user_room(user["_id"]))
        await services.presence.add(str(user["_id"]), sid)
        settings = self.services.settings
        self.buckets[sid] = Bucket(
            settings.socket_event_burst, settings.socket_event_refill_per_second
        )
        log.info("socket connected sid=%s user=%s sandbox=%s", sid, user["_id"], services.sandbox)
        if self.observer is not None:
            self.observer.connected(sid, services.sandbox, str(user["_id"]))
        return None

    def sandbox_services(self, name: str | None) -> Services:
        """The services of the sandbox a token names (none: the default world)."""
        if name is None:
            return self.services
        found = self.worlds(name) if self.worlds is not None else None
        if found is None or not self.services.settings.dev_enabled:
            raise Unauthorized("token names a sandbox that no longer exists")
        return found

    async def close_world(self, world: Services) -> None:
        """Close every socket bound to a world that is gone (a removed sandbox's; its
        users may already be gone too)."""
        for sid, services in list(self.socket_services.items()):
            if services is world:
                await self.sio.disconnect(sid)

    def services_of(self, sid: str) -> Services:
        return self.socket_services.get(sid, self.services)

    async def disconnect(self, sid: str, *args: Any) -> Ack | None:
        if self.is_connected(sid):
            return await self.unknown("disconnect", sid, *args)
        self.buckets.pop(sid, None)
        services = self.socket_services.pop(sid, self.services)
        user_id = await self.user_of(sid)
        if user_id:
            if not self.has_other_socket(user_id, sid):
                self.typing_throttle.drop_user(user_id)
            await services.presence.remove(user_id, sid)
        reason = args[0] if args else None
        log.info("socket disconnected sid=%s user=%s reason=%s", sid, user_id, reason)
        if self.observer is not None:
            self.observer.disconnected(sid, None if reason is None else str(reason))
        return None

    def has_other_socket(self, user_id: str, sid: str) -> bool:
        """Whether another socket of the user is connected to this process."""
        room = self.sio.manager.get_participants(NAMESPACE, user_room(user_id))
        return any(other != sid for other, _ in room)

    async def unknown(self, event: Any, sid: str, *args: Any) -> Ack:
        if not self.take(sid):
            ack = failed("RATE_LIMITED", "too many events; slow down")
        else:
            ack = failed(
                "UNKNOWN_EVENT", f"{str(event)[:64]!r} is not an event this server accepts"
            )
        self.observe(sid, str(event), args, ack, "not an event of asyncapi.yaml")
        return ack

    def observe(
        self, sid: str, event: str, args: tuple[Any, ...], ack: Ack, violation: str | None
    ) -> None:
        """Tell the observer what a client sent (its one payload, or all its arguments)."""
        if self.observer is not None:
            payload = args[0] if len(args) == 1 else list(args) or None
            self.observer.client_event(sid, event, payload, ack, violation)

    def take(self, sid: str) -> bool:
        bucket = self.buckets.get(sid)
        return bucket is None or bucket.take()

    async def user_of(self, sid: str) -> str | None:
        try:
            session = await self.sio.get_session(sid)
        except KeyError:
            return None
        user_id: str | None = session.get("userId")
        return user_id

    async def allowed_user(self, sid: str) -> str:
        """The socket's user, if still allowed (a ban since the handshake refuses events)."""
        user_id = await self.user_of(sid)
        if user_id is None:
            raise Unauthorized("this socket is not authenticated")
        services = self.services_of(sid)
        await services.run(active_user, services.store, ObjectId(user_id))
        return user_id

    def guarded(
        self, event: str, handler: Handler, rule: PayloadRule
    ) -> Callable[..., Awaitable[Ack]]:
        """`handler` behind the event budget, the size limit, the user check and the
        payload's schema (`rule`); every outcome is an acknowledgement. A payload refused
        by the size limit or the schema is a violation of asyncapi.yaml, and the observer
        hears why."""

        async def run(sid: str, *args: Any) -> Ack:
            violation: str | None = None
            try:
                if not self.take(sid):
                    raise RateLimited("too many events; slow down")
                try:
                    data = self.checked_payload(args)
                    user_id = await self.allowed_user(sid)
                    chat_id = rule(data)
                except ValidationFailed as exc:
                    violation = str(exc.detail)
                    raise
                ack = await handler(sid, user_id, chat_id)
            except DomainError as exc:
                ack = failed(exc.code, str(exc.detail))
            except Exception:
                log.exception("socket event %s from sid=%s failed", handler.__name__, sid)
                ack = failed("INTERNAL_ERROR", "the event could not be handled")
            self.observe(sid, event, args, ack, violation)
            return ack

        return run

    def checked_payload(self, args: tuple[Any, ...]) -> Any:
        """The event's one payload, within the size limit."""
        data = single_payload(args)
        limit = self.services.settings.socket_max_payload_bytes
        if payload_size(data) > limit:
            raise ValidationFailed(
                f"payload is larger than {limit} bytes", code="PAYLOAD_TOO_LARGE"
            )
        return data

    async def require_participant(self, sid: str, user_id: str, chat_id: ObjectId) -> None:
        services = self.services_of(sid)
        await services.run(member_chat, services.store, chat_id, ObjectId(user_id))

    async def join(self, sid: str, user_id: str, chat_id: ObjectId) -> Ack:
        await self.require_participant(sid, user_id, chat_id)
        await self.sio.enter_room(sid, chat_room(chat_id))
        return ok()

    async def leave(self, sid: str, user_id: str, chat_id: ObjectId) -> Ack:
        await self.sio.leave_room(sid, chat_room(chat_id))
        return ok()

    async def typing_start(self, sid: str, user_id: str, chat_id: ObjectId) -> Ack:
        return await self.typing(sid, user_id, chat_id, is_typing=True)

    async def typing_stop(self, sid: str, user_id: str, chat_id: ObjectId) -> Ack:
        return await self.typing(sid, user_id, chat_id, is_typing=False)

    async def typing(self, sid: str, user_id: str, chat_id: ObjectId, is_typing: bool) -> Ack:
        await self.require_participant(sid, user_id, chat_id)
        services = self.services_of(sid)
        if not is_typing:
            self.typing_throttle.stop(user_id, str(chat_id))
        elif not self.typing_throttle.allow_start(
            user_id, str(chat_id), services.clock.now().timestamp() * 1000
        ):
            return ok()
        payload = {
            "chatId": str(chat_id),
            "userId": user_id,
            "isTyping": is_typing,
            "expiresInMs": services.settings.typing_expires_ms,
        }
        # Every socket of the typist, in any process, is skipped: not only this one.
        skip = sorted({sid, *await services.presence.sids(user_id)})
        await services.effects.emit(Emit(chat_room(chat_id), "user-typing", payload, skip))
        return ok()
