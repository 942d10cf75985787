"""Socket.IO event handlers: the handshake, rooms, typing indicators.

One small function per client event of asyncapi.yaml. Every handler answers through its
acknowledgement, `{success: true}` or `{success: false, error: {code, detail}}`; nothing a
client sends can raise out of a handler or close its connection. Each socket has a small
token bucket so that one flooding client is refused quickly instead of slowing others.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import socketio
from bson import ObjectId

from impl.auth import active_user, subject_of
from impl.context import Services
from impl.effects import Emit, chat_room, user_room
from impl.errors import ApiError, Forbidden, NotFound, RateLimited, ValidationFailed
from impl.store import parse_id

log = logging.getLogger("impl.sockets")

MAX_PAYLOAD_BYTES = 16 * 1024
BUCKET_CAPACITY = 30.0
BUCKET_REFILL_PER_SECOND = 10.0

Ack = dict[str, Any]


def ok() -> Ack:
    return {"success": True}


def failed(code: str, detail: str) -> Ack:
    return {"success": False, "error": {"code": code, "detail": detail}}


@dataclass
class Bucket:
    tokens: float = BUCKET_CAPACITY
    updated: float = field(default_factory=time.monotonic)

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(
            BUCKET_CAPACITY, self.tokens + (now - self.updated) * BUCKET_REFILL_PER_SECOND
        )
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


def chat_id_of(data: Any) -> ObjectId:
    """The chat id from `"<id>"` or `{"chatId": "<id>"}`; 400-style error otherwise."""
    if isinstance(data, dict):
        if set(data) != {"chatId"}:
            raise ValidationFailed("payload must be a chat id or exactly {chatId}")
        data = data["chatId"]
    if not isinstance(data, str):
        raise ValidationFailed("payload must be a chat id or {chatId}")
    return parse_id(data, "chatId")


class ChatSockets:
    def __init__(self, sio: socketio.AsyncServer, services: Services) -> None:
        self.sio = sio
        self.services = services
        self.buckets: dict[str, Bucket] = {}
        self.last_typing: dict[tuple[str, str], float] = {}
        sio.on("connect", self.connect)
        sio.on("disconnect", self.disconnect)
        sio.on("join-chat-room", self.guarded(self.join))
        sio.on("leave-chat-room", self.guarded(self.leave))
        sio.on("typing-start", self.guarded(self.typing_start))
        sio.on("typing-stop", self.guarded(self.typing_stop))
        sio.on("*", self.unknown)

    async def connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        if not isinstance(token, str) or not token:
            detail = "connect with auth {token}"
            raise socketio.exceptions.ConnectionRefusedError(
                detail, {"code": "UNAUTHORIZED", "detail": detail}
            )
        try:
            user_id = subject_of(self.services.settings, token)
            user = await self.services.run(active_user, self.services.store, user_id)
        except ApiError as exc:
            raise socketio.exceptions.ConnectionRefusedError(
                str(exc.detail), {"code": exc.code, "detail": str(exc.detail)}
            ) from None
        await self.sio.save_session(sid, {"userId": str(user["_id"])})
        await self.sio.enter_room(sid, user_room(user["_id"]))
        await self.services.presence.add(str(user["_id"]), sid)
        self.buckets[sid] = Bucket()
        log.info("socket connected sid=%s user=%s", sid, user["_id"])

    async def disconnect(self, sid: str, reason: Any = None) -> None:
        self.buckets.pop(sid, None)
        user_id = await self.user_of(sid)
        if user_id:
            await self.services.presence.remove(user_id, sid)
        log.info("socket disconnected sid=%s user=%s reason=%s", sid, user_id, reason)

    async def unknown(self, event: str, sid: str, data: Any = None) -> Ack:
        return failed("UNKNOWN_EVENT", f"{str(event)[:64]!r} is not an event this server accepts")

    async def user_of(self, sid: str) -> str | None:
        try:
            session = await self.sio.get_session(sid)
        except KeyError:
            return None
        user_id: str | None = session.get("userId")
        return user_id

    def guarded(self, handler: Any) -> Any:
        async def run(sid: str, data: Any = None) -> Ack:
            try:
                bucket = self.buckets.get(sid)
                if bucket is not None and not bucket.take():
                    raise RateLimited("too many events; slow down")
                if len(json.dumps(data, default=str)) > MAX_PAYLOAD_BYTES:
                    raise ValidationFailed(
                        f"payload is larger than {MAX_PAYLOAD_BYTES} bytes",
                        code="PAYLOAD_TOO_LARGE",
                    )
                user_id = await self.user_of(sid)
                if user_id is None:
                    raise ApiError("not authenticated", code="UNAUTHORIZED")
                result: Ack = await handler(sid, user_id, data)
                return result
            except ApiError as exc:
                return failed(exc.code, str(exc.detail))
            except (TypeError, ValueError, RecursionError):
                return failed("VALIDATION_FAILED", "payload is not valid")
            except Exception:
                log.exception("socket handler failed")
                return failed("INTERNAL_ERROR", "the event could not be handled")

        return run

    async def require_participant(self, user_id: str, chat_id: ObjectId) -> None:
        chat = await self.services.run(
            self.services.store.chats.find_one, {"_id": chat_id}, {"participants": True}
        )
        if chat is None:
            raise NotFound("chat not found")
        if ObjectId(user_id) not in chat["participants"]:
            raise Forbidden("you are not a participant of this chat", code="NOT_PARTICIPANT")

    async def join(self, sid: str, user_id: str, data: Any) -> Ack:
        chat_id = chat_id_of(data)
        await self.require_participant(user_id, chat_id)
        await self.sio.enter_room(sid, chat_room(chat_id))
        return ok()

    async def leave(self, sid: str, user_id: str, data: Any) -> Ack:
        chat_id = chat_id_of(data)
        await self.sio.leave_room(sid, chat_room(chat_id))
        return ok()

    async def typing_start(self, sid: str, user_id: str, data: Any) -> Ack:
        return await self.typing(sid, user_id, data, is_typing=True)

    async def typing_stop(self, sid: str, user_id: str, data: Any) -> Ack:
        return await self.typing(sid, user_id, data, is_typing=False)

    async def typing(self, sid: str, user_id: str, data: Any, is_typing: bool) -> Ack:
        if not isinstance(data, dict):
            raise ValidationFailed("payload must be {chatId}")
        chat_id = chat_id_of(data)
        await self.require_participant(user_id, chat_id)
        settings = self.services.settings
        key = (user_id, str(chat_id))
        now = self.services.clock.now().timestamp() * 1000
        if is_typing:
            if now - self.last_typing.get(key, float("-inf")) < settings.typing_throttle_ms:
                return ok()
            self.last_typing[key] = now
        else:
            self.last_typing.pop(key, None)
        payload = {
            "chatId": str(chat_id),
            "userId": user_id,
            "isTyping": is_typing,
            "expiresInMs": settings.typing_expires_ms,
        }
        typist_sids = await self.services.presence.sids(user_id)
        skip = typist_sids or [sid]
        await self.services.effects.emit(Emit(chat_room(chat_id), "user-typing", payload, skip))
        return ok()
