"""Bare python-socketio reference for the fan-out measurement.

Clients connect with ``auth: {token}`` (any non-empty token is accepted) and join with
``emit('join-chat-room', chatId, ack)``, exactly as against the Chat API. A REST call
``POST /api/chat/{chatId}/messages`` builds a message shaped like the Chat API's and emits
``new-message {chatId, message, seq}`` to room ``chat-<chatId>``: no store, no auth, no
validation, so the difference to the Chat API is everything the real server does per send.
Served by the runner as ``uvicorn benchmarks.ref_socketio:app``.
"""

from __future__ import annotations

import itertools
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import socketio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=[])
_seq = itertools.count(1)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _object_id() -> str:
    return os.urandom(12).hex()


def build_message(chat_id: str, content: str, sender_id: str) -> dict[str, Any]:
    """A message document with the fields the Chat API's messages carry."""
    now = datetime.now(UTC)
    return {
        "_id": _object_id(),
        "chatId": chat_id,
        "senderId": sender_id,
        "content": content,
        "type": "text",
        "attachments": [],
        "readBy": [{"userId": sender_id, "readAt": _iso(now)}],
        "createdAt": _iso(now),
        "editableUntil": _iso(now + timedelta(seconds=900)),
    }


async def connect(sid: str, environ: dict[str, Any], auth: Any) -> bool:
    """Refuse a handshake without a token, accept any other."""
    return isinstance(auth, dict) and bool(auth.get("token"))


async def join_chat_room(sid: str, payload: Any) -> dict[str, Any]:
    """Join ``chat-<chatId>``; the payload is the chat id or ``{chatId}``."""
    chat_id = payload.get("chatId") if isinstance(payload, dict) else payload
    if not isinstance(chat_id, str) or not chat_id:
        return {"success": False, "error": {"code": "VALIDATION_FAILED", "detail": "chatId"}}
    await sio.enter_room(sid, f"chat-{chat_id}")
    return {"success": True}


sio.on("connect", connect)
sio.on("join-chat-room", join_chat_room)


async def send_message(request: Request) -> JSONResponse:
    """Emit ``new-message`` to the room and answer 201 with the message."""
    chat_id = request.path_params["chat_id"]
    body = await request.json()
    message = build_message(chat_id, str(body.get("content", "")), "0" * 24)
    await sio.emit(
        "new-message",
        {"chatId": chat_id, "message": message, "seq": next(_seq)},
        room=f"chat-{chat_id}",
    )
    return JSONResponse({"success": True, "data": {"message": message}}, status_code=201)


async def health(request: Request) -> JSONResponse:
    """Readiness probe used by the runner."""
    return JSONResponse({"ok": True})


rest = Starlette(
    routes=[
        Route("/api/chat/{chat_id}/messages", send_message, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
    ]
)
app = socketio.ASGIApp(sio, other_asgi_app=rest)
