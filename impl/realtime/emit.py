"""The only place that emits Socket.IO events: runs the effects a stored write queued.

`EffectRunner` holds the Socket.IO server; every server-to-client event of asyncapi.yaml
leaves through `emit`, in the order the domain queued it. What it needs is handed to its
constructor by the composition root: the notifier that writes offline notifications, the
listeners that see every emitted event (tests check each payload against asyncapi.yaml),
and, with dev endpoints on, the observer that journals which sockets each event reached.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, assert_never

import socketio

from impl.domain import notifications
from impl.domain.effects import DisconnectUser, Effect, Emit, LeaveRoom, NotifyOffline, user_room
from impl.domain.services import Presence, Services
from impl.realtime.observer import SocketObserver

log = logging.getLogger("impl.realtime.emit")

# Writes the notifications of a `NotifyOffline` in the world whose write asked for them,
# given who of its users is online.
Notifier = Callable[[Services, NotifyOffline, set[str]], Awaitable[None]]
# Sees each event (name, payload) just before it is emitted.
EmitListener = Callable[[str, dict[str, Any]], None]


class EffectRunner:
    def __init__(
        self,
        sio: socketio.AsyncServer,
        presence: Presence,
        notifier: Notifier,
        listeners: Sequence[EmitListener] = (),
        observer: SocketObserver | None = None,
    ) -> None:
        self.sio = sio
        self.presence = presence
        self.notifier = notifier
        self.listeners = tuple(listeners)
        self.observer = observer

    async def emit(self, effect: Emit) -> None:
        for listener in self.listeners:
            listener(effect.event, effect.payload)
        if self.observer is not None:
            self.observer.delivered(
                effect.event, effect.room, effect.payload, self.recipients(effect)
            )
        await self.sio.emit(
            effect.event, effect.payload, room=effect.room, skip_sid=effect.skip_sid
        )

    def recipients(self, effect: Emit) -> list[str]:
        """This process's sockets in the effect's room that it does not skip."""
        skip = effect.skip_sid
        skipped = {skip} if isinstance(skip, str) else set(skip or ())
        room = self.sio.manager.get_participants("/", effect.room)
        return [sid for sid, _ in room if sid not in skipped]

    async def run(self, effects: Iterable[Effect], services: Services) -> None:
        """Perform `effects`, queued by a write stored in `services`' world."""
        for effect in effects:
            try:
                await self._run_one(effect, services)
            except Exception:
                # The write is stored; a failed fan-out must not turn it into an error.
                # Clients catch up through GET /api/chat/{id}/events.
                log.exception("side effect %s failed", type(effect).__name__)

    async def _run_one(self, effect: Effect, services: Services) -> None:
        if isinstance(effect, Emit):
            await self.emit(effect)
        elif isinstance(effect, LeaveRoom):
            for sid in await self.sockets_of(effect.user_id):
                await self.sio.leave_room(sid, effect.room)
        elif isinstance(effect, DisconnectUser):
            for sid in await self.sockets_of(effect.user_id):
                await self.sio.disconnect(sid)
        elif isinstance(effect, NotifyOffline):
            online = await self.presence.online(effect.user_ids)
            await self.notifier(services, effect, online)
        else:
            assert_never(effect)

    async def sockets_of(self, user_id: str) -> list[str]:
        """The user's sockets: every process's, as presence knows them, plus this process's
        own (its `user-<id>` room), which count even when presence cannot be reached."""
        here = {sid for sid, _ in self.sio.manager.get_participants("/", user_room(user_id))}
        return sorted(here.union(await self.presence.sids(user_id)))


async def notify_offline(services: Services, effect: NotifyOffline, online: set[str]) -> None:
    """The notifier `create_app` hands every runner: writes the notifications of a message
    for its users who are not `online`, as store work of the world that sent it."""
    await services.run(notifications.create_for_offline, services, effect, online)
