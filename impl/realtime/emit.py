"""The only place that emits Socket.IO events: runs the effects a stored write queued.

`EffectRunner` holds the Socket.IO server; every server-to-client event of asyncapi.yaml
leaves through `emit`, in the order the domain queued it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import socketio

from impl.domain.effects import DisconnectUser, Effect, Emit, LeaveRoom, NotifyOffline, user_room
from impl.realtime.presence import Presence

log = logging.getLogger("impl.realtime.emit")

Notifier = Callable[[NotifyOffline, set[str]], Awaitable[None]]

# Tests register a listener to check every emitted payload against asyncapi.yaml.
EmitListener = Callable[[str, dict[str, Any]], None]
emit_listeners: list[EmitListener] = []


class EffectRunner:
    def __init__(self, sio: socketio.AsyncServer, presence: Presence) -> None:
        self.sio = sio
        self.presence = presence
        self.notifier: Notifier | None = None

    async def emit(self, effect: Emit) -> None:
        for listener in emit_listeners:
            listener(effect.event, effect.payload)
        await self.sio.emit(
            effect.event, effect.payload, room=effect.room, skip_sid=effect.skip_sid
        )

    async def run(self, effects: Iterable[Effect]) -> None:
        for effect in effects:
            try:
                await self._run_one(effect)
            except Exception:
                # The write is stored; a failed fan-out must not turn it into an error.
                # Clients catch up through GET /api/chat/{id}/events.
                log.exception("side effect %s failed", type(effect).__name__)

    async def _run_one(self, effect: Effect) -> None:
        if isinstance(effect, Emit):
            await self.emit(effect)
        elif isinstance(effect, LeaveRoom):
            for sid in await self.sockets_of(effect.user_id):
                await self.sio.leave_room(sid, effect.room)
        elif isinstance(effect, DisconnectUser):
            for sid in await self.sockets_of(effect.user_id):
                await self.sio.disconnect(sid)
        elif self.notifier is not None:
            online = await self.presence.online(effect.user_ids)
            await self.notifier(effect, online)

    async def sockets_of(self, user_id: str) -> list[str]:
        """The user's sockets: every process's, as presence knows them, plus this process's
        own (its `user-<id>` room), which count even when presence cannot be reached."""
        here = {sid for sid, _ in self.sio.manager.get_participants("/", user_room(user_id))}
        return sorted(here.union(await self.presence.sids(user_id)))
