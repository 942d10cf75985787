"""What the server does when it starts and stops, beyond serving requests.

Start: with MongoDB, the indexes every query needs are created in the background,
retried while the store is unreachable (the server serves meanwhile); an error waiting
will not cure (credentials, options) becomes `fatal_error`, on which the server stops.
The embedded store got its indexes when it was built. Stop: Socket.IO connections are
closed, then the Redis connections and the store's client.
"""

from __future__ import annotations

import asyncio
import logging

import socketio

from impl.domain.services import Services
from impl.realtime.redis_guard import GuardedRedisManager
from impl.store import database as storedb

log = logging.getLogger("impl.lifecycle")


class Lifecycle:
    def __init__(self, services: Services, sio: socketio.AsyncServer) -> None:
        self.services = services
        self.sio = sio
        self.index_task: asyncio.Task[None] | None = None
        self.fatal_error: str | None = None

    async def startup(self) -> None:
        if not self.services.settings.embedded:
            self.index_task = asyncio.create_task(self.prepare_store())

    async def shutdown(self) -> None:
        if self.index_task is not None:
            self.index_task.cancel()
        try:
            # python-engineio's monitor task runs once per server object; a second stop of
            # the same app (tests serve one app more than once) has nothing to stop
            if self.sio.eio.service_task_handle is not None:
                await self.sio.shutdown()
        finally:
            if isinstance(self.sio.manager, GuardedRedisManager):
                await self.sio.manager.aclose()
            await self.services.presence.close()
            self.services.store.close()

    async def prepare_store(self) -> None:
        services = self.services
        try:
            await storedb.ensure_indexes_retrying(
                services.store.db, services.settings, services.run
            )
        except storedb.StoreRefused as refused:
            log.error("%s", refused)
            self.fatal_error = str(refused)
